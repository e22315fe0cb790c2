// The public header compiles as C++ and links with C linkage.
#include <switchboard.h>

int main()
{
    sb_options o = sb_options();
    o.url = "http://127.0.0.1:1";
    o.jitter = SB_JITTER_NONE;
    sb_client *c = nullptr;
    int rc = sb_client_new(&o, &c);
    sb_client_free(c);
    return rc == 0 ? 0 : 1;
}
