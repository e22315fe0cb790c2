/*
 * switchboard's main: the command line of DESIGN §3 and the wiring of the layers.
 *
 *   serve    store -> auth sessions -> services -> realtime -> api -> net loops; then wait
 *            for SIGTERM/SIGINT and drain (readyz 503, no new connections, in-flight
 *            requests finish within drain_timeout), exit 0. SIGHUP reopens --log-file.
 *   init     create the first super_admin.
 *   migrate  apply pending migrations.
 *   config check  validate the configuration and print each effective setting's source.
 *   backup / restore  online copy of an SQLite database into a file, and back (stopped server).
 *
 * Exit status: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "api/api.h"
#include "app/config.h"
#include "app/notify.h"
#include "auth/password.h"
#include "auth/session.h"
#include "auth/token.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/limits.h"
#include "base/log.h"
#include "net/net.h"
#include "realtime/rt.h"
#include "store/store.h"
#include "svc/jobs.h"
#include "svc/svc.h"

#ifndef SB_VERSION
#define SB_VERSION "dev"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "switchboard %s: real-time admin panel server\n\n"
            "usage:\n"
            "  switchboard [serve] [options]      run the server\n"
            "  switchboard init --db URL --admin-email E [--admin-password-file F]\n"
            "                                     create the first super_admin\n"
            "  switchboard migrate --db URL       apply database migrations\n"
            "  switchboard backup --db sqlite:PATH --out FILE\n"
            "                                     online backup of an SQLite database\n"
            "  switchboard restore --db sqlite:PATH --in FILE\n"
            "                                     restore it (the server must be stopped)\n"
            "  switchboard config check [--config FILE] [options]\n"
            "                                     validate the configuration, print the\n"
            "                                     effective settings and their sources\n"
            "  switchboard --help | --version\n\n"
            "options (flags > SWITCHBOARD_* environment > --config INI file > defaults):\n",
            SB_VERSION);
    app_config_usage(out);
    fprintf(out, "\nexit status: 0 ok, 1 runtime failure, 2 usage or configuration error\n");
}

static int setup_logging(const struct app_config *cfg)
{
    enum log_level lvl;
    if (log_level_parse(cfg->log_level, &lvl) < 0) {
        fprintf(stderr, "switchboard: invalid value for log_level: \"%s\"\n", cfg->log_level);
        return 2;
    }
    if (*cfg->log_file && log_open_file(cfg->log_file) < 0) {
        fprintf(stderr, "switchboard: cannot open log_file %s: %s\n", cfg->log_file,
                strerror(errno));
        return 2;
    }
    bool json = strcmp(cfg->log_format, "json") == 0 ||
                (strcmp(cfg->log_format, "auto") == 0 && !isatty(STDERR_FILENO));
    log_setup(lvl, json);
    return 0;
}

/*
 * A secret given as a file (jwt_secret_file, jwt_secret_previous_file) replaces the inline
 * setting: the file's first line, without its line ending. Setting both is an error, so a
 * stale inline secret can never win over the file an operator rotated. Exit status 2 on a
 * configuration error, 0 otherwise.
 */
static int load_secret_file(const char *name, const char *path, char **secret)
{
    if (!path || !*path) {
        return 0;
    }
    if (*secret && **secret) {
        fprintf(stderr, "switchboard: set %s or %s_file, not both\n", name, name);
        return 2;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "switchboard: cannot read %s_file %s: %s\n", name, path, strerror(errno));
        return 2;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO))) {
        log_warn("%s_file %s is accessible to group or others; chmod 600 it", name, path);
    }
    char line[4096];
    if (!fgets(line, sizeof line, f)) {
        line[0] = '\0';
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0]) {
        fprintf(stderr, "switchboard: %s_file %s is empty\n", name, path);
        return 2;
    }
    free(*secret);
    *secret = xstrdup(line);
    sodium_memzero(line, sizeof line);
    return 0;
}

static int open_store(const struct app_config *cfg, struct store **out)
{
    struct store_options opt = {.sqlite_sync_normal = strcmp(cfg->sqlite_sync, "normal") == 0};
    int rc = store_open(cfg->db, &opt, out);
    if (rc == SB_E_INVAL) {
        fprintf(stderr, "switchboard: invalid value for db: \"%s\"\n", cfg->db);
        return 2;
    }
    if (rc < 0) {
        log_error("cannot open database %s: %s", cfg->db, sb_strerror(rc));
        return 1;
    }
    rc = store_migrate(*out);
    if (rc < 0) {
        log_error("database migration failed: %s", sb_strerror(rc));
        store_free(*out);
        return 1;
    }
    if (rc > 0) {
        log_info("applied %d migration(s)", rc);
    }
    return 0;
}

static int parse_listen(const char *listen, struct net_config *nc)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen) {
        return -1;
    }
    size_t hl = (size_t)(colon - listen);
    const char *host = listen;
    if (host[0] == '[' && host[hl - 1] == ']') {
        host++;
        hl -= 2;
    }
    if (hl >= sizeof nc->host) {
        return -1;
    }
    memcpy(nc->host, host, hl);
    nc->host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || end == colon + 1) {
        return -1;
    }
    nc->port = (int)port;
    return 0;
}

static struct rt *g_rt; /* for the per-worker hooks */

static void worker_start(struct net_worker *w, void *arg)
{
    (void)arg;
    rt_worker_start(g_rt, w);
}

static void worker_stop(struct net_worker *w, void *arg)
{
    (void)arg;
    rt_worker_stop(g_rt, w);
}

/* Realtime connections drive agent presence (svc decides what a disconnect means). */
static void on_rt_conn(void *arg, const struct policy_principal *p, enum rt_conn_event ev)
{
    struct svc *svc = arg;
    if (p->role != ROLE_AGENT) {
        return;
    }
    struct svc_presence *pr = svc_presence_of(svc);
    switch (ev) {
    case RT_CONN_OPEN:
        svc_presence_connected(pr, p->user_id, clock_now_ms());
        break;
    case RT_CONN_CLOSE:
        svc_presence_disconnected(pr, p->user_id, clock_now_ms());
        break;
    case RT_CONN_ACTIVE:
        svc_presence_active(pr, p->user_id, clock_now_ms());
        break;
    }
}

/* The change-log consumer behind the dashboard's events_per_minute. */
static void count_changes(void *arg, const struct store_change *changes, size_t n)
{
    svc_metrics_count_changes(arg, changes, n);
}

/* Cluster: another node decides about an agent it still serves (or lost later), and a dead
 * node's agents are handed to this one to start their grace. */
static bool agent_elsewhere(void *arg, const char *user_id, int64_t gone_ms)
{
    return rt_agent_elsewhere(arg, user_id, gone_ms);
}

static void on_agent_orphan(void *arg, const char *user_id, int64_t gone_ms)
{
    svc_presence_adopt(svc_presence_of(arg), user_id, gone_ms);
}

static int64_t rt_connections_of(void *arg, const char *client_id)
{
    return rt_connections(arg, client_id);
}

/* A changed dashboard snapshot goes to realtime:dashboard of its tenant; the all-tenants
 * view (client_id NULL) only to super_admins, whose channels have the tenant key "". */
static void publish_metrics(void *arg, const char *client_id, const char *json)
{
    rt_broadcast_tenant(arg, client_id ? client_id : "", "realtime:dashboard", "metrics", json);
}

static int cmd_serve(struct app_config *cfg)
{
    if (!*cfg->tls_cert != !*cfg->tls_key) {
        fprintf(stderr, "switchboard: tls_cert and tls_key go together\n");
        return 2;
    }
    int src = load_secret_file("jwt_secret", cfg->jwt_secret_file, &cfg->jwt_secret);
    if (src == 0) {
        src = load_secret_file("jwt_secret_previous", cfg->jwt_secret_previous_file,
                               &cfg->jwt_secret_previous);
    }
    if (src) {
        return src;
    }
    struct net_config nc;
    net_config_default(&nc);
    if (parse_listen(cfg->listen, &nc) < 0) {
        fprintf(stderr, "switchboard: invalid value for listen: \"%s\" (want ADDR:PORT)\n",
                cfg->listen);
        return 2;
    }
    nc.workers = cfg->workers ? (unsigned)cfg->workers : (unsigned)uv_available_parallelism();
    nc.limits.max_body = (size_t)cfg->max_body;
    nc.limits.max_line = (size_t)cfg->max_line;
    nc.limits.max_head = (size_t)cfg->max_head;
    nc.limits.max_fields = (size_t)cfg->max_fields;
    nc.header_timeout_ms = cfg->header_timeout_ms;
    nc.body_timeout_ms = cfg->body_timeout_ms ? cfg->body_timeout_ms : cfg->header_timeout_ms;
    nc.body_min_rate = (size_t)cfg->body_min_rate;
    nc.idle_timeout_ms = cfg->idle_timeout_ms;
    nc.ws_idle_timeout_ms = cfg->ws_idle_timeout_ms;
    nc.close_timeout_ms = cfg->close_timeout_ms;
    nc.max_connections_per_ip = (size_t)cfg->max_connections_per_ip;
    nc.ws_max_message = (size_t)cfg->ws_max_message;
    nc.ws_max_queue = (size_t)cfg->ws_max_queue;
    nc.tls_cert = cfg->tls_cert;
    nc.tls_key = cfg->tls_key;

    /* Block the signals we wait for before any thread starts, so only sigwait sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A file-size limit (ulimit -f) reached by the database or a log file is an I/O error
     * of that write (the request fails, the server goes on), not the end of the process. */
    signal(SIGXFSZ, SIG_IGN);

    /* The thread pool runs handlers and database work; size it before first use. */
    char pool[16];
    snprintf(pool, sizeof pool, "%u", nc.workers * 2 + 4);
    setenv("UV_THREADPOOL_SIZE", pool, 0);

    struct store *store = NULL;
    int rc = open_store(cfg, &store);
    if (rc) {
        return rc;
    }
    struct svc_config sc = {.presence_grace_ms = cfg->presence_grace_ms,
                            .idle_away_ms = cfg->idle_away_ms};
    struct svc *svc = NULL;
    svc_new(store, &sc, &svc);
    if (cfg->demo && (rc = svc_seed_demo(svc)) < 0) {
        log_error("seeding demo data failed: %s", sb_strerror(rc));
        svc_free(svc);
        store_free(store);
        return 1;
    }
    struct auth_session_config ac = {.jwt_secret = cfg->jwt_secret,
                                     .jwt_secret_previous = cfg->jwt_secret_previous,
                                     .access_ttl_ms = cfg->access_ttl_ms,
                                     .refresh_ttl_ms = cfg->refresh_ttl_ms,
                                     .refresh_grace_ms = cfg->refresh_grace_ms,
                                     .login = {
                                         .pair_attempts = cfg->login_attempts,
                                         .ip_attempts = cfg->login_ip_attempts,
                                         .account_attempts = cfg->login_account_attempts,
                                         .account_max_delay_ms = cfg->login_account_max_delay_ms,
                                         .window_ms = cfg->login_window_ms,
                                     }};
    struct auth_session *auth = NULL;
    rc = auth_session_new(store, &ac, &auth);
    if (rc < 0) {
        log_error("auth setup failed: %s", sb_strerror(rc));
        svc_free(svc);
        store_free(store);
        return rc == SB_E_CONFIG ? 2 : 1;
    }
    svc_set_auth(svc, auth);
    struct rt_config rc_cfg = {.max_channels = (size_t)cfg->max_channels,
                               .max_bindings = SB_LIMIT_RT_BINDINGS,
                               .max_sub_bytes = (size_t)cfg->max_sub_bytes,
                               .max_presence_bytes = (size_t)cfg->max_presence_bytes,
                               .max_user_conns = (size_t)cfg->max_user_conns,
                               .tail_interval_ms = 1000,
                               .retention_ms = cfg->changes_retention_ms,
                               .token_check_ms = 250,
                               .cluster_lease_ms = cfg->cluster_lease_ms};
    struct rt *rt = NULL;
    rt_new(&rc_cfg, store, auth, &rt);
    rt_set_conn_hook(rt, on_rt_conn, svc);
    rt_add_consumer(rt, count_changes, svc);
    rt_set_orphan_hook(rt, on_agent_orphan, svc);
    svc_presence_set_elsewhere_fn(svc_presence_of(svc), agent_elsewhere, rt);
    svc_metrics_set_connections_fn(svc, rt_connections_of, rt);
    struct api_options ao = {.web_dir = cfg->web_dir,
                             .cors_origins = cfg->cors_origins,
                             .version = SB_VERSION,
                             .trusted_proxies = cfg->trusted_proxies,
                             .metrics_token = cfg->metrics_token,
                             .secure_cookies = *cfg->tls_cert != '\0'};
    struct api *api = NULL;
    api_new(&ao, store, svc, auth, &api);
    api_set_realtime(api, rt);

    g_rt = rt;
    struct net_hooks hooks = {.on_request = api_on_request,
                              .arg = api,
                              .on_worker_start = worker_start,
                              .on_worker_stop = worker_stop};
    struct net_server *server = NULL;
    rc = net_server_start(&nc, &hooks, &server);
    if (rc == SB_E_CONFIG) {
        fprintf(stderr, "switchboard: cannot load tls_cert/tls_key (see the log)\n");
    }
    if (rc < 0) {
        api_free(api);
        rt_free(rt);
        auth_session_free(auth);
        svc_free(svc);
        store_free(store);
        return rc == SB_E_CONFIG ? 2 : 1;
    }
    if (rt_start(rt, server) < 0) {
        log_error("cannot start the realtime hub; realtime events will not be delivered");
    }
    struct svc_jobs_config jc = {.metrics_interval_ms = cfg->metrics_interval_ms,
                                 .message_retention_ms = cfg->message_retention_ms,
                                 .history_retention_ms = cfg->history_retention_ms,
                                 .publish = publish_metrics,
                                 .publish_arg = rt};
    struct svc_jobs *jobs = NULL;
    if (svc_jobs_start(&jobs, svc, &jc) < 0) {
        log_error("cannot start the background jobs");
    }
    char url[128];
    bool v6 = strchr(nc.host, ':') != NULL;
    snprintf(url, sizeof url, "%s://%s%s%s:%d", *cfg->tls_cert ? "https" : "http", v6 ? "[" : "",
             nc.host, v6 ? "]" : "", net_server_port(server));
    log_event(LOG_INFO, "listening",
              json_pack("{s:s,s:i,s:s,s:s}", "url", url, "workers", (int)nc.workers, "db",
                        store_backend(store), "version", SB_VERSION));
    printf("switchboard %s listening on %s\n", SB_VERSION, url);
    if (cfg->demo) {
        printf("demo logins (password: demo-password):\n"
               "  root@demo.test     super_admin\n"
               "  admin@acme.test    admin   (Acme)\n"
               "  viewer@acme.test   viewer  (Acme)\n"
               "  agent1@acme.test   agent   (Acme; agent2..agent5 too)\n"
               "  admin@globex.test  admin   (Globex; agent1..agent3@globex.test)\n");
    }
    fflush(stdout);
    /* Type=notify: systemd considers the unit started only now that the port is bound. */
    char state[192];
    snprintf(state, sizeof state, "READY=1\nSTATUS=listening on %s", url);
    if (app_notify(state) < 0) {
        log_warn("cannot notify the service manager (NOTIFY_SOCKET) of readiness");
    }

    /* SIGHUP reopens --log-file (logrotate); SIGTERM and SIGINT drain and stop. */
    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) {
        if (!log_file_path()) {
            log_info("SIGHUP: no log_file to reopen");
        } else if (log_reopen() < 0) {
            log_error("cannot reopen log_file %s; logging on to the old file", log_file_path());
        } else {
            log_event(LOG_INFO, "log file reopened", json_pack("{s:s}", "path", log_file_path()));
        }
    }
    app_notify("STOPPING=1\nSTATUS=draining");
    log_event(LOG_INFO, "shutting down", json_pack("{s:s}", "signal", strsignal(sig)));
    api_set_draining(api, true);
    svc_jobs_stop(jobs);
    rt_stop(rt);
    net_server_stop(server, cfg->drain_ms);
    rt_free(rt);
    api_free(api);
    auth_session_free(auth);
    svc_free(svc);
    store_free(store);
    log_info("stopped");
    return 0;
}

static int read_password(const struct app_config *cfg, char *out, size_t len)
{
    FILE *f = NULL;
    if (cfg->admin_password_file && *cfg->admin_password_file) {
        f = fopen(cfg->admin_password_file, "r");
        if (!f) {
            fprintf(stderr, "switchboard: cannot read admin_password_file %s\n",
                    cfg->admin_password_file);
            return 2;
        }
    } else if (getenv("SWITCHBOARD_ADMIN_PASSWORD")) {
        snprintf(out, len, "%s", getenv("SWITCHBOARD_ADMIN_PASSWORD"));
        return 0;
    } else {
        f = stdin;
        if (isatty(STDIN_FILENO)) {
            fprintf(stderr, "password: ");
        }
    }
    if (!fgets(out, (int)len, f)) {
        out[0] = '\0';
    }
    if (f != stdin) {
        fclose(f);
    }
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int cmd_init(struct app_config *cfg)
{
    if (!cfg->admin_email || !*cfg->admin_email) {
        fprintf(stderr, "switchboard: init needs --admin-email\n");
        return 2;
    }
    char pw[AUTH_PASSWORD_MAX_LEN + 2];
    int rc = read_password(cfg, pw, sizeof pw);
    if (rc) {
        return rc;
    }
    if (strlen(pw) < AUTH_PASSWORD_MIN_LEN) {
        fprintf(stderr, "switchboard: the password must have at least %d characters\n",
                AUTH_PASSWORD_MIN_LEN);
        auth_wipe(pw, sizeof pw);
        return 2;
    }
    struct store *store = NULL;
    rc = open_store(cfg, &store);
    if (rc) {
        auth_wipe(pw, sizeof pw);
        return rc;
    }
    struct svc_config sc = {.presence_grace_ms = cfg->presence_grace_ms,
                            .idle_away_ms = cfg->idle_away_ms};
    struct svc *svc = NULL;
    svc_new(store, &sc, &svc);
    rc = svc_init_admin(svc, cfg->admin_email, pw);
    auth_wipe(pw, sizeof pw);
    svc_free(svc);
    store_free(store);
    if (rc == SB_E_CONFLICT) {
        fprintf(stderr, "switchboard: a user with e-mail %s already exists\n", cfg->admin_email);
        return 1;
    }
    if (rc == SB_E_VALIDATION) {
        fprintf(stderr, "switchboard: invalid admin e-mail or password\n");
        return 2;
    }
    if (rc < 0) {
        fprintf(stderr, "switchboard: init failed: %s\n", sb_strerror(rc));
        return 1;
    }
    printf("created super_admin %s\n", cfg->admin_email);
    return 0;
}

static int cmd_migrate(struct app_config *cfg)
{
    struct store *store = NULL;
    int rc = open_store(cfg, &store);
    if (rc) {
        return rc;
    }
    int version = 0;
    store_schema_version(store, &version);
    printf("database schema at version %d\n", version);
    store_free(store);
    return 0;
}

/* Everything serve would refuse before opening anything, for `config check`. */
static int validate(const struct app_config *cfg)
{
    struct net_config nc;
    enum log_level lvl;
    if (parse_listen(cfg->listen, &nc) < 0) {
        fprintf(stderr, "switchboard: invalid value for listen: \"%s\" (want ADDR:PORT)\n",
                cfg->listen);
        return 2;
    }
    if (log_level_parse(cfg->log_level, &lvl) < 0) {
        fprintf(stderr, "switchboard: invalid value for log_level: \"%s\"\n", cfg->log_level);
        return 2;
    }
    if (!*cfg->tls_cert != !*cfg->tls_key) {
        fprintf(stderr, "switchboard: tls_cert and tls_key go together\n");
        return 2;
    }
    bool sqlite = !strncmp(cfg->db, "sqlite:", 7) && cfg->db[7];
    if (!sqlite && strncmp(cfg->db, "postgres://", 11) && strncmp(cfg->db, "postgresql://", 13)) {
        fprintf(stderr,
                "switchboard: invalid value for db: \"%s\" (want sqlite:PATH or "
                "postgres://...)\n",
                cfg->db);
        return 2;
    }
    if (*cfg->jwt_secret && strlen(cfg->jwt_secret) < 32) {
        fprintf(stderr, "switchboard: jwt_secret must have at least 32 bytes\n");
        return 2;
    }
    return 0;
}

static int cmd_config_check(struct app_config *cfg)
{
    int rc = validate(cfg);
    if (rc) {
        return rc;
    }
    app_config_print(cfg, stdout);
    fflush(stdout);
    fprintf(stderr, "switchboard: configuration ok\n");
    return 0;
}

static int cmd_backup(struct app_config *cfg, const char *out)
{
    if (!out || !*out) {
        fprintf(stderr, "switchboard: backup needs --out FILE\n");
        return 2;
    }
    int version = 0;
    int rc = store_backup(cfg->db, out, &version);
    if (rc == SB_E_INVAL) {
        fprintf(stderr, "switchboard: backup works on SQLite databases (--db sqlite:PATH); back up "
                        "PostgreSQL with pg_dump (see the README)\n");
        return 2;
    }
    if (rc == SB_E_NOTFOUND) {
        fprintf(stderr, "switchboard: no database at %s\n", cfg->db);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "switchboard: backup failed: %s\n", sb_strerror(rc));
        return 1;
    }
    printf("backup of %s (schema version %d) written to %s\n", cfg->db, version, out);
    return 0;
}

static int cmd_restore(struct app_config *cfg, const char *in)
{
    if (!in || !*in) {
        fprintf(stderr, "switchboard: restore needs --in FILE\n");
        return 2;
    }
    int version = 0;
    int rc = store_restore(cfg->db, in, &version);
    switch (rc) {
    case 0:
        printf("restored %s (schema version %d) into %s\n", in, version, cfg->db);
        return 0;
    case SB_E_INVAL:
        fprintf(stderr, "switchboard: restore works on SQLite databases (--db sqlite:PATH); "
                        "restore PostgreSQL with pg_restore (see the README)\n");
        return 2;
    case SB_E_NOTFOUND:
        fprintf(stderr, "switchboard: cannot read %s\n", in);
        return 1;
    case SB_E_UNAVAILABLE:
        fprintf(stderr, "switchboard: %s is in use; stop the server first\n", cfg->db);
        return 1;
    case SB_E_VALIDATION:
        fprintf(stderr, "switchboard: %s is not a switchboard backup\n", in);
        return 1;
    case SB_E_SCHEMA:
        fprintf(stderr, "switchboard: %s comes from a newer switchboard; upgrade first\n", in);
        return 1;
    default:
        fprintf(stderr, "switchboard: restore failed: %s\n", sb_strerror(rc));
        return 1;
    }
}

/* Take "--NAME FILE" or "--NAME=FILE" (a command's own argument, not a setting) out of argv;
 * returns FILE or NULL. */
static const char *take_arg(int *argc, char **argv, int first, const char *name)
{
    size_t nl = strlen(name);
    for (int i = first; i < *argc; i++) {
        const char *a = argv[i];
        int used = 0;
        const char *value = NULL;
        if (!strncmp(a, "--", 2) && !strncmp(a + 2, name, nl)) {
            if (a[2 + nl] == '=') {
                value = a + 3 + nl;
                used = 1;
            } else if (!a[2 + nl] && i + 1 < *argc) {
                value = argv[i + 1];
                used = 2;
            }
        }
        if (used) {
            memmove(&argv[i], &argv[i + used], sizeof(char *) * (size_t)(*argc - i - used));
            *argc -= used;
            return value;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int first = 1;
    const char *cmd = "serve";
    if (argc > 1) {
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[1], "--version")) {
            printf("switchboard %s\n", SB_VERSION);
            return 0;
        }
        if (argv[1][0] != '-') {
            cmd = argv[1];
            first = 2;
        }
    }
    for (int i = first; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    }
    if (!strcmp(cmd, "config")) {
        if (argc < 3 || strcmp(argv[2], "check")) {
            fprintf(stderr, "switchboard: usage: switchboard config check [--config FILE]\n");
            return 2;
        }
        first = 3;
    } else if (strcmp(cmd, "serve") && strcmp(cmd, "init") && strcmp(cmd, "migrate") &&
               strcmp(cmd, "backup") && strcmp(cmd, "restore")) {
        fprintf(stderr, "switchboard: unknown command \"%s\" (try --help)\n", cmd);
        return 2;
    }
    const char *file_arg = NULL;
    if (!strcmp(cmd, "backup")) {
        file_arg = take_arg(&argc, argv, first, "out");
    } else if (!strcmp(cmd, "restore")) {
        file_arg = take_arg(&argc, argv, first, "in");
    }
    struct app_config cfg;
    char err[512];
    if (app_config_load(&cfg, argc, argv, first, err, sizeof err) < 0) {
        fprintf(stderr, "switchboard: %s\n", err);
        app_config_release(&cfg);
        return 2;
    }
    int rc = setup_logging(&cfg);
    if (rc == 0) {
        if (!strcmp(cmd, "config")) {
            rc = cmd_config_check(&cfg);
        } else if (!strcmp(cmd, "backup")) {
            rc = cmd_backup(&cfg, file_arg);
        } else if (!strcmp(cmd, "restore")) {
            rc = cmd_restore(&cfg, file_arg);
        } else if (!strcmp(cmd, "serve")) {
            rc = cmd_serve(&cfg);
        } else if (!strcmp(cmd, "init")) {
            rc = cmd_init(&cfg);
        } else {
            rc = cmd_migrate(&cfg);
        }
    }
    app_config_release(&cfg);
    return rc;
}
