/*
 * Configuration of `switchboard serve` and the other commands. Every setting has one row in
 * the table of config.c: its name (INI key), environment variable (SWITCHBOARD_<NAME>),
 * command-line flag, type, default and help. Precedence: flags > environment > INI file
 * (--config FILE or SWITCHBOARD_CONFIG) > defaults. Unknown keys and bad values are errors
 * naming the key (exit status 2).
 */
#ifndef SB_APP_CONFIG_H
#define SB_APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Where a setting's effective value came from (app_config_print shows it). */
enum app_config_source {
    APP_CONFIG_DEFAULT,
    APP_CONFIG_FILE,
    APP_CONFIG_ENV,
    APP_CONFIG_FLAG,
};

#define APP_CONFIG_MAX_SETTINGS 96

struct app_config {
    char *listen; /* ADDR:PORT */
    char *db;
    int64_t workers; /* 0: CPU count */
    bool demo;
    char *config_file;
    char *tls_cert;
    char *tls_key;
    char *log_level;
    char *log_format;      /* json | text | auto */
    char *sqlite_sync;     /* full | normal (SQLite's synchronous) */
    char *log_file;        /* empty: stderr */
    char *web_dir;         /* serve the panel from disk instead of the embedded copy */
    char *cors_origins;    /* comma-separated allow-list ("*" is not allowed with credentials) */
    char *jwt_secret;      /* empty: generated and stored in the database on first run */
    char *jwt_secret_file; /* instead of jwt_secret */
    char *jwt_secret_previous;      /* still accepted for verification during a rotation */
    char *jwt_secret_previous_file; /* instead of jwt_secret_previous */
    int64_t access_ttl_ms;
    int64_t refresh_ttl_ms;
    int64_t drain_ms;
    int64_t header_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t ws_idle_timeout_ms;
    int64_t body_timeout_ms;
    int64_t body_min_rate;
    int64_t close_timeout_ms;
    int64_t max_connections_per_ip;
    int64_t max_body;
    int64_t max_line;
    int64_t max_head;
    int64_t max_fields;
    int64_t ws_max_message;
    int64_t ws_max_queue;
    int64_t max_channels;
    int64_t max_sub_bytes;
    int64_t max_presence_bytes;
    int64_t max_user_conns;
    int64_t changes_retention_ms;
    int64_t presence_grace_ms;
    int64_t idle_away_ms;
    int64_t cluster_lease_ms;
    int64_t metrics_interval_ms;
    int64_t message_retention_ms;
    int64_t history_retention_ms;
    int64_t login_attempts;             /* failures per (account, IP) per login window */
    int64_t login_ip_attempts;          /* failures per IP per login window */
    int64_t login_account_attempts;     /* failures per account before delays start */
    int64_t login_account_max_delay_ms; /* longest per-account delay */
    int64_t login_window_ms;
    char *trusted_proxies; /* CIDR list whose X-Forwarded-For is believed */
    int64_t refresh_grace_ms;
    char *metrics_token;       /* empty: /metrics is open */
    char *admin_email;         /* init */
    char *admin_password_file; /* init */
    /* Per row of the settings table (config.c): enum app_config_source. */
    unsigned char sources[APP_CONFIG_MAX_SETTINGS];
};

/*
 * Fill cfg from defaults, the INI file, the environment and argv[first..argc) in that
 * order of increasing precedence. Positional arguments are errors. On error writes a message
 * naming the key to err (errlen bytes) and returns SB_E_CONFIG.
 */
int app_config_load(struct app_config *cfg, int argc, char **argv, int first, char *err,
                    size_t errlen);
void app_config_release(struct app_config *cfg);
/* Print the flags with their help text and environment names. */
void app_config_usage(FILE *out);
/*
 * Print every effective setting as "key = value (source)", one per line, in table order:
 * durations and sizes in their largest exact unit, secrets (jwt_secret, jwt_secret_previous,
 * metrics_token, a password in a database URL) replaced by "(set, N bytes)" or "***". The source is
 * default, file, flag or env NAME.
 */
void app_config_print(const struct app_config *cfg, FILE *out);

#endif
