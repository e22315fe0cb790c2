/*
 * sbctl: the switchboard command-line tool. It uses only the public libswitchboard API
 * (curl's rule) plus jansson to read and print JSON.
 *
 * Commands are a table (group, verb, HTTP method, path template, how extra --options are
 * sent: as query parameters or JSON body fields, and the columns of the human table). One
 * generic runner turns a command line into a request and prints the answer as a table (or
 * key: value lines) for people and as raw JSON with --json. `login`, `logout` and `watch`
 * have runners of their own. Credentials live in ~/.config/switchboard/credentials.json
 * (mode 0600, directory 0700); tokens renewed during a command are written back.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "switchboard.h"

enum exit_code {
    EXIT_OK = 0,
    EXIT_FAIL = 1,     /* the server answered an error, or the audit chain is broken */
    EXIT_USAGE = 2,    /* bad command line */
    EXIT_AUTH = 3,     /* not logged in, bad credentials, token refused (401/403) */
    EXIT_NOTFOUND = 4, /* 404 */
    EXIT_CONFLICT = 5, /* 409: version conflict or duplicate */
    EXIT_CONNECT = 6,  /* the server cannot be reached */
};

static const char *exit_codes_help =
    "Exit status: 0 ok; 1 server error or broken audit chain; 2 usage error; 3 not logged in\n"
    "or credentials refused; 4 not found; 5 conflict; 6 server unreachable.\n";

enum send_as { AS_NONE, AS_QUERY, AS_BODY };

struct command {
    const char *group, *verb;
    const char *method;
    const char *path;    /* "%s" is replaced by the first positional argument (an id) */
    int positionals;     /* required positional arguments */
    enum send_as extra;  /* where --key value options go */
    const char *columns; /* human table columns, comma-separated; NULL: key: value lines */
    const char *usage;
};

static const struct command commands[] = {
    {"me", NULL, "GET", "/api/v1/me", 0, AS_NONE, NULL, "me"},
    {"agents", "list", "GET", "/api/v1/agents", 0, AS_QUERY,
     "id,display_name,status,reason,status_since",
     "agents list [--client-id ID] [--status online|away|busy|offline]"},
    {"agents", "get", "GET", "/api/v1/agents/%s", 1, AS_NONE, NULL, "agents get ID"},
    {"agents", "set", "PATCH", "/api/v1/agents/%s", 2, AS_BODY, NULL,
     "agents set ID STATUS [--reason TEXT] [--if-match VERSION]"},
    {"agents", "bulk", "POST", "/api/v1/agents/bulk-status", 2, AS_BODY, NULL,
     "agents bulk STATUS ID [ID...] [--reason TEXT]"},
    {"agents", "history", "GET", "/api/v1/agents/%s/history", 1, AS_QUERY,
     "status,reason,started_at,ended_at,changed_by", "agents history ID [--from T] [--to T]"},
    {"agents", "stats", "GET", "/api/v1/agents/stats", 0, AS_QUERY, NULL,
     "agents stats [--client-id ID] [--from T] [--to T]"},
    {"messages", "list", "GET", "/api/v1/messages", 0, AS_QUERY,
     "id,priority,state,title,client_id,expires_at",
     "messages list [--client-id ID] [--state S] [--priority P]"},
    {"messages", "get", "GET", "/api/v1/messages/%s", 1, AS_NONE, NULL, "messages get ID"},
    {"messages", "create", "POST", "/api/v1/messages", 0, AS_BODY, NULL,
     "messages create --title T --body B [--priority low|normal|high|critical] [--client-id ID]"
     " [--starts-at T] [--expires-at T]"},
    {"messages", "update", "PATCH", "/api/v1/messages/%s", 1, AS_BODY, NULL,
     "messages update ID [--title T] [--body B] [--priority P] [--expires-at T] "
     "[--if-match VERSION]"},
    {"messages", "delete", "DELETE", "/api/v1/messages/%s", 1, AS_NONE, NULL, "messages delete ID"},
    {"messages", "stats", "GET", "/api/v1/messages/stats", 0, AS_QUERY, NULL, "messages stats"},
    {"clients", "list", "GET", "/api/v1/clients", 0, AS_QUERY, "id,slug,name,status,version",
     "clients list [--status S] [--q TEXT] [--sort F] [--limit N] [--cursor C]"},
    {"clients", "get", "GET", "/api/v1/clients/%s", 1, AS_NONE, NULL, "clients get ID"},
    {"clients", "create", "POST", "/api/v1/clients", 0, AS_BODY, NULL,
     "clients create --name N --slug S [--settings JSON]"},
    {"clients", "update", "PATCH", "/api/v1/clients/%s", 1, AS_BODY, NULL,
     "clients update ID [--name N] [--status active|suspended] [--settings JSON] "
     "[--if-match VERSION]"},
    {"clients", "delete", "DELETE", "/api/v1/clients/%s", 1, AS_QUERY, NULL,
     "clients delete ID --confirm SLUG_OR_NAME"},
    {"clients", "impact", "GET", "/api/v1/clients/%s/impact", 1, AS_NONE, NULL,
     "clients impact ID"},
    {"users", "list", "GET", "/api/v1/users", 0, AS_QUERY, "id,email,name,role,status,client_id",
     "users list [--client-id ID] [--role R] [--status S] [--q TEXT] [--limit N] [--cursor C]"},
    {"users", "get", "GET", "/api/v1/users/%s", 1, AS_NONE, NULL, "users get ID"},
    {"users", "create", "POST", "/api/v1/users", 0, AS_BODY, NULL,
     "users create --email E --name N --role R --password P [--client-id ID]"},
    {"users", "update", "PATCH", "/api/v1/users/%s", 1, AS_BODY, NULL,
     "users update ID [--name N] [--role R] [--status active|disabled] [--password P] "
     "[--if-match VERSION]"},
    {"users", "delete", "DELETE", "/api/v1/users/%s", 1, AS_NONE, NULL, "users delete ID"},
    {"audit", "list", "GET", "/api/v1/audit", 0, AS_QUERY,
     "seq,at,actor_email,action,entity_type,entity_id",
     "audit list [--entity-type T] [--entity-id ID] [--actor-id ID] [--from T] [--to T] "
     "[--limit N] [--cursor C]"},
    {"audit", "verify", "GET", "/api/v1/audit/verify", 0, AS_NONE, NULL, "audit verify"},
    {"dashboard", NULL, "GET", "/api/v1/dashboard", 0, AS_NONE, NULL, "dashboard"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

struct opts {
    const char *url;
    bool json;
    bool insecure;
    bool help;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

/* ---- credentials file ---- */

static int config_path(char *out, size_t len, bool dir_only)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && *xdg) {
        n = snprintf(out, len, "%s/switchboard%s", xdg, dir_only ? "" : "/credentials.json");
    } else if (home && *home) {
        n = snprintf(out, len, "%s/.config/switchboard%s", home,
                     dir_only ? "" : "/credentials.json");
    } else {
        return -1;
    }
    return n > 0 && (size_t)n < len ? 0 : -1;
}

static json_t *load_credentials(void)
{
    char path[4096];
    if (config_path(path, sizeof(path), false) < 0) {
        return NULL;
    }
    return json_load_file(path, 0, NULL);
}

static int save_credentials(const char *url, const char *access, const char *refresh)
{
    char dir[4096], path[4096], tmp[4200];
    if (config_path(dir, sizeof(dir), true) < 0 || config_path(path, sizeof(path), false) < 0) {
        fprintf(stderr, "sbctl: cannot find the configuration directory (HOME is not set)\n");
        return -1;
    }
    char parent[4096];
    snprintf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        mkdir(parent, 0700); /* ~/.config; may exist */
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "sbctl: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    json_t *j = json_pack("{s:s,s:s,s:s?}", "url", url, "access_token", access, "refresh_token",
                          refresh && *refresh ? refresh : NULL);
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = text ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    int rc = -1;
    if (fd >= 0) {
        fchmod(fd, 0600);
        size_t len = strlen(text);
        if (write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0) {
            rc = rename(tmp, path);
        }
        close(fd);
    }
    if (rc < 0) {
        fprintf(stderr, "sbctl: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
    }
    free(text);
    return rc;
}

/* ---- client setup ---- */

struct session {
    struct sb_client *client;
    char url[1024];
    char token0[4096]; /* the token we started with, to notice renewals */
};

static int exit_for_error(int rc)
{
    switch (rc) {
    case SB_ERR_AUTH:
        return EXIT_AUTH;
    case SB_ERR_RESOLVE:
    case SB_ERR_CONNECT:
    case SB_ERR_TIMEOUT:
    case SB_ERR_TLS:
        return EXIT_CONNECT;
    case SB_ERR_URL:
    case SB_ERR_INVAL:
        return EXIT_USAGE;
    default:
        return EXIT_FAIL;
    }
}

static int session_open(struct session *s, const struct opts *o, bool need_token,
                        sb_state_cb on_state, void *user)
{
    json_t *cred = load_credentials();
    const char *url = o->url ? o->url : getenv("SWITCHBOARD_URL");
    const char *stored_url = json_string_value(json_object_get(cred, "url"));
    if (!url) {
        url = stored_url ? stored_url : "http://127.0.0.1:8080";
    }
    snprintf(s->url, sizeof(s->url), "%s", url);
    const char *token = getenv("SWITCHBOARD_TOKEN");
    const char *refresh = NULL;
    if (!token && cred && (!stored_url || strcmp(stored_url, url) == 0)) {
        token = json_string_value(json_object_get(cred, "access_token"));
        refresh = json_string_value(json_object_get(cred, "refresh_token"));
    }
    if (need_token && !token) {
        fprintf(stderr, "sbctl: not logged in to %s; run `sbctl login` first\n", url);
        json_decref(cred);
        return EXIT_AUTH;
    }
    struct sb_options so;
    memset(&so, 0, sizeof(so));
    so.url = url;
    so.token = token;
    so.refresh_token = refresh;
    so.tls_no_verify = o->insecure;
    so.on_state = on_state;
    so.user = user;
    so.reconnect_min_ms = 500;
    so.reconnect_max_ms = 10000;
    snprintf(s->token0, sizeof(s->token0), "%s", token ? token : "");
    int rc = sb_client_new(&so, &s->client);
    json_decref(cred);
    if (rc < 0) {
        fprintf(stderr, "sbctl: %s: %s\n", url, sb_errstr(rc));
        return exit_for_error(rc);
    }
    return EXIT_OK;
}

/* Write back tokens renewed during the command, then free the client. */
static void session_close(struct session *s)
{
    char token[4096], refresh[4096];
    if (s->client && sb_client_token(s->client, token, sizeof(token)) > 0 &&
        strcmp(token, s->token0) != 0 && !getenv("SWITCHBOARD_TOKEN")) {
        int rl = sb_client_refresh_token(s->client, refresh, sizeof(refresh));
        save_credentials(s->url, token, rl > 0 ? refresh : NULL);
    }
    sb_client_free(s->client);
    s->client = NULL;
}

/* ---- output ---- */

static void cell_text(json_t *v, char *out, size_t len)
{
    if (!v || json_is_null(v)) {
        snprintf(out, len, "-");
    } else if (json_is_string(v)) {
        snprintf(out, len, "%s", json_string_value(v));
    } else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(out, len, "%s", t ? t : "?");
        free(t);
    }
    for (char *p = out; *p; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r') {
            *p = ' ';
        }
    }
}

#define MAX_COLS 12
#define CELL_MAX 48

static void print_table(json_t *rows, const char *columns)
{
    char cols[MAX_COLS][64];
    int ncols = 0;
    const char *p = columns;
    while (*p && ncols < MAX_COLS) {
        size_t n = strcspn(p, ",");
        snprintf(cols[ncols++], sizeof(cols[0]), "%.*s", (int)n, p);
        p += n + (p[n] == ',');
    }
    size_t width[MAX_COLS];
    for (int i = 0; i < ncols; i++) {
        width[i] = strlen(cols[i]);
    }
    size_t idx;
    json_t *row;
    char cell[CELL_MAX + 1];
    json_array_foreach(rows, idx, row)
    {
        for (int i = 0; i < ncols; i++) {
            cell_text(json_object_get(row, cols[i]), cell, sizeof(cell));
            size_t l = strlen(cell);
            width[i] = l > width[i] ? l : width[i];
        }
    }
    for (int i = 0; i < ncols; i++) {
        char up[64];
        size_t j = 0;
        for (; cols[i][j] && j < sizeof(up) - 1; j++) {
            up[j] = (char)(cols[i][j] >= 'a' && cols[i][j] <= 'z' ? cols[i][j] - 32 : cols[i][j]);
        }
        up[j] = '\0';
        printf("%-*s%s", i + 1 < ncols ? (int)width[i] : 0, up, i + 1 < ncols ? "  " : "\n");
    }
    json_array_foreach(rows, idx, row)
    {
        for (int i = 0; i < ncols; i++) {
            cell_text(json_object_get(row, cols[i]), cell, sizeof(cell));
            printf("%-*s%s", i + 1 < ncols ? (int)width[i] : 0, cell, i + 1 < ncols ? "  " : "\n");
        }
    }
}

static void print_kv(json_t *obj, int indent)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (json_is_object(v) && json_object_size(v) > 0) {
            printf("%*s%s:\n", indent, "", key);
            print_kv(v, indent + 2);
        } else {
            char cell[1024];
            cell_text(v, cell, sizeof(cell));
            printf("%*s%s: %s\n", indent, "", key, cell);
        }
    }
}

static int report_http_error(const struct sb_response *r)
{
    fprintf(stderr, "sbctl: HTTP %d %s%s%s\n", r->status, r->error_code,
            r->error_message[0] ? ": " : "", r->error_message);
    /* A validation error names its fields: "  field: issue", one a line. */
    json_t *j = r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
    json_t *details = json_object_get(json_object_get(j, "error"), "details");
    size_t k;
    json_t *d;
    json_array_foreach(details, k, d)
    {
        const char *field = json_string_value(json_object_get(d, "field"));
        const char *issue = json_string_value(json_object_get(d, "issue"));
        fprintf(stderr, "  %s: %s\n", field ? field : "?", issue ? issue : "invalid");
    }
    json_decref(j);
    if (r->status == 401 || r->status == 403) {
        if (r->status == 401) {
            fprintf(stderr, "sbctl: log in again with `sbctl login`\n");
        }
        return EXIT_AUTH;
    }
    if (r->status == 404) {
        return EXIT_NOTFOUND;
    }
    if (r->status == 409) {
        return EXIT_CONFLICT;
    }
    return EXIT_FAIL;
}

/* ---- generic command runner ---- */

static void usage_for(const struct command *c)
{
    fprintf(stderr, "usage: sbctl [--url URL] [--json] %s\n", c->usage);
}

/* Percent-encode s for a query string. */
static void url_encode(const char *s, char *out, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s && o + 4 < len; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == ':') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
}

static json_t *value_json(const char *v)
{
    if (v[0] == '{' || v[0] == '[') {
        json_t *j = json_loads(v, 0, NULL);
        if (j) {
            return j;
        }
    }
    return json_string(v);
}

static int run_command(const struct command *cmd, const struct opts *o, int argc, char **argv)
{
    const char *pos[64];
    int npos = 0;
    json_t *body = json_object();
    char query[4096] = "";
    long long if_match = 0;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0 && argv[i][2]) {
            if (i + 1 >= argc) {
                fprintf(stderr, "sbctl: option %s needs a value\n", argv[i]);
                json_decref(body);
                return EXIT_USAGE;
            }
            char key[128];
            snprintf(key, sizeof(key), "%s", argv[i] + 2);
            for (char *k = key; *k; k++) {
                *k = *k == '-' ? '_' : *k;
            }
            const char *val = argv[++i];
            if (strcmp(key, "if_match") == 0) {
                if_match = strtoll(val, NULL, 10);
                continue;
            }
            if (cmd->extra == AS_QUERY) {
                char enc[1024];
                url_encode(val, enc, sizeof(enc));
                size_t ql = strlen(query);
                snprintf(query + ql, sizeof(query) - ql, "%c%s=%s", ql ? '&' : '?', key, enc);
            } else if (cmd->extra == AS_BODY) {
                json_object_set_new(body, key, value_json(val));
            } else {
                fprintf(stderr, "sbctl: unknown option --%s\n", argv[i - 1] + 2);
                usage_for(cmd);
                json_decref(body);
                return EXIT_USAGE;
            }
        } else if (npos < 64) {
            pos[npos++] = argv[i];
        }
    }
    bool bulk = cmd->verb && strcmp(cmd->verb, "bulk") == 0;
    bool set = cmd->verb && strcmp(cmd->group, "agents") == 0 && strcmp(cmd->verb, "set") == 0;
    if (npos < cmd->positionals || (!bulk && npos > cmd->positionals)) {
        usage_for(cmd);
        json_decref(body);
        return EXIT_USAGE;
    }
    if (bulk) {
        json_t *ids = json_array();
        for (int i = 1; i < npos; i++) {
            json_array_append_new(ids, json_string(pos[i]));
        }
        json_object_set_new(body, "status", json_string(pos[0]));
        json_object_set_new(body, "ids", ids);
    } else if (set) {
        json_object_set_new(body, "status", json_string(pos[1]));
    }
    char path[8192], id[1024];
    if (cmd->positionals > 0 && !bulk) {
        url_encode(pos[0], id, sizeof(id));
        const char *hole = strstr(cmd->path, "%s");
        snprintf(path, sizeof(path), "%.*s%s%s", (int)(hole - cmd->path), cmd->path, id, hole + 2);
    } else {
        snprintf(path, sizeof(path), "%s", cmd->path);
    }
    size_t pl = strlen(path);
    snprintf(path + pl, sizeof(path) - pl, "%s", query);
    char *btext = cmd->extra == AS_BODY ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);

    struct session s;
    int ec = session_open(&s, o, true, NULL, NULL);
    if (ec != EXIT_OK) {
        free(btext);
        return ec;
    }
    struct sb_response r;
    int rc = sb_request_ex(s.client, cmd->method, path, btext, if_match, &r);
    free(btext);
    if (rc < 0) {
        char err[256];
        sb_client_last_error(s.client, err, sizeof(err));
        fprintf(stderr, "sbctl: %s: %s\n", s.url, err[0] ? err : sb_errstr(rc));
        session_close(&s);
        return exit_for_error(rc);
    }
    session_close(&s);
    if (r.status >= 400) {
        if (o->json && r.body_len) {
            printf("%s\n", r.body);
        }
        ec = report_http_error(&r);
        sb_response_release(&r);
        return ec;
    }
    json_t *j = r.body_len ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
    if (o->json) {
        if (r.body_len) {
            printf("%s\n", r.body);
        }
    } else if (!j) {
        printf("ok (HTTP %d)\n", r.status);
    } else if (json_is_array(json_object_get(j, "data")) && cmd->columns) {
        print_table(json_object_get(j, "data"), cmd->columns);
        const char *next = json_string_value(json_object_get(j, "next_cursor"));
        if (next && *next) {
            fprintf(stderr, "(more: --cursor %s)\n", next);
        }
    } else if (json_is_object(json_object_get(j, "data"))) {
        print_kv(json_object_get(j, "data"), 0);
    } else {
        print_kv(j, 0);
    }
    ec = EXIT_OK;
    if (strcmp(cmd->group, "audit") == 0 && cmd->verb && strcmp(cmd->verb, "verify") == 0 &&
        !json_is_true(json_object_get(j, "ok"))) {
        fprintf(stderr, "sbctl: the audit chain is broken\n");
        ec = EXIT_FAIL;
    }
    json_decref(j);
    sb_response_release(&r);
    return ec;
}

/* ---- login / logout ---- */

static int read_password_file(const char *path, char *out, size_t len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f || !fgets(out, (int)len, f)) {
        fprintf(stderr, "sbctl: cannot read the password from %s\n", path);
        if (f && f != stdin) {
            fclose(f);
        }
        return -1;
    }
    out[strcspn(out, "\r\n")] = '\0';
    if (f != stdin) {
        fclose(f);
    }
    return 0;
}

static int cmd_login(const struct opts *o, int argc, char **argv)
{
    const char *email = getenv("SWITCHBOARD_EMAIL");
    char password[1024] = "";
    const char *pw_env = getenv("SWITCHBOARD_PASSWORD");
    if (pw_env) {
        snprintf(password, sizeof(password), "%s", pw_env);
    }
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--email") == 0 && i + 1 < argc) {
            email = argv[++i];
        } else if (strcmp(argv[i], "--password-file") == 0 && i + 1 < argc) {
            if (read_password_file(argv[++i], password, sizeof(password)) < 0) {
                return EXIT_USAGE;
            }
        } else if (strcmp(argv[i], "--password") == 0 && i + 1 < argc) {
            snprintf(password, sizeof(password), "%s", argv[++i]);
        } else {
            fprintf(stderr, "usage: sbctl login --email E [--password-file F|-]\n");
            return EXIT_USAGE;
        }
    }
    if (!email || !password[0]) {
        fprintf(stderr, "usage: sbctl login --email E [--password-file F|-]  (or "
                        "SWITCHBOARD_EMAIL / SWITCHBOARD_PASSWORD)\n");
        return EXIT_USAGE;
    }
    struct session s;
    int ec = session_open(&s, o, false, NULL, NULL);
    if (ec != EXIT_OK) {
        return ec;
    }
    int rc = sb_login(s.client, email, password);
    memset(password, 0, sizeof(password));
    if (rc < 0) {
        char err[256];
        sb_client_last_error(s.client, err, sizeof(err));
        fprintf(stderr, "sbctl: login to %s failed: %s\n", s.url,
                rc == SB_ERR_AUTH ? "invalid email or password" : err);
        sb_client_free(s.client);
        return exit_for_error(rc);
    }
    char token[4096], refresh[4096];
    sb_client_token(s.client, token, sizeof(token));
    int rl = sb_client_refresh_token(s.client, refresh, sizeof(refresh));
    ec = save_credentials(s.url, token, rl > 0 ? refresh : NULL) == 0 ? EXIT_OK : EXIT_FAIL;
    if (ec == EXIT_OK && !o->json) {
        printf("logged in to %s as %s\n", s.url, email);
    } else if (ec == EXIT_OK) {
        printf("{\"ok\":true,\"url\":\"%s\"}\n", s.url);
    }
    sb_client_free(s.client);
    return ec;
}

static int cmd_logout(const struct opts *o)
{
    struct session s;
    int ec = session_open(&s, o, false, NULL, NULL);
    if (ec != EXIT_OK) {
        return ec;
    }
    char refresh[4096];
    int rl = sb_client_refresh_token(s.client, refresh, sizeof(refresh));
    json_t *b = json_pack("{s:s?}", "refresh_token", rl > 0 ? refresh : NULL);
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    struct sb_response r;
    int rc = sb_request(s.client, "POST", "/api/v1/auth/logout", body, &r);
    free(body);
    if (rc == 0) {
        sb_response_release(&r);
    }
    sb_client_free(s.client);
    char path[4096];
    if (config_path(path, sizeof(path), false) == 0 && unlink(path) < 0 && errno != ENOENT) {
        fprintf(stderr, "sbctl: cannot remove %s: %s\n", path, strerror(errno));
        return EXIT_FAIL;
    }
    if (!o->json) {
        printf("logged out\n");
    }
    return EXIT_OK;
}

/* ---- watch ---- */

struct watch {
    bool json;
    int fatal;
    long long events;
};

static void watch_state(struct sb_client *c, const struct sb_state_info *i, void *user)
{
    (void)c;
    struct watch *w = user;
    switch (i->state) {
    case SB_STATE_CONNECTING:
        fprintf(stderr, "sbctl: connecting\n");
        break;
    case SB_STATE_CONNECTED:
        fprintf(stderr, "sbctl: connected\n");
        break;
    case SB_STATE_RECONNECTING:
        fprintf(stderr, "sbctl: reconnecting (attempt %d, in %d ms): %s\n", i->attempt, i->delay_ms,
                i->reason);
        break;
    case SB_STATE_DISCONNECTED:
        fprintf(stderr, "sbctl: disconnected%s%s\n", i->reason[0] ? ": " : "", i->reason);
        if (i->error < 0) {
            w->fatal = i->error;
        }
        break;
    }
    fflush(stderr);
}

static void watch_change(struct sb_channel *ch, const struct sb_change *e, void *user)
{
    (void)ch;
    struct watch *w = user;
    w->events++;
    if (w->json) {
        printf("%s\n", e->json);
    } else {
        char ts[32] = "";
        if (e->commit_timestamp) {
            snprintf(ts, sizeof(ts), "%s", e->commit_timestamp);
        }
        printf("%s  seq=%lld  %-6s %s %s\n", ts, e->seq, e->type ? e->type : "?",
               e->table ? e->table : "?",
               e->record       ? e->record
               : e->old_record ? e->old_record
                               : "");
    }
    fflush(stdout);
}

static void watch_resync(struct sb_channel *ch, void *user)
{
    (void)ch;
    (void)user;
    fprintf(stderr, "sbctl: events were missed while disconnected; refetch the current state\n");
    fflush(stderr);
}

static void watch_status(struct sb_channel *ch, enum sb_channel_status st, const char *msg,
                         void *user)
{
    (void)ch;
    struct watch *w = user;
    static const char *names[] = {"", "subscribed", "resumed", "error", "closed"};
    fprintf(stderr, "sbctl: channel %s%s%s\n", names[st], msg[0] ? ": " : "", msg);
    fflush(stderr);
    /* A refused join or subscription (unknown table, forbidden, bad filter) will not get
     * better: stop. A server-side channel crash ("...; rejoining") is the SDK's to retry. */
    if (st == SB_CHANNEL_ERROR && !strstr(msg, "rejoining")) {
        w->fatal = SB_ERR_HTTP;
    }
}

static const struct {
    const char *alias, *table, *list;
} tables[] = {
    {"agents", "agent_status", "/api/v1/agents"},
    {"messages", "system_messages", "/api/v1/messages"},
    {"clients", "clients", "/api/v1/clients?limit=1"},
    {"users", "users", "/api/v1/users?limit=1"},
    {"audit", "audit_logs", "/api/v1/audit?limit=1"},
};

static int cmd_watch(const struct opts *o, int argc, char **argv)
{
    const char *table = NULL, *filter = NULL, *event = NULL;
    struct watch w = {o->json, 0, 0};
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
            filter = argv[++i];
        } else if (strcmp(argv[i], "--event") == 0 && i + 1 < argc) {
            event = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            w.json = true;
        } else if (argv[i][0] != '-' && !table) {
            table = argv[i];
        } else {
            table = NULL;
            break;
        }
    }
    if (!table) {
        fprintf(stderr, "usage: sbctl watch TABLE [--filter COL=OP.VALUE] [--event E] [--json]\n");
        return EXIT_USAGE;
    }
    const char *list = NULL;
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        if (strcmp(table, tables[i].alias) == 0 || strcmp(table, tables[i].table) == 0) {
            table = tables[i].table;
            list = tables[i].list;
        }
    }
    struct session s;
    int ec = session_open(&s, o, true, watch_state, &w);
    if (ec != EXIT_OK) {
        return ec;
    }
    /* The list's seq is where the stream starts, so nothing is lost even before the first
     * event arrives (resume after a reconnect then has a position to start from). */
    long long since = 0;
    struct sb_response r;
    if (list && sb_request(s.client, "GET", list, NULL, &r) == 0) {
        json_t *j = r.status == 200 ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
        since = (long long)json_integer_value(json_object_get(j, "seq"));
        json_decref(j);
        sb_response_release(&r);
    }
    struct sb_subscribe_options so;
    memset(&so, 0, sizeof(so));
    so.event = event;
    so.filter = filter;
    so.since = since > 0 ? since : 0;
    so.on_change = watch_change;
    so.on_resync = watch_resync;
    so.on_status = watch_status;
    so.user = &w;
    struct sb_channel *ch;
    int rc = sb_subscribe_ex(s.client, table, &so, &ch);
    if (rc < 0) {
        fprintf(stderr, "sbctl: %s\n", sb_errstr(rc));
        session_close(&s);
        return EXIT_USAGE;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    sb_client_connect(s.client);
    while (!stop_signal && !w.fatal && sb_client_state(s.client) != SB_STATE_DISCONNECTED) {
        sb_client_process(s.client, 500);
    }
    ec = w.fatal == SB_ERR_HTTP ? EXIT_FAIL
         : stop_signal          ? EXIT_OK
                                : exit_for_error(w.fatal ? w.fatal : SB_ERR_CONNECT);
    session_close(&s);
    return ec;
}

/* ---- export ---- */

static const struct {
    const char *alias, *path;
} export_tables[] = {
    {"agents", "/api/v1/agents"},   {"users", "/api/v1/users"},
    {"clients", "/api/v1/clients"}, {"messages", "/api/v1/messages"},
    {"audit", "/api/v1/audit"},     {"history", "/api/v1/agents/%s/history"},
};

static int export_sink(const char *data, size_t len, void *user)
{
    FILE *f = user;
    return fwrite(data, 1, len, f) == len ? 0 : -1;
}

static int cmd_export(const struct opts *o, int argc, char **argv)
{
    const char *table = NULL, *id = NULL, *output = NULL;
    char query[4096] = "?format=csv";
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--csv") == 0) {
            continue;
        }
        if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) {
            output = argv[++i];
        } else if (strncmp(argv[i], "--", 2) == 0 && argv[i][2] && i + 1 < argc) {
            char key[128], enc[1024];
            snprintf(key, sizeof(key), "%s", argv[i] + 2);
            for (char *k = key; *k; k++) {
                *k = *k == '-' ? '_' : *k;
            }
            url_encode(argv[++i], enc, sizeof(enc));
            size_t ql = strlen(query);
            snprintf(query + ql, sizeof(query) - ql, "&%s=%s", key, enc);
        } else if (argv[i][0] != '-' && !table) {
            table = argv[i];
        } else if (argv[i][0] != '-' && table && !id) {
            id = argv[i];
        } else {
            table = NULL;
            break;
        }
    }
    const char *path = NULL;
    for (size_t i = 0; table && i < sizeof(export_tables) / sizeof(export_tables[0]); i++) {
        if (strcmp(table, export_tables[i].alias) == 0) {
            path = export_tables[i].path;
        }
    }
    bool needs_id = path && strstr(path, "%s");
    if (!path || needs_id != (id != NULL)) {
        fprintf(stderr, "usage: sbctl export agents|users|clients|messages|audit|history [ID] "
                        "[--csv] [--output FILE] [--FILTER VALUE...]\n");
        return EXIT_USAGE;
    }
    char full[8192];
    if (needs_id) {
        char enc[1024];
        url_encode(id, enc, sizeof(enc));
        const char *hole = strstr(path, "%s");
        snprintf(full, sizeof(full), "%.*s%s%s%s", (int)(hole - path), path, enc, hole + 2, query);
    } else {
        snprintf(full, sizeof(full), "%s%s", path, query);
    }
    struct session s;
    int ec = session_open(&s, o, true, NULL, NULL);
    if (ec != EXIT_OK) {
        return ec;
    }
    FILE *out = output ? fopen(output, "wb") : stdout;
    if (!out) {
        fprintf(stderr, "sbctl: %s: %s\n", output, strerror(errno));
        session_close(&s);
        return EXIT_FAIL;
    }
    struct sb_response r;
    int rc = sb_download(s.client, full, "text/csv", export_sink, out, &r);
    if (fflush(out) != 0 && rc == 0) {
        rc = SB_ERR_INVAL;
    }
    if (output) {
        fclose(out);
    }
    if (rc < 0) {
        char err[256];
        sb_client_last_error(s.client, err, sizeof(err));
        fprintf(stderr, "sbctl: %s: %s\n", s.url, err[0] ? err : sb_errstr(rc));
        session_close(&s);
        if (output) {
            remove(output); /* never leave a partial file behind */
        }
        return rc == SB_ERR_INVAL ? EXIT_FAIL : exit_for_error(rc);
    }
    session_close(&s);
    ec = r.status == 200 ? EXIT_OK : report_http_error(&r);
    if (r.status != 200 && output) {
        remove(output);
    }
    sb_response_release(&r);
    return ec;
}

/* ---- main ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: sbctl [--url URL] [--json] [--insecure] COMMAND [ARGS]\n\n"
               "Commands:\n"
               "  login --email E [--password-file F|-]   log in; token saved under "
               "~/.config/switchboard/\n"
               "  logout                                  revoke the session and forget it\n"
               "  watch TABLE [--filter F] [--event E]    live changes (agents, messages, clients,"
               " users, audit)\n"
               "  request METHOD PATH [JSON]              any API request\n"
               "  export TABLE [ID] [--csv] [--output F]  CSV of a whole list (agents, users,"
               " clients,\n"
               "                                          messages, audit, history ID); list"
               " filters as --KEY V\n");
    const char *last = "";
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(last, commands[i].group) != 0) {
            fprintf(f, "  %s\n", commands[i].usage);
        } else {
            fprintf(f, "  %s\n", commands[i].usage);
        }
        last = commands[i].group;
    }
    fprintf(f,
            "\nOptions: --url URL (default: $SWITCHBOARD_URL, the login's URL, "
            "http://127.0.0.1:8080),\n"
            "  --json (raw JSON output), --insecure (skip TLS verification), --help, "
            "--version.\n"
            "Environment: SWITCHBOARD_URL, SWITCHBOARD_TOKEN, SWITCHBOARD_EMAIL, "
            "SWITCHBOARD_PASSWORD.\n%s"
            "See sbctl(1).\n",
            exit_codes_help);
}

static void group_help(const char *group)
{
    printf("usage:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i].group, group) == 0) {
            printf("  sbctl [--url URL] [--json] %s\n", commands[i].usage);
        }
    }
    printf("%s", exit_codes_help);
}

static int cmd_request(const struct opts *o, int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: sbctl request METHOD PATH [JSON]\n");
        return EXIT_USAGE;
    }
    struct session s;
    int ec = session_open(&s, o, false, NULL, NULL);
    if (ec != EXIT_OK) {
        return ec;
    }
    struct sb_response r;
    int rc = sb_request(s.client, argv[0], argv[1], argc == 3 ? argv[2] : NULL, &r);
    if (rc < 0) {
        char err[256];
        sb_client_last_error(s.client, err, sizeof(err));
        fprintf(stderr, "sbctl: %s\n", err[0] ? err : sb_errstr(rc));
        session_close(&s);
        return exit_for_error(rc);
    }
    session_close(&s);
    printf("%s\n", r.body ? r.body : "");
    ec = r.status >= 400 ? report_http_error(&r) : EXIT_OK;
    sb_response_release(&r);
    return ec;
}

int main(int argc, char **argv)
{
    struct opts o = {NULL, false, false, false};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
            o.url = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            o.json = true;
        } else if (strcmp(argv[i], "--insecure") == 0) {
            o.insecure = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("sbctl %s (libswitchboard %s)\n", SB_VERSION, sb_version());
            return EXIT_OK;
        } else {
            fprintf(stderr, "sbctl: unknown option %s\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *group = argv[i++];
    /* Global options may also follow the command. */
    char *rest[256];
    int nrest = 0;
    bool help = false;
    for (; i < argc && nrest < 256; i++) {
        if (strcmp(argv[i], "--json") == 0 && strcmp(group, "watch") != 0) {
            o.json = true;
        } else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
            o.url = argv[++i];
        } else if (strcmp(argv[i], "--insecure") == 0) {
            o.insecure = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help = true;
        } else {
            rest[nrest++] = argv[i];
        }
    }
    if (strcmp(group, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(group, "login") == 0 || strcmp(group, "logout") == 0 ||
        strcmp(group, "watch") == 0 || strcmp(group, "request") == 0 ||
        strcmp(group, "export") == 0) {
        if (help) {
            const char *u = strcmp(group, "login") == 0    ? "login --email E [--password-file F|-]"
                            : strcmp(group, "logout") == 0 ? "logout"
                            : strcmp(group, "watch") == 0
                                ? "watch TABLE [--filter COL=OP.VALUE] [--event "
                                  "INSERT|UPDATE|DELETE] [--json]\n"
                                  "  TABLE: agents, messages, clients, users, audit (or the "
                                  "table name).\n"
                                  "  Events go to stdout, connection-state changes to stderr;"
                                  " survives server restarts."
                            : strcmp(group, "export") == 0
                                ? "export agents|users|clients|messages|audit|history [ID] "
                                  "[--csv] [--output FILE] [--FILTER VALUE...]\n"
                                  "  Streams the whole list as CSV (the list's filters, q and "
                                  "sort apply)."
                                : "request METHOD PATH [JSON]";
            printf("usage: sbctl [--url URL] [--json] %s\n%s", u, exit_codes_help);
            return EXIT_OK;
        }
        if (strcmp(group, "login") == 0) {
            return cmd_login(&o, nrest, rest);
        }
        if (strcmp(group, "logout") == 0) {
            return nrest ? EXIT_USAGE : cmd_logout(&o);
        }
        if (strcmp(group, "request") == 0) {
            return cmd_request(&o, nrest, rest);
        }
        if (strcmp(group, "export") == 0) {
            return cmd_export(&o, nrest, rest);
        }
        return cmd_watch(&o, nrest, rest);
    }
    bool known = false;
    for (size_t k = 0; k < NCOMMANDS; k++) {
        if (strcmp(commands[k].group, group) != 0) {
            continue;
        }
        known = true;
        if (!commands[k].verb) {
            if (help) {
                group_help(group);
                return EXIT_OK;
            }
            return run_command(&commands[k], &o, nrest, rest);
        }
        if (nrest > 0 && strcmp(commands[k].verb, rest[0]) == 0) {
            if (help) {
                printf("usage: sbctl [--url URL] [--json] %s\n%s", commands[k].usage,
                       exit_codes_help);
                return EXIT_OK;
            }
            return run_command(&commands[k], &o, nrest - 1, rest + 1);
        }
    }
    if (known) {
        if (help) {
            group_help(group);
            return EXIT_OK;
        }
        fprintf(stderr, "sbctl: unknown %s command%s%s\n", group, nrest ? " " : "",
                nrest ? rest[0] : "");
        group_help(group);
        return EXIT_USAGE;
    }
    fprintf(stderr, "sbctl: unknown command %s\n", group);
    usage(stderr);
    return EXIT_USAGE;
}
