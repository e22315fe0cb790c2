/* Routes of the auth group (filled by the API issue). */
#include "api/api_int.h"

struct api_route api_routes_auth[] = {
    {.pattern = NULL},
};
