/* The public header compiles alone as strict C99/C11 and its declarations are usable. */
#include <switchboard.h>

int main(void)
{
    struct sb_options o = {0};
    struct sb_client *c = 0;
    o.url = "http://127.0.0.1:1";
    return sb_client_new(&o, &c) == 0 ? 0 : (int)sb_errstr(SB_ERR_URL)[0];
}
