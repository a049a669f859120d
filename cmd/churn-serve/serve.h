/* serve.h - churn-serve's parts: configuration, model holder, metrics,
 * live-traffic window, CGI-style bridge, embedded assets, logging */
#ifndef CHURN_SERVE_H
#define CHURN_SERVE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "model.h"
#include "registry.h"
#include "util.h"

/* Everything the operator configures (flags beat the environment).
 * main.c fills it before the server starts; nothing writes it after. */
struct config {
	const char *listen;         /* ADDR:PORT as given */
	const char *model;          /* file path, alias or version as given;
	                               reloads change model_target() */
	const char *state_dir;      /* window, drift history, pulled models */
	const char *pid_file;
	const char *drift_cmd;      /* churn-drift */
	const char *drift_opts[8];  /* --drift-option: passed to it */
	int ndrift_opts;
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
	unsigned per_ip_limit;      /* connections per client address, 0: any */
	double request_timeout;     /* to send a whole request, seconds */
	double child_timeout;       /* drift check, seconds */
	double retrain_timeout;
	size_t child_output_limit;
	long window_rows;           /* rows per window file (two are kept;
	                               in the database, 2 * window_rows) */
	double refresh_interval;    /* registry view refresh, seconds */
	double drain;               /* SIGTERM: /ready 503 this long first */
	unsigned registry_timeout;  /* each registry call, seconds */
	size_t window_row_bytes;    /* a longer row is not kept */
	size_t window_bytes;        /* both window files together */
	const char *const *cors_origins;    /* NULL-terminated; NULL: no CORS */
	int predlog;                /* keep scored rows in the prediction log */
	long predlog_flush_rows;    /* write when this many are queued */
	double predlog_flush_interval;      /* or this many seconds passed */
	long predlog_queue;         /* rows queued at most (more: dropped) */
	long predlog_retain_days;   /* prune older rows; 0: keep all */
};
extern struct config cfg;

/* --- log.c: one line per event on stderr, text or JSON --------------- */
/* slog("info", "reloaded", json_pack("{s:s}", "version", v)): fields is
 * stolen (may be NULL).  Thread-safe: one write(2) per line. */
void slog(const char *level, const char *msg, json_t *fields);
/* Text from outside (a request's path, method, query or headers, a CSV
 * cell, a child's output, a message quoting any of these) as a JSON
 * string, the bytes that are not UTF-8 shown as \xNN: the one way such
 * text enters JSON, in answers and in logs alike; jtext(NULL) is JSON
 * null.  NULL only when out of memory (json_pack then fails too, and
 * callers handle that).
 * slog("warn", "x", json_pack("{s:o}", "path", jtext(url))). */
json_t *jtext(const char *s);
json_t *jtextn(const char *s, size_t len);

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
	struct plkeys *plkeys;      /* the prediction log's keys (predlog.c) */
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
/* What a reload without a name loads (the last name reloaded, else
 * cfg.model), as a malloc'd copy the caller frees; NULL when neither is
 * set (the newest version in the registry).  cfg itself never changes
 * after start-up. */
char *model_target(void);
void model_shutdown(void);
long model_reload_count(void);
long model_reload_failures(void);
/* ISO time of the last successful reload, or "" */
void model_last_reload(char out[21]);
/*
 * GET /models and GET /drift/reports answers, from the refresher's view
 * with a registry (never the network), else from the loaded model and
 * the state dir.  A new reference the caller must not change, or NULL
 * with e; *retry > 0 then means 503 with Retry-After: *retry seconds.
 */
json_t *models_list(int *retry, struct ch_err *e);
json_t *drift_reports(int limit, int *retry, struct ch_err *e);
/* Records a drift report (registry, bounded by cfg.registry_timeout, no
 * lock held that scoring takes; or the state dir), then lets the
 * refresher read it back before returning. */
int drift_record(json_t *report, struct ch_err *e);

/*
 * The rollout (registry.h): the challenger beside the champion.  The
 * champion is the model above; the challenger is the version the
 * registry's rollout names (its challenger_version), held the same way.
 * rollout_acquire copies the rollout into *ro and returns a reference to
 * the challenger (NULL when the rollout is off or none is held): release
 * it with model_release.  rollout_refresh reads the rollout from the
 * registry and, when it changed, loads the challenger's version (fully
 * verified before it is swapped in) or drops it; run on reload, SIGHUP
 * and each refresher round.  Without a registry the rollout is off.
 */
struct loaded *rollout_acquire(struct ch_rollout *ro);
int rollout_refresh(struct ch_err *e);

/* --- rollout.c: what each version of a rollout answered -------------- */
/* A row scored by the champion (challenger 0) or the challenger, in
 * shadow too (answered 0); a request's rows scored by each and its time;
 * all forgotten when the rollout changes (rollout_reset). */
void rollout_note(int challenger, const char *version, double p,
    int answered);
void rollout_reset(void);
void rollout_request(const long rows[2], double seconds);
/* GET /rollout's answer without the comparison (a new reference) */
json_t *rollout_state(void);
/* /metrics: requests, latency and score histograms per version, the
 * share */
void rollout_metrics(FILE *fp);

/* --- refresher.c: the registry view, refreshed off the request path --- */
/*
 * One background thread owns the periodic and deferred registry work: each
 * cfg.refresh_interval seconds, or at once when woken, it runs its steps
 * (a table in refresher.c: reload the target on SIGHUP, fetch the
 * registry's versions, aliases, history and drift reports) and publishes
 * the result.  Request threads answer from it and never wait on the
 * network.  To extend it, add a step (e.g. resolve the configured alias
 * each round and reload when it moved) or a waker (e.g. a PostgreSQL
 * LISTEN connection calling refresher_wake(REFRESH_REGISTRY) on NOTIFY).
 */
enum { REFRESH_REGISTRY = 1, REFRESH_RELOAD = 2 };
enum view { V_MODELS, V_REPORTS, V_NVIEWS };
int refresher_start(struct ch_err *e);
/* Waits for the round in progress (bounded by cfg.registry_timeout per
 * call), then joins the thread. */
void refresher_stop(void);
/* Asks for a round now (REFRESH_* bits); never blocks on the network. */
void refresher_wake(unsigned what);
/* Asks for a round and waits until one that started after this call has
 * ended, or timeout seconds; returns at once on the refresher's own thread
 * or when it is not running.  For writers that want to read their write. */
void refresher_sync(double timeout);
/* A new reference to the last view fetched (V_MODELS: GET /models's
 * answer; V_REPORTS: {"reports":[...]} newest last, at most 1000), shared:
 * never change it, json_decref it.  NULL with e and *retry (seconds) before
 * the first successful round, or when the last is older than the
 * staleness bound, 3 * cfg.refresh_interval + cfg.registry_timeout.
 * *age (may be NULL): seconds since that round. */
json_t *refresher_view(enum view v, double *age, int *retry,
    struct ch_err *e);

/* --- reg.c: the registry (CHURN_STORE, CHURN_DATABASE_URL) ------------ */
int reg_enabled(void);
/* A store for the prediction log and outcomes: CHURN_STORE, a database,
 * or the default store (var/store) when it exists */
int reg_available(void);
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
/* The window a page at a time: see ch_registry_window_page */
char *reg_window_page(long keep, long after, long max, long *last,
    size_t *len, long *rows, struct ch_err *e);
int reg_rollout(struct ch_rollout *ro, struct ch_err *e);
/* The prediction log, outcomes and live performance (predlog.h,
 * outcomes.h, perf.h), each on a handle of its own */
struct ch_outcome;
struct ch_outcomes_stats;
struct ch_perf_opts;
int reg_predlog_append_jsonl(const char *lines, size_t len, time_t day,
    struct ch_err *e);
int reg_predlog_prune(long days, size_t *removed, struct ch_err *e);
int reg_outcomes_record(const struct ch_outcome *rows, size_t n,
    struct ch_outcomes_stats *st, struct ch_err *e);
json_t *reg_perf(const struct ch_perf_opts *o, struct ch_err *e);
/* The comparison of rollout ro's two versions (compare.h): q's since is
 * set from the rollout's history, then ch_compare_registry */
struct ch_cmp_query;
json_t *reg_compare(const struct ch_rollout *ro, struct ch_cmp_query *q,
    struct ch_err *e);
void reg_close(void);

/* --- predlog.c: the prediction log written from /predict ------------ */
/*
 * On with a store (reg_available, as found at start) unless --predlog
 * off.  A request gathers its scored
 * rows (predlog_begin: NULL when the log is off, and every call below
 * takes NULL), then hands them over once answered (predlog_commit) or
 * forgets them (predlog_abort); neither waits on I/O.  who: 0 the
 * champion answered, 1 the challenger; shadowed: the challenger scored sp
 * beside the champion's p.  obj holds the row's fields (its id under the
 * model's id column, its features by name), vals its features as
 * ch_json_fields gives them for the model who (NULL: looked up here);
 * predlog_add reads them at once and keeps no reference.
 */
struct plreq;
int predlog_enabled(void);
/* A loaded model's part in the log's lines, made once (prepare), freed
 * with the model */
struct plkeys *predlog_keys(const struct ch_model *m);
struct plreq *predlog_begin(const struct loaded *champ,
    const struct loaded *chal);
void predlog_add(struct plreq *q, json_t *obj, json_t *const *vals,
    int who, double p, int shadowed, double sp);
void predlog_commit(struct plreq *q);
void predlog_abort(struct plreq *q);
/* The writer thread; predlog_stop writes what is queued, then ends it. */
int predlog_start(struct ch_err *e);
void predlog_stop(void);
/* The refresher's step: drops rows older than --predlog-retain-days, at
 * most once every PREDLOG_PRUNE_EVERY seconds; failures are logged. */
#define PREDLOG_PRUNE_EVERY 3600
int predlog_prune(struct ch_err *e);
void predlog_metrics(FILE *fp);

/* --- routes.c ------------------------------------------------------- */
extern const size_t nroutes;    /* rows of the route table (http.h) */
/* Route i's metric label (routes[i].name); "other" for -1 (no route) */
const char *route_name(int i);

/* --- prom.c: request metrics, Prometheus text ---------------------- */
void metrics_init(void);
/* A request answered: route is an index in the route table, -1 none */
void metrics_request(int route, int status, double seconds);
void metrics_predictions(long rows);
void metrics_drift(int drift, double share, const char *version);
/* connections refused when they open (over their address's limit, over
 * the total) or closed before their request was whole (past the request
 * deadline, to make room for a new client) */
enum refusal { REF_PER_IP, REF_LIMIT, REF_DEADLINE, REF_EVICTED, REF_N };
void metrics_refused(enum refusal why);
long metrics_refused_count(enum refusal why);
long metrics_requests(void);
double metrics_rate(void);     /* requests per second, last minute */
double metrics_uptime(void);
/* Prometheus text exposition, malloc'd */
char *metrics_render(size_t *len);

/* --- window.c: the live-traffic window of scored rows --------------- */
/* Files in dir (two rotating JSON-lines files of rows lines each, together
 * at most max_bytes), or with database set the database's churn_window
 * table (the newest 2 * rows rows kept).  A row over row_bytes is not
 * kept.  0 for a bound: its default (8 KiB a row, 64 MiB a window). */
int window_open(const char *dir, long rows, size_t row_bytes,
    size_t max_bytes, int database, struct ch_err *e);
/* Appends one scored row: the values of obj's schema features and id
 * column only, probability, version, time.  vals: obj's features as
 * ch_json_fields gives them for s, or NULL to look them up here. */
void window_add(const struct ch_schema *s, json_t *obj, json_t *const *vals,
    double p, const char *version);
/* In shadow: also the challenger's probability and version
 * ("challenger_probability", "challenger_version") */
void window_add_shadow(const struct ch_schema *s, json_t *obj,
    json_t *const *vals, double p, const char *version, double p2,
    const char *version2);
/* The current window, oldest row first, read a piece at a time as JSON
 * lines by window_feed (a bridge_feed): opened with *rows rows and *bytes
 * bytes (in the database: those of its first page, 0 when empty), or
 * NULL with e (the database cannot be read).  Closed by the caller. */
struct window_reader;
struct window_reader *window_reader_open(long *rows, size_t *bytes,
    struct ch_err *e);
ssize_t window_feed(void *arg, char *buf, size_t n);
/* Returns the rows read from the database (0 for files), or -1 with e
 * when a page could not be read (what the child got is cut short). */
long window_reader_close(struct window_reader *wr, struct ch_err *e);
void window_flush(void);
void window_close(void);

/* --- bridge.c: run a program CGI-style ------------------------------ */
struct child_result {
	int exited;                 /* 1 when it exited (status in code) */
	int code;                   /* exit status, or signal number */
	int timed_out;
	int too_big;                /* stdout exceeded the limit */
	int cancelled;              /* killed by bridge_cancel_all */
	char *out;                  /* stdout, NUL-terminated */
	size_t outlen;
	char err[2048];             /* last bytes of stderr */
};
/* Fills buf with up to n bytes of a child's stdin; returns how many, 0 at
 * the end (or -1: stop, stdin is closed). */
typedef ssize_t (*bridge_feed)(void *arg, char *buf, size_t n);
/* A feed over p[0..len) */
struct bridge_buf {
	const char *p;
	size_t len, off;
};
ssize_t bridge_feed_buf(void *arg, char *buf, size_t n);
/*
 * Runs argv with what feed(arg, ...) gives on stdin (feed NULL: empty
 * stdin), read as the child takes it, collecting stdout up to limit
 * bytes, killing the child (and its process group) after timeout seconds
 * or at bridge_cancel_all.  Returns 0 when it ran (see r), -1 with e when
 * it could not start.  Blocks: run it on a thread of its own.
 */
int bridge_run(char *const argv[], bridge_feed feed, void *arg,
    double timeout, size_t limit, struct child_result *r, struct ch_err *e);
void bridge_result_free(struct child_result *r);
/* Shutdown: kills every bridge_run child within 0.1 s, and refuses new
 * ones. */
void bridge_cancel_all(void);
/* Starts sh -c cmd in a session of its own, stdin /dev/null, output
 * appended to logpath; env is a NULL-terminated list of NAME=value.
 * Returns the pid (the caller waits for it) or -1 with e. */
pid_t bridge_spawn(const char *cmd, const char *logpath,
    char *const env[], struct ch_err *e);

/* --- hooks.c: webhook deliveries seen, and the one pipeline ---------- */
/* Where accepted deliveries are remembered for HOOK_KEEP seconds: a file
 * in the state directory (hook_ledger_file), or with a database one table
 * shared by a fleet (hook_ledger_db), behind the same two calls. */
#define HOOK_KEEP (24 * 3600)
struct hook_ledger {
	/* keys (NULL-terminated: the delivery id, the body's digest):
	 * 1 when none was seen (all are recorded now), 0 when one was,
	 * -1 with e when the ledger cannot be written.  Not thread-safe:
	 * the caller serialises. */
	int (*claim)(struct hook_ledger *l, const char *const keys[],
	    time_t now, struct ch_err *e);
	void (*close)(struct hook_ledger *l);
};
struct hook_ledger *hook_ledger_file(const char *dir);
/* The fleet's: table churn_hook_deliveries in cfg.database_url */
struct hook_ledger *hook_ledger_db(void);
/* Runs cfg.pipeline_cmd with env (NAME=value list, copied) unless one
 * runs (here, or with a database anywhere in the fleet: *pid is then
 * -1): then it is queued, replacing a queued one (coalesced).  Returns
 * PIPE_STARTED with *pid, PIPE_QUEUED, PIPE_COALESCED, or -1 with e. */
enum { PIPE_STARTED, PIPE_QUEUED, PIPE_COALESCED };
int pipeline_submit(char *const env[], pid_t *pid, struct ch_err *e);
/* Shutdown: drops the queued run; a running one is left to finish. */
void pipeline_stop(void);

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
/* SIGTERM's first step: /ready answers 503 and every answer closes its
 * connection, while requests are still served (--drain seconds). */
void http_drain(void);
/* Stops accepting, waits up to grace seconds for requests in flight. */
void http_stop(struct MHD_Daemon *d, double grace);
/* guard.c: open client connections */
unsigned guard_open(void);

#endif
