/*
 * Configuration loading. One table (settings[]) describes every key; the INI reader
 * (libinih), the environment scan and the flag parser all go through set_value(), so a key
 * is validated the same way wherever it comes from. INI sections are accepted but not
 * required; keys are flat ("listen", "db", ...).
 */
#include "app/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include "auth/proxy.h"
#include "base/alloc.h"
#include "base/err.h"

enum kind { K_STR, K_INT, K_BOOL, K_MS, K_BYTES };

struct setting {
    const char *name; /* INI key; flag is --name with '_' -> '-'; env SWITCHBOARD_NAME */
    enum kind kind;
    size_t off;
    const char *def;
    const char *help;
};

#define OFF(f) offsetof(struct app_config, f)

static const struct setting settings[] = {
    {"listen", K_STR, OFF(listen), "127.0.0.1:8080", "address and port to listen on"},
    {"db", K_STR, OFF(db), "sqlite:switchboard.db",
     "database: sqlite:PATH, sqlite::memory: or postgres://..."},
    {"sqlite_sync", K_STR, OFF(sqlite_sync), "full",
     "SQLite: full (an acknowledged write survives a power loss; one fsync per commit group) "
     "or normal (it survives a crash of the process)"},
    {"workers", K_INT, OFF(workers), "0", "event-loop threads (0: one per CPU)"},
    {"demo", K_BOOL, OFF(demo), "false", "seed the demo data and print the logins"},
    {"config", K_STR, OFF(config_file), "", "INI configuration file"},
    {"tls_cert", K_STR, OFF(tls_cert), "", "TLS certificate (PEM)"},
    {"tls_key", K_STR, OFF(tls_key), "", "TLS private key (PEM)"},
    {"log_level", K_STR, OFF(log_level), "info", "debug, info, warn or error"},
    {"log_format", K_STR, OFF(log_format), "auto", "json, text or auto (text on a terminal)"},
    {"log_file", K_STR, OFF(log_file), "",
     "append the log to this file instead of stderr (SIGHUP reopens it)"},
    {"web_dir", K_STR, OFF(web_dir), "", "serve the web panel from this directory"},
    {"cors_origins", K_STR, OFF(cors_origins), "", "comma-separated origins allowed by CORS"},
    {"jwt_secret", K_STR, OFF(jwt_secret), "",
     "HS256 secret (at least 32 bytes; empty: generated and kept in the database)"},
    {"jwt_secret_file", K_STR, OFF(jwt_secret_file), "",
     "file holding the HS256 secret (instead of jwt_secret; trailing newline ignored)"},
    {"jwt_secret_previous", K_STR, OFF(jwt_secret_previous), "",
     "key rotation: tokens signed with this older secret are still accepted (not issued)"},
    {"jwt_secret_previous_file", K_STR, OFF(jwt_secret_previous_file), "",
     "file holding jwt_secret_previous"},
    {"access_ttl", K_MS, OFF(access_ttl_ms), "15m", "access token lifetime"},
    {"refresh_ttl", K_MS, OFF(refresh_ttl_ms), "30d", "refresh token lifetime"},
    {"drain_timeout", K_MS, OFF(drain_ms), "10s", "graceful shutdown: time to finish requests"},
    {"header_timeout", K_MS, OFF(header_timeout_ms), "10s", "time to receive a request head"},
    {"idle_timeout", K_MS, OFF(idle_timeout_ms), "60s", "idle keep-alive connection timeout"},
    {"ws_idle_timeout", K_MS, OFF(ws_idle_timeout_ms), "60s",
     "a WebSocket whose peer sends no frame this long is closed (1000; 0: never)"},
    {"body_timeout", K_MS, OFF(body_timeout_ms), "0",
     "request body: time between reads, and the base of its total time (408; 0: header_timeout)"},
    {"body_min_rate", K_BYTES, OFF(body_min_rate), "1KiB",
     "request body: bytes per second that add one second to its total time (0: off)"},
    {"close_timeout", K_MS, OFF(close_timeout_ms), "5s",
     "a closing connection whose peer takes none of our bytes this long is reset"},
    {"max_connections_per_ip", K_INT, OFF(max_connections_per_ip), "4096",
     "open connections from one IP address (429 beyond; 0: no limit)"},
    {"max_body", K_BYTES, OFF(max_body), "1MiB", "largest request body (413 beyond)"},
    {"max_request_line", K_BYTES, OFF(max_line), "8KiB", "longest request line (414 beyond)"},
    {"max_header_bytes", K_BYTES, OFF(max_head), "32KiB", "largest request head (431 beyond)"},
    {"max_header_fields", K_INT, OFF(max_fields), "100", "most header fields (431 beyond)"},
    {"ws_max_message", K_BYTES, OFF(ws_max_message), "1MiB", "largest WebSocket message (1009)"},
    {"ws_max_queue", K_BYTES, OFF(ws_max_queue), "1MiB",
     "outbound bytes queued per connection before a slow-consumer close (4008)"},
    {"max_channels", K_INT, OFF(max_channels), "100", "channels per realtime connection"},
    {"max_subscription_bytes", K_BYTES, OFF(max_sub_bytes), "128KiB",
     "postgres_changes specs (JSON) of all channels of one realtime connection"},
    {"max_presence_bytes", K_BYTES, OFF(max_presence_bytes), "8KiB",
     "largest presence track payload"},
    {"max_user_connections", K_INT, OFF(max_user_conns), "100",
     "realtime connections per user (429 beyond; 0: unlimited)"},
    {"changes_retention", K_MS, OFF(changes_retention_ms), "24h",
     "how long the change log keeps events for resume"},
    {"presence_grace", K_MS, OFF(presence_grace_ms), "60s",
     "an agent's last connection gone this long sets the status offline"},
    {"cluster_lease", K_MS, OFF(cluster_lease_ms), "5s",
     "with PostgreSQL: a node not heard from this long is gone (its presences leave)"},
    {"idle_away", K_MS, OFF(idle_away_ms), "0",
     "a connected agent without activity this long goes from online to away (0: never)"},
    {"message_retention", K_MS, OFF(message_retention_ms), "30d",
     "delete system messages expired longer ago than this (0: keep forever)"},
    {"history_retention", K_MS, OFF(history_retention_ms), "0",
     "delete agent status intervals that ended longer ago than this (0: keep forever)"},
    {"metrics_interval", K_MS, OFF(metrics_interval_ms), "2s", "dashboard metrics push interval"},
    {"login_attempts", K_INT, OFF(login_attempts), "10",
     "failed logins of one account from one IP per login window (429 beyond)"},
    {"login_ip_attempts", K_INT, OFF(login_ip_attempts), "100",
     "failed logins from one IP, all accounts, per login window (429 beyond)"},
    {"login_account_attempts", K_INT, OFF(login_account_attempts), "10",
     "failed logins of one account (all IPs) per window before further ones wait 1s, 2s, 4s..."},
    {"login_account_max_delay", K_MS, OFF(login_account_max_delay_ms), "60s",
     "longest wait per account (see login_account_attempts)"},
    {"login_window", K_MS, OFF(login_window_ms), "15m", "sliding window of the login limits"},
    {"trusted_proxies", K_STR, OFF(trusted_proxies), "",
     "CIDR list of proxies whose X-Forwarded-For names the client (empty: none)"},
    {"refresh_grace", K_MS, OFF(refresh_grace_ms), "5s",
     "a refresh token reused this soon after its rotation gets the same new pair (0: none)"},
    {"metrics_token", K_STR, OFF(metrics_token), "",
     "bearer token /metrics requires (16+ characters; empty: open)"},
    {"admin_email", K_STR, OFF(admin_email), "", "init: e-mail of the first super_admin"},
    {"admin_password_file", K_STR, OFF(admin_password_file), "",
     "init: file holding the password (else SWITCHBOARD_ADMIN_PASSWORD or stdin)"},
};

#define NSETTINGS (sizeof settings / sizeof settings[0])
_Static_assert(NSETTINGS <= APP_CONFIG_MAX_SETTINGS, "raise APP_CONFIG_MAX_SETTINGS");

static void mark(struct app_config *cfg, const struct setting *st, enum app_config_source src)
{
    cfg->sources[st - settings] = (unsigned char)src;
}

static const struct setting *find_setting(const char *name)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (strcmp(settings[i].name, name) == 0) {
            return &settings[i];
        }
    }
    return NULL;
}

static int parse_int(const char *s, int64_t *out)
{
    if (!*s) {
        return -1;
    }
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0) {
        return -1;
    }
    *out = v;
    return 0;
}

/* A number with a unit: durations ms, s, m, h, d (plain numbers are seconds) or sizes B, KiB,
 * MiB, GiB, K, M, G (plain numbers are bytes). */
static int parse_unit(const char *s, bool duration, int64_t *out)
{
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0) {
        return -1;
    }
    char unit[8] = {0};
    size_t ul = strlen(end);
    if (ul >= sizeof unit) {
        return -1;
    }
    for (size_t i = 0; i < ul; i++) {
        unit[i] = (char)tolower((unsigned char)end[i]);
    }
    double mul;
    if (duration) {
        if (!*unit || !strcmp(unit, "s")) {
            mul = 1000;
        } else if (!strcmp(unit, "ms")) {
            mul = 1;
        } else if (!strcmp(unit, "m")) {
            mul = 60e3;
        } else if (!strcmp(unit, "h")) {
            mul = 3600e3;
        } else if (!strcmp(unit, "d")) {
            mul = 86400e3;
        } else {
            return -1;
        }
    } else {
        if (!*unit || !strcmp(unit, "b")) {
            mul = 1;
        } else if (!strcmp(unit, "k") || !strcmp(unit, "kib") || !strcmp(unit, "kb")) {
            mul = 1024;
        } else if (!strcmp(unit, "m") || !strcmp(unit, "mib") || !strcmp(unit, "mb")) {
            mul = 1024.0 * 1024;
        } else if (!strcmp(unit, "g") || !strcmp(unit, "gib") || !strcmp(unit, "gb")) {
            mul = 1024.0 * 1024 * 1024;
        } else {
            return -1;
        }
    }
    double r = v * mul;
    if (r > 9.0e15) {
        return -1;
    }
    *out = (int64_t)r;
    return 0;
}

static int set_value(struct app_config *cfg, const struct setting *st, const char *value,
                     const char *origin, char *err, size_t errlen)
{
    char *base = (char *)cfg;
    switch (st->kind) {
    case K_STR: {
        char **p = (char **)(base + st->off);
        free(*p);
        *p = xstrdup(value);
        return 0;
    }
    case K_BOOL: {
        bool *p = (bool *)(base + st->off);
        if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes") ||
            !strcmp(value, "on")) {
            *p = true;
            return 0;
        }
        if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no") ||
            !strcmp(value, "off")) {
            *p = false;
            return 0;
        }
        break;
    }
    case K_INT:
        if (parse_int(value, (int64_t *)(base + st->off)) == 0) {
            return 0;
        }
        break;
    case K_MS:
        if (parse_unit(value, true, (int64_t *)(base + st->off)) == 0) {
            return 0;
        }
        break;
    case K_BYTES:
        if (parse_unit(value, false, (int64_t *)(base + st->off)) == 0) {
            return 0;
        }
        break;
    }
    snprintf(err, errlen, "invalid value for %s (%s): \"%s\"", st->name, origin, value);
    return SB_E_CONFIG;
}

struct ini_ctx {
    struct app_config *cfg;
    char *err;
    size_t errlen;
    int rc;
};

static int ini_on_key(void *user, const char *section, const char *name, const char *value)
{
    (void)section;
    struct ini_ctx *ctx = user;
    if (ctx->rc < 0) {
        return 0;
    }
    const struct setting *st = find_setting(name);
    if (!st || !strcmp(name, "config")) {
        snprintf(ctx->err, ctx->errlen, "unknown configuration key \"%s\" in the config file",
                 name);
        ctx->rc = SB_E_CONFIG;
        return 0;
    }
    ctx->rc = set_value(ctx->cfg, st, value, "config file", ctx->err, ctx->errlen);
    mark(ctx->cfg, st, APP_CONFIG_FILE);
    return ctx->rc == 0;
}

static void env_name(const struct setting *st, char *out, size_t len)
{
    int n = snprintf(out, len, "SWITCHBOARD_%s", st->name);
    for (int i = 12; i < n && (size_t)i < len; i++) {
        out[i] = (char)toupper((unsigned char)out[i]);
    }
}

/* The flag name for "--tls-cert" is "tls_cert"; returns NULL if arg is not a known flag. */
static const struct setting *flag_setting(const char *arg, const char **inline_value)
{
    if (strncmp(arg, "--", 2) != 0) {
        return NULL;
    }
    char name[64];
    size_t i = 0;
    const char *p = arg + 2;
    *inline_value = NULL;
    for (; *p && *p != '=' && i < sizeof name - 1; p++) {
        name[i++] = *p == '-' ? '_' : *p;
    }
    name[i] = '\0';
    if (*p == '=') {
        *inline_value = p + 1;
    }
    return find_setting(name);
}

int app_config_load(struct app_config *cfg, int argc, char **argv, int first, char *err,
                    size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (set_value(cfg, &settings[i], settings[i].def, "default", err, errlen) < 0) {
            return SB_E_CONFIG;
        }
    }
    /* The config file's name may itself come from a flag or the environment. */
    const char *file = getenv("SWITCHBOARD_CONFIG");
    for (int i = first; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            file = argv[i + 1];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            file = argv[i] + 9;
        }
    }
    if (file && *file) {
        struct ini_ctx ctx = {cfg, err, errlen, 0};
        int rc = ini_parse(file, ini_on_key, &ctx);
        if (ctx.rc < 0) {
            return SB_E_CONFIG;
        }
        if (rc != 0) {
            if (rc < 0) {
                snprintf(err, errlen, "cannot read config file %s", file);
            } else {
                snprintf(err, errlen, "config file %s: syntax error on line %d", file, rc);
            }
            return SB_E_CONFIG;
        }
        set_value(cfg, find_setting("config"), file, "flag", err, errlen);
        mark(cfg, find_setting("config"),
             getenv("SWITCHBOARD_CONFIG") == file ? APP_CONFIG_ENV : APP_CONFIG_FLAG);
    }
    /* Environment: every SWITCHBOARD_* variable must name a setting. */
    extern char **environ;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "SWITCHBOARD_", 12) != 0) {
            continue;
        }
        const char *eq = strchr(*e, '=');
        if (!eq) {
            continue;
        }
        char key[64];
        size_t kl = (size_t)(eq - *e);
        if (kl >= sizeof key) {
            kl = sizeof key - 1;
        }
        memcpy(key, *e, kl);
        key[kl] = '\0';
        if (!strcmp(key, "SWITCHBOARD_CONFIG") || !strcmp(key, "SWITCHBOARD_ADMIN_PASSWORD") ||
            !strcmp(key, "SWITCHBOARD_BIN") || !strcmp(key, "SWITCHBOARD_URL") ||
            !strcmp(key, "SWITCHBOARD_TOKEN") || !strcmp(key, "SWITCHBOARD_EMAIL") ||
            !strcmp(key, "SWITCHBOARD_PASSWORD")) {
            continue; /* read elsewhere (init, tests, sbctl) */
        }
        const struct setting *st = NULL;
        for (size_t i = 0; i < NSETTINGS; i++) {
            char en[64];
            env_name(&settings[i], en, sizeof en);
            if (!strcmp(en, key)) {
                st = &settings[i];
            }
        }
        if (!st) {
            snprintf(err, errlen, "unknown environment variable %s", key);
            return SB_E_CONFIG;
        }
        if (set_value(cfg, st, eq + 1, key, err, errlen) < 0) {
            return SB_E_CONFIG;
        }
        mark(cfg, st, APP_CONFIG_ENV);
    }
    for (int i = first; i < argc; i++) {
        const char *inline_value;
        const struct setting *st = flag_setting(argv[i], &inline_value);
        if (!st) {
            snprintf(err, errlen, "unknown option %s", argv[i]);
            return SB_E_CONFIG;
        }
        const char *value = inline_value;
        if (!value && st->kind == K_BOOL) {
            value = "true";
        } else if (!value) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "option %s needs a value", argv[i]);
                return SB_E_CONFIG;
            }
            value = argv[++i];
        }
        if (set_value(cfg, st, value, "flag", err, errlen) < 0) {
            return SB_E_CONFIG;
        }
        mark(cfg, st, APP_CONFIG_FLAG);
    }
    if (cfg->max_fields < 1 || cfg->max_fields > 1000) {
        snprintf(err, errlen, "invalid value for max_header_fields: must be 1..1000");
        return SB_E_CONFIG;
    }
    if (cfg->workers > 64) {
        snprintf(err, errlen, "invalid value for workers: at most 64");
        return SB_E_CONFIG;
    }
    if (cfg->max_body < 1 || cfg->max_line < 16 || cfg->max_head < cfg->max_line) {
        snprintf(err, errlen,
                 "invalid request limits (max_body, max_request_line, "
                 "max_header_bytes)");
        return SB_E_CONFIG;
    }
    if (cfg->login_attempts < 1 || cfg->login_attempts > 100000 || cfg->login_ip_attempts < 1 ||
        cfg->login_ip_attempts > 100000 || cfg->login_account_attempts < 1 ||
        cfg->login_account_attempts > 100000) {
        snprintf(err, errlen,
                 "invalid login limits (login_attempts, login_ip_attempts, "
                 "login_account_attempts): must be 1..100000");
        return SB_E_CONFIG;
    }
    if (cfg->login_window_ms < 1000 || cfg->login_account_max_delay_ms < 1000) {
        snprintf(err, errlen,
                 "invalid login limits (login_window, login_account_max_delay): "
                 "at least 1s");
        return SB_E_CONFIG;
    }
    if (cfg->refresh_grace_ms > 60000) {
        snprintf(err, errlen, "invalid value for refresh_grace: at most 60s");
        return SB_E_CONFIG;
    }
    if (*cfg->metrics_token && strlen(cfg->metrics_token) < 16) {
        snprintf(err, errlen, "invalid value for metrics_token: at least 16 characters");
        return SB_E_CONFIG;
    }
    if (auth_proxies_parse(cfg->trusted_proxies, NULL, err, errlen) < 0) {
        return SB_E_CONFIG;
    }
    if (strcmp(cfg->sqlite_sync, "full") && strcmp(cfg->sqlite_sync, "normal")) {
        snprintf(err, errlen, "invalid value for sqlite_sync: \"%s\" (want full or normal)",
                 cfg->sqlite_sync);
        return SB_E_CONFIG;
    }
    if (strcmp(cfg->log_format, "json") && strcmp(cfg->log_format, "text") &&
        strcmp(cfg->log_format, "auto")) {
        snprintf(err, errlen, "invalid value for log_format: \"%s\"", cfg->log_format);
        return SB_E_CONFIG;
    }
    return 0;
}

void app_config_release(struct app_config *cfg)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (settings[i].kind == K_STR) {
            char **p = (char **)((char *)cfg + settings[i].off);
            free(*p);
            *p = NULL;
        }
    }
}

void app_config_usage(FILE *out)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", settings[i].name);
        for (char *p = flag + 2; *p; p++) {
            if (*p == '_') {
                *p = '-';
            }
        }
        char en[64];
        env_name(&settings[i], en, sizeof en);
        fprintf(out, "  %-24s %s\n  %-24s   (env %s, default \"%s\")\n", flag, settings[i].help, "",
                en, settings[i].def);
    }
}

/* v in the largest unit that divides it exactly (units[i] = mul[i] times the base unit). */
static void print_unit(FILE *out, int64_t v, const char *const *units, const int64_t *mul, size_t n)
{
    for (size_t i = n; i-- > 1;) {
        if (v != 0 && v % mul[i] == 0) {
            fprintf(out, "%lld%s", (long long)(v / mul[i]), units[i]);
            return;
        }
    }
    if (v == 0) {
        fputs("0", out);
        return;
    }
    fprintf(out, "%lld%s", (long long)v, units[0]);
}

static void print_value(FILE *out, const struct app_config *cfg, const struct setting *st)
{
    static const char *const dur_units[] = {"ms", "s", "m", "h", "d"};
    static const int64_t dur_mul[] = {1, 1000, 60000, 3600000, 86400000};
    static const char *const size_units[] = {"B", "KiB", "MiB", "GiB"};
    static const int64_t size_mul[] = {1, 1024, 1024 * 1024, 1024 * 1024 * 1024};
    const char *base = (const char *)cfg;
    switch (st->kind) {
    case K_STR: {
        const char *v = *(char *const *)(base + st->off);
        if ((!strcmp(st->name, "jwt_secret") || !strcmp(st->name, "jwt_secret_previous") ||
             !strcmp(st->name, "metrics_token")) &&
            *v) {
            fprintf(out, "(set, %zu bytes)", strlen(v));
            return;
        }
        /* postgres://user:password@host/db: hide the password. */
        const char *scheme = strstr(v, "://");
        const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
        const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
        if (!strcmp(st->name, "db") && at && colon && colon < at) {
            fprintf(out, "%.*s***%s", (int)(colon + 1 - v), v, at);
            return;
        }
        fputs(*v ? v : "\"\"", out);
        return;
    }
    case K_BOOL:
        fputs(*(const bool *)(base + st->off) ? "true" : "false", out);
        return;
    case K_INT:
        fprintf(out, "%lld", (long long)*(const int64_t *)(base + st->off));
        return;
    case K_MS:
        print_unit(out, *(const int64_t *)(base + st->off), dur_units, dur_mul, 5);
        return;
    case K_BYTES:
        print_unit(out, *(const int64_t *)(base + st->off), size_units, size_mul, 4);
        return;
    }
}

void app_config_print(const struct app_config *cfg, FILE *out)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        fprintf(out, "%s = ", settings[i].name);
        print_value(out, cfg, &settings[i]);
        switch ((enum app_config_source)cfg->sources[i]) {
        case APP_CONFIG_DEFAULT:
            fputs(" (default)\n", out);
            break;
        case APP_CONFIG_FILE:
            fputs(" (file)\n", out);
            break;
        case APP_CONFIG_ENV: {
            char en[64];
            env_name(&settings[i], en, sizeof en);
            fprintf(out, " (env %s)\n", en);
            break;
        }
        case APP_CONFIG_FLAG:
            fputs(" (flag)\n", out);
            break;
        }
    }
}
