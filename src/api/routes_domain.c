/* Routes of the domain group (filled by the API issue). */
#include "api/api_int.h"

struct api_route api_routes_domain[] = {
    {.pattern = NULL},
};
