/* serve.h - churn-serve's parts: configuration, model holder, metrics,
 * live-traffic window, CGI-style bridge, embedded assets, logging */
#ifndef CHURN_SERVE_H
#define CHURN_SERVE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "model.h"
#include "util.h"

/* Everything the operator configures (flags beat the environment). */
struct config {
	const char *listen;         /* ADDR:PORT as given */
	const char *model;          /* file path, alias or version */
	const char *state_dir;      /* window, drift history, pulled models */
	const char *pid_file;
	const char *drift_cmd;      /* churn-drift */
	const char *retrain_cmd;    /* sh -c command, or NULL */
	const char *pipeline_cmd;   /* sh -c command, or NULL */
	const char *admin_token;    /* CHURN_ADMIN_TOKEN */
	const char *webhook_secret; /* CHURN_WEBHOOK_SECRET */
	const char *store;          /* CHURN_STORE */
	const char *database_url;   /* CHURN_DATABASE_URL */
	int log_json;
	int access_log;
	int quiet;                  /* -q: no info lines in the log */
	size_t body_limit;
	unsigned threads;
	unsigned conn_limit;
	unsigned timeout;           /* idle connection timeout, seconds */
	double child_timeout;       /* drift check, seconds */
	double retrain_timeout;
	size_t child_output_limit;
	long window_rows;           /* rows per window file (two are kept;
	                               in the database, 2 * window_rows) */
};
extern struct config cfg;

/* --- log.c: one line per event on stderr, text or JSON --------------- */
/* slog("info", "reloaded", json_pack("{s:s}", "version", v)): fields is
 * stolen (may be NULL).  Thread-safe: one write(2) per line. */
void slog(const char *level, const char *msg, json_t *fields);

/* --- state.c: the loaded model, refcounted ------------------------- */
struct loaded {
	struct ch_model *m;
	atomic_long refs;           /* the holder owns one */
	char *path;                 /* model file on disk (for churn-drift -m) */
	char *source;               /* what it was loaded from, for messages */
	char *schema_json;          /* GET /predict/schema answer */
	size_t schema_len;
	char *describe_json;        /* GET /model answer */
	size_t describe_len;
	uint8_t *refcode;           /* [nfeat] code of the reference value */
	json_t **refval;            /* [nfeat] reference value (median/mode) */
	char loaded_at[21];
};

/* Takes a reference to the current model (NULL when none is loaded); the
 * caller scores with it and gives it back with model_release.  Never
 * blocks for longer than a pointer copy. */
struct loaded *model_acquire(void);
void model_release(struct loaded *l);

/*
 * Loads name (file path, alias or version; NULL: the configured one),
 * verifies it fully, then swaps it in.  Requests in flight keep the old
 * model until they release it.  Reloads are serialised.  Returns 0 with
 * version (if not NULL) set to the new version, or -1 with e filled and
 * the old model still serving.
 */
int model_reload(const char *name, char version[17], struct ch_err *e);
void model_shutdown(void);
long model_reload_count(void);
long model_reload_failures(void);
/* ISO time of the last successful reload, or "" */
void model_last_reload(char out[21]);
/* Registry listing for GET /models (new reference), or NULL with e. */
json_t *models_list(struct ch_err *e);
/* Records a drift report (registry or state dir); lists recent ones. */
int drift_record(json_t *report, struct ch_err *e);
json_t *drift_reports(int limit, struct ch_err *e);

/* --- reg.c: the registry (CHURN_STORE, CHURN_DATABASE_URL) ------------ */
int reg_enabled(void);
/* Resolves name (NULL: the newest version), pulls and verifies it, keeps
 * it as STATE/models/<version>.churn; *path is malloc'd. */
int reg_pull(const char *name, char **path, struct ch_err *e);
json_t *reg_models(struct ch_err *e);
int reg_record_drift(json_t *report, struct ch_err *e);
json_t *reg_drift_reports(int limit, struct ch_err *e);
/* The live-traffic window in the database (cfg.database_url): see
 * ch_registry_window_append and ch_registry_window_read. */
int reg_window_append(const char *lines, size_t len, long keep,
    long *refused, struct ch_err *e);
char *reg_window_read(long limit, size_t *len, long *rows, struct ch_err *e);
void reg_close(void);

/* --- metrics.c --------------------------------------------------- */
enum route {
	R_UI, R_STATIC, R_FAVICON, R_HEALTH, R_READY, R_SCHEMA, R_PREDICT,
	R_MODEL, R_MODELS, R_DRIFT_REPORTS, R_DRIFT_CHECK, R_RELOAD,
	R_RETRAIN, R_HOOK, R_METRICS, R_NOTFOUND, R_NROUTES
};
extern const char *const route_name[R_NROUTES];

void metrics_init(void);
void metrics_request(enum route r, int status, double seconds);
void metrics_predictions(long rows);
void metrics_drift(int drift, double share, const char *version);
long metrics_requests(void);
double metrics_rate(void);     /* requests per second, last minute */
double metrics_uptime(void);
/* Prometheus text exposition, malloc'd */
char *metrics_render(size_t *len);

/* --- window.c: the live-traffic window of scored rows --------------- */
/* Files in dir (two rotating JSON-lines files of rows lines each), or
 * with database set the database's churn_window table (the newest
 * 2 * rows rows kept). */
int window_open(const char *dir, long rows, int database, struct ch_err *e);
/* Appends one scored row: raw feature values of obj (schema features
 * only), probability, version, time. */
void window_add(const struct ch_schema *s, json_t *obj, double p,
    const char *version);
void window_add_raw(const struct ch_schema *s, json_t *obj,
    const char *body, size_t len, double p, const char *version);
/* The current window (oldest row first) as one malloc'd buffer of JSON
 * lines, or NULL with e (the database cannot be read). */
char *window_snapshot(size_t *len, long *rows, struct ch_err *e);
void window_flush(void);
void window_close(void);

/* --- bridge.c: run a program CGI-style ------------------------------ */
struct child_result {
	int exited;                 /* 1 when it exited (status in code) */
	int code;                   /* exit status, or signal number */
	int timed_out;
	int too_big;                /* stdout exceeded the limit */
	char *out;                  /* stdout, NUL-terminated */
	size_t outlen;
	char err[2048];             /* last bytes of stderr */
};
/* Runs argv with in[0..inlen) on stdin, collecting stdout up to limit
 * bytes, killing the child (and its process group) after timeout
 * seconds.  Returns 0 when it ran (see r), -1 with e when it could not
 * start. */
int bridge_run(char *const argv[], const char *in, size_t inlen,
    double timeout, size_t limit, struct child_result *r, struct ch_err *e);
void bridge_result_free(struct child_result *r);
/* Starts sh -c cmd in the background, detached, output appended to
 * logpath; env is a NULL-terminated list of NAME=value.  Returns the
 * pid or -1. */
pid_t bridge_background(const char *cmd, const char *logpath,
    char *const env[], struct ch_err *e);

/* --- assets (generated by scripts/embed) ---------------------------- */
struct asset {
	const char *path;           /* relative to ui/, e.g. "index.html" */
	const char *type;           /* content type */
	const unsigned char *data;
	size_t len;
};
extern const struct asset assets[];
extern const size_t nassets;
const struct asset *asset_find(const char *path);

/* --- http.c ------------------------------------------------------- */
struct MHD_Daemon;
/* Starts the daemon; bound receives the address it listens on. */
struct MHD_Daemon *http_start(const char *listen, char *bound,
    size_t boundlen, struct ch_err *e);
/* Stops accepting, waits up to grace seconds for requests in flight. */
void http_stop(struct MHD_Daemon *d, double grace);

#endif
