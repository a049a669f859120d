/*
 * registry.h - the model registry: versions, aliases, alias history and
 * drift reports, over a store (store.h) and an index kept either in that
 * store or in PostgreSQL (pg.h); registry.c calls one of two backends
 * (registry_impl.h) and never branches on which.
 */
#ifndef CHURN_REGISTRY_H
#define CHURN_REGISTRY_H

#include <stddef.h>

#include <jansson.h>

#include "store.h"
#include "util.h"

/*
 * The registry names the model artifacts kept in a store (store.h).
 *
 * Store layout (file:// and s3:// alike):
 *   models/<version>/model.churn      the model file, byte for byte
 *   models/<version>/manifest.json    version, sha256, size, created,
 *                                     metrics, params, schema, data, ...
 *   registry/index.json               the index (no database only)
 *   registry/drift.json               recent drift reports (no database only)
 *
 * Where the index lives:
 *   - database_url set (libpq conninfo or postgresql:// URL): PostgreSQL
 *     tables churn_model_versions, churn_aliases, churn_alias_history,
 *     churn_drift_reports, churn_window (churn-serve's live-traffic
 *     window, livewin.h), created and migrated on open (pg.h; table
 *     churn_schema_version); every change is one transaction, an alias
 *     names one version (primary key), the history is append-only (a
 *     trigger refuses UPDATE and DELETE).
 *   - otherwise registry/index.json in the store, rewritten whole under
 *     ch_store_lock (flock for file://).
 *
 * A version is registered only after its artifact and manifest are in the
 * store and verified, so every listed version can be pulled.
 *
 * A handle is not safe for concurrent use: give each thread its own, or
 * serialise calls.  Messages name the store, bucket and endpoint or the
 * database host:port/dbname, never a password or secret key.
 */
struct ch_registry;

struct ch_registry_opts {
	const char *store_url;     /* required: file://..., s3://bucket/prefix, or a path */
	const char *database_url;  /* NULL or "": index in the store */
	struct ch_store_opts s3;   /* endpoint, region, keys for s3:// */
	long db_timeout_s;         /* database: connecting, and each statement
	                              (statement_timeout); 0 = default (10 s to
	                              connect, statements unbounded) */
};

/* What a name resolves to. */
struct ch_version_ref {
	char version[64];
	char sha256[65];   /* SHA-256 of the whole artifact file, hex (what
	                      sha256sum prints, and m->sha256 of the model) */
	size_t size;       /* bytes of the artifact file */
};

/* The store every program uses when neither a flag nor CHURN_STORE names
 * one: a directory below the current one. */
#define CH_STORE_DEFAULT "var/store"

/*
 * Fills what o leaves NULL from the operator's configuration, read through
 * get (getenv, in a program: the library itself never reads the
 * environment): CHURN_STORE (else CH_STORE_DEFAULT), CHURN_DATABASE_URL,
 * CHURN_S3_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * CHURN_REGISTRY_TIMEOUT (seconds, 1 to 86400: s3.timeout_s and
 * db_timeout_s; other values are ignored).
 * Empty values count as unset.  Flags set in o first win.  The one place
 * a program's store default comes from: every program calls it.
 */
void ch_registry_opts_fill(struct ch_registry_opts *o,
    char *(*get)(const char *));

/* Opens the store and, with a database URL, connects and migrates the
 * schema.  Returns 0 or -1 with e filled (*out NULL). */
int ch_registry_open(const struct ch_registry_opts *o, struct ch_registry **out,
    struct ch_err *e);
void ch_registry_close(struct ch_registry *r);

/* Creates the bucket or directory when missing (churn-push --init). */
int ch_registry_init_store(struct ch_registry *r, struct ch_err *e);

/* Where things are, for messages: "file:///x" or "s3://b/p at http://h:p",
 * and "postgresql host:port/dbname" or "index in the store". */
const char *ch_registry_store_where(const struct ch_registry *r);
const char *ch_registry_db_where(const struct ch_registry *r);

/* The store itself, for callers that need it (owned by r). */
struct ch_store *ch_registry_store(struct ch_registry *r);

/*
 * Publishes a model artifact: uploads buf to models/<version>/model.churn,
 * reads it back and checks its SHA-256, uploads the manifest, then
 * registers the version (the commit point) and, when alias is not NULL,
 * points the alias at it in the same change.  Concurrent pushes and
 * pushes killed at any point never leave a registered version whose
 * artifact does not match its sha256 (registry.c says how, per backend).
 *
 * manifest must hold at least "version" (a string of [A-Za-z0-9._-],
 * 1..63 chars); "sha256", "size" and "pushed" are set here, "created"
 * defaults to now.  The manifest is borrowed, not stolen.
 *
 * Pushing the same bytes again is idempotent (*status "exists", and an
 * artifact found missing or truncated is uploaded again); a different
 * artifact under an already registered version is refused.
 * On success *out (when out is not NULL) is a new reference to
 * {"version","sha256","size","created","status":"registered"|"exists",
 *  "store":..,"aliases":[..]}.
 */
int ch_registry_push(struct ch_registry *r, const unsigned char *buf,
    size_t len, json_t *manifest, const char *alias, json_t **out,
    struct ch_err *e);

/*
 * Gives the model under another version name: *buf (malloc'd) with the
 * name inside, and *manifest (a new reference) with "version" set to it.
 * Returns 0, or -1 with e filled.
 */
typedef int (*ch_restamp_fn)(void *arg, const char *version,
    unsigned char **buf, size_t *len, json_t **manifest, struct ch_err *e);

/*
 * ch_registry_push, but a version of the form vYYYYMMDD-HHMMSS already
 * registered to other bytes is not refused: the model is published under
 * the next free second, as restamp(arg, ...) stamps it; the manifest then
 * also holds "renamed_from" (the version it was trained as).  Pushed
 * again, the same model finds its copy ("exists") instead of another
 * second.  Gives up after an hour of seconds.  restamp NULL is
 * ch_registry_push.
 */
int ch_registry_push_as(struct ch_registry *r, const unsigned char *buf,
    size_t len, json_t *manifest, const char *alias, ch_restamp_fn restamp,
    void *arg, json_t **out, struct ch_err *e);

/*
 * Removes what pushes that died left in the store: temporary directories
 * and files, and version directories no registered version owns (with a
 * database: only those no push is at work on).  A push to the index in a
 * file:// store does the same first.  Returns a new reference to
 * {"removed":[{"key","bytes"}],"bytes":total}, or NULL with e filled.
 */
json_t *ch_registry_gc(struct ch_registry *r, struct ch_err *e);

/* Resolves an alias or a version (aliases win when both exist). */
int ch_registry_resolve(struct ch_registry *r, const char *name,
    struct ch_version_ref *ref, struct ch_err *e);

/*
 * Resolves name and fetches the artifact, checking its size and SHA-256
 * against the registry: a tampered or truncated object fails with a
 * message naming the version, the store and both checksums.  *buf is
 * malloc'd; ref (may be NULL) receives what name resolved to.
 */
int ch_registry_pull(struct ch_registry *r, const char *name,
    unsigned char **buf, size_t *len, struct ch_version_ref *ref,
    struct ch_err *e);

/* {"versions":[{"version","sha256","size","created","metrics":{..},
 *   "params":{..},"aliases":[..]}] (oldest first),
 *  "aliases":{"champion":"v.."}}, a new reference, or NULL with e. */
json_t *ch_registry_list(struct ch_registry *r, struct ch_err *e);

/* The manifest of one version (alias or version) plus "aliases":[..]. */
json_t *ch_registry_show(struct ch_registry *r, const char *name,
    struct ch_err *e);

/* {"history":[{"alias","version","previous","time","action"}]} oldest
 * first; alias NULL for every alias.  action is "set", "rollback" or
 * "rollout" (a rollout change: alias is the challenger, version what it
 * named, and also "champion", "mode", "share", "rollout" (its id),
 * "actor" and "reason"; listed for its champion alias too). */
json_t *ch_registry_history(struct ch_registry *r, const char *alias,
    struct ch_err *e);

/*
 * Points alias at the version name resolves to, recording the move in the
 * history (action "set").  Setting the version the alias already names
 * changes nothing.  Alias names: [A-Za-z][A-Za-z0-9._-]*, not a version.
 */
int ch_registry_alias_set(struct ch_registry *r, const char *alias,
    const char *name, struct ch_err *e);

/*
 * Moves alias back to the version it named before its current one (undo
 * of the last "set"; repeated rollbacks walk further back), recorded as
 * action "rollback".  ref (may be NULL) receives the version now named.
 * Fails when the alias has no earlier version.
 */
int ch_registry_rollback(struct ch_registry *r, const char *alias,
    struct ch_version_ref *ref, struct ch_err *e);

/*
 * Drift reports (churn-drift --record, churn-serve).  record_drift keeps a
 * copy of report (a drift report object: ch_drift_report in drift.h, and
 * churn-drift(1), section Report);
 * drift_reports returns {"reports":[report,...]} newest last, at most
 * limit of the most recent (0 = 100).  Without a database they live in
 * registry/drift.json in the store (the newest 1000 are kept).
 */
int ch_registry_record_drift(struct ch_registry *r, json_t *report,
    struct ch_err *e);
json_t *ch_registry_drift_reports(struct ch_registry *r, size_t limit,
    struct ch_err *e);

/*
 * churn-serve's live-traffic window (livewin.h says what these do), over
 * the registry's database: both fail with "no database is configured" for
 * a registry whose index is in the store (the caller keeps files then).
 * The old names, kept while callers move to ch_livewin_append/read.
 */
int ch_registry_window_append(struct ch_registry *r, const char *lines,
    size_t len, long keep, long *refused, struct ch_err *e);
char *ch_registry_window_read(struct ch_registry *r, long limit, size_t *len,
    long *rows, struct ch_err *e);
/*
 * window_page reads the same newest keep rows a page at a time: those with
 * an id above after (0 at first), oldest first, at most max of them, in
 * the form window_read gives; *last receives the id to pass as after for
 * the next page (*rows < max: there is none).
 */
char *ch_registry_window_page(struct ch_registry *r, long keep, long after,
    long max, long *last, size_t *len, long *rows, struct ch_err *e);

/*
 * The rollout: which alias is the champion, which the challenger, and how
 * churn-serve splits traffic between them (rollout.h routes one row).
 * Kept with the aliases (registry/index.json "rollout" and "rollouts", or
 * the append-only PostgreSQL table churn_rollouts); every change is one
 * event in the alias history (action "rollout", with actor and reason).
 *
 * id seeds the canary's assignment hash.  A rollout set keeps the current
 * id while the rollout stays on with the same two alias names and the
 * challenger alias still names the same version (so raising the share
 * from 10 to 50 keeps the first 10 % of customers on the challenger); any
 * other change (starting from off, another challenger version or alias)
 * draws a new id, and so a fresh group of customers.
 */
enum ch_rollout_mode { CH_ROLLOUT_OFF, CH_ROLLOUT_CANARY, CH_ROLLOUT_SHADOW };

struct ch_rollout {
	long long id;                /* 0: no rollout ever set */
	char champion[64];           /* alias names */
	char challenger[64];
	char challenger_version[64]; /* what challenger named when set ("" off) */
	enum ch_rollout_mode mode;
	double share;                /* canary: percent of customers, 0..100 */
	char time[21];               /* when set, ISO-8601 UTC */
	char actor[64];              /* who ($CHURN_ACTOR or $USER, by the caller) */
	char reason[256];            /* why (may be "") */
};

/* "off", "canary", "shadow"; and back (-1: none of these). */
const char *ch_rollout_mode_name(enum ch_rollout_mode m);
int ch_rollout_mode_parse(const char *s);

/* {"id","champion","challenger","challenger_version","mode","share",
 *  "time","actor","reason"}, a new reference. */
json_t *ch_rollout_json(const struct ch_rollout *ro);

/* The current rollout into *ro (none set: id 0, mode off, aliases
 * "champion" and "challenger"). */
int ch_registry_rollout(struct ch_registry *r, struct ch_rollout *ro,
    struct ch_err *e);

/*
 * Sets the rollout from ro's champion, challenger, mode, share, actor and
 * reason, recorded in the history; fills ro's id, time and
 * challenger_version.  Refused: bad alias names or the same name twice, a
 * share outside 0..100, and (mode not off) a challenger or champion alias
 * that names no version.
 */
int ch_registry_rollout_set(struct ch_registry *r, struct ch_rollout *ro,
    struct ch_err *e);

#endif
