/* registry.c - model versions, aliases, alias history and drift reports */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "registry.h"

#define INDEX_KEY "registry/index.json"
#define DRIFT_KEY "registry/drift.json"
#define DRIFT_KEEP 1000

struct ch_registry {
	struct ch_store *store;
	PGconn *pg;
	int in_tx;         /* inside BEGIN ... COMMIT/ROLLBACK */
	char dbwhere[512];
	char setup[128];   /* session settings, again after a reconnection */
};

/* ---- names ---- */

static int
valid_version(const char *v)
{
	size_t n = v ? strlen(v) : 0;

	if (n == 0 || n > 63 || !isalnum((unsigned char)v[0]))
		return 0;
	return strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == n;
}

/* Aliases: a letter first, and not "v<digit>..." so that no alias can be
 * mistaken for a version string. */
static int
valid_alias(const char *a)
{
	if (!valid_version(a) || !isalpha((unsigned char)a[0]))
		return 0;
	return !(a[0] == 'v' && isdigit((unsigned char)a[1]));
}

static void
artifact_key(const char *version, char *out, size_t n)
{
	snprintf(out, n, "models/%s/model.churn", version);
}

static void
manifest_key(const char *version, char *out, size_t n)
{
	snprintf(out, n, "models/%s/manifest.json", version);
}

static void
now_iso(char out[21])
{
	ch_iso8601(time(NULL), out);
}

/* ---- PostgreSQL ---- */

static void
quiet_notices(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* One line out of a libpq message: newlines and tabs become spaces, runs
 * of blanks collapse, trailing blanks go. */
static void
one_line(const char *in, char *out, size_t n)
{
	size_t j = 0;
	int blank = 0;

	for (; in && *in && j + 1 < n; in++) {
		if (isspace((unsigned char)*in)) {
			blank = 1;
			continue;
		}
		if (blank && j > 0 && j + 2 < n)
			out[j++] = ' ';
		blank = 0;
		out[j++] = *in;
	}
	out[j] = '\0';
}

static int
pg_errf(struct ch_registry *r, const char *what, PGresult *res, struct ch_err *e)
{
	char line[768];

	one_line(res ? PQresultErrorMessage(res) : PQerrorMessage(r->pg), line,
	    sizeof line);
	if (!*line)
		one_line(PQerrorMessage(r->pg), line, sizeof line);
	return ch_errf(e, "database %s: %s: %s", r->dbwhere, what, line);
}

/* Runs sql with text parameters; returns the result (caller clears) or
 * NULL with e filled. */
/*
 * Runs sql with text parameters; returns the result (caller clears) or
 * NULL with e filled.  A connection lost while idle (the server restarted,
 * an idle timeout) is re-established once, outside transactions only, so
 * a long-running churn-serve survives a database restart.
 */
static PGresult *
pg_exec(struct ch_registry *r, const char *what, const char *sql, int n,
    const char *const *params, struct ch_err *e)
{
	int retry = !r->in_tx;
	PGresult *res;
	ExecStatusType st;

	for (;;) {
		res = n ? PQexecParams(r->pg, sql, n, NULL, params, NULL, NULL, 0) :
		    PQexec(r->pg, sql);
		st = PQresultStatus(res);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
			return res;
		if (!retry || PQstatus(r->pg) != CONNECTION_BAD)
			break;
		retry = 0;
		PQreset(r->pg);
		if (PQstatus(r->pg) != CONNECTION_OK)
			break;
		PQclear(res);
		PQclear(PQexec(r->pg, r->setup));
	}
	pg_errf(r, what, res, e);
	PQclear(res);
	return NULL;
}

static int
pg_do(struct ch_registry *r, const char *what, const char *sql, int n,
    const char *const *params, struct ch_err *e)
{
	PGresult *res = pg_exec(r, what, sql, n, params, e);

	PQclear(res);
	return res ? 0 : -1;
}

static int
pg_begin(struct ch_registry *r, struct ch_err *e)
{
	if (pg_do(r, "begin", "BEGIN", 0, NULL, e) < 0)
		return -1;
	r->in_tx = 1;
	return 0;
}

static int
pg_commit(struct ch_registry *r, struct ch_err *e)
{
	int rc = pg_do(r, "commit", "COMMIT", 0, NULL, e);

	r->in_tx = 0;
	return rc;
}

static void
pg_rollback(struct ch_registry *r)
{
	PQclear(PQexec(r->pg, "ROLLBACK"));
	r->in_tx = 0;
}

/* Schema migrations, applied in order; churn_schema_version records the
 * highest one applied.  Append only: never edit a released migration. */
static const char *const migrations[] = {
	/* 1: versions, aliases, append-only alias history, drift reports */
	"CREATE TABLE churn_model_versions ("
	"  seq bigserial UNIQUE,"
	"  version text PRIMARY KEY CHECK (version ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),"
	"  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),"
	"  size bigint NOT NULL CHECK (size >= 0),"
	"  created timestamptz NOT NULL,"
	"  registered timestamptz NOT NULL DEFAULT now(),"
	"  manifest json NOT NULL);"
	"CREATE TABLE churn_aliases ("
	"  alias text PRIMARY KEY,"
	"  version text NOT NULL REFERENCES churn_model_versions(version),"
	"  updated timestamptz NOT NULL DEFAULT now());"
	"CREATE TABLE churn_alias_history ("
	"  id bigserial PRIMARY KEY,"
	"  alias text NOT NULL,"
	"  version text NOT NULL REFERENCES churn_model_versions(version),"
	"  previous text REFERENCES churn_model_versions(version),"
	"  action text NOT NULL CHECK (action IN ('set', 'rollback')),"
	"  time timestamptz NOT NULL DEFAULT now());"
	"CREATE INDEX churn_alias_history_alias ON churn_alias_history (alias, id);"
	"CREATE FUNCTION churn_alias_history_append_only() RETURNS trigger"
	"  LANGUAGE plpgsql AS $$ BEGIN"
	"  RAISE EXCEPTION 'churn_alias_history is append-only'; END $$;"
	"CREATE TRIGGER churn_alias_history_no_update BEFORE UPDATE OR DELETE"
	"  ON churn_alias_history FOR EACH ROW"
	"  EXECUTE FUNCTION churn_alias_history_append_only();"
	"CREATE TRIGGER churn_alias_history_no_truncate BEFORE TRUNCATE"
	"  ON churn_alias_history FOR EACH STATEMENT"
	"  EXECUTE FUNCTION churn_alias_history_append_only();"
	"CREATE TABLE churn_drift_reports ("
	"  id bigserial PRIMARY KEY,"
	"  model_version text,"
	"  time timestamptz NOT NULL DEFAULT now(),"
	"  drift boolean,"
	"  report json NOT NULL);",
	/* 2: churn-serve's live-traffic window (IF NOT EXISTS: a table made
	 * by hand before the step is kept) */
	"CREATE TABLE IF NOT EXISTS churn_window ("
	"  id bigserial PRIMARY KEY,"
	"  created timestamptz NOT NULL DEFAULT now(),"
	"  model_version text,"
	"  probability double precision,"
	"  row jsonb NOT NULL);",
	/* 3: customer outcomes (churn-outcomes), one per customer and time */
	"CREATE TABLE churn_outcomes ("
	"  customer_id text NOT NULL CHECK (length(customer_id) BETWEEN 1 AND 256),"
	"  time timestamptz NOT NULL,"
	"  outcome boolean NOT NULL,"
	"  recorded timestamptz NOT NULL DEFAULT now(),"
	"  PRIMARY KEY (customer_id, time));",
	/* 4: the prediction log (predlog.h), append-only, pruned by age */
	"CREATE TABLE churn_predictions ("
	"  id bigserial PRIMARY KEY,"
	"  customer_id text NOT NULL,"
	"  time timestamptz NOT NULL,"
	"  model_version text NOT NULL,"
	"  probability double precision NOT NULL,"
	"  features jsonb NOT NULL);"
	"CREATE INDEX churn_predictions_customer ON churn_predictions (customer_id, time);"
	"CREATE INDEX churn_predictions_time ON churn_predictions (time);",
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

static int
pg_migrate(struct ch_registry *r, struct ch_err *e)
{
	PGresult *res;
	char num[16];
	const char *p[1];
	int cur, i;

	if (pg_begin(r, e) < 0)
		return -1;
	/* serialise concurrent first runs; the key is arbitrary but fixed */
	if (pg_do(r, "migrate", "SELECT pg_advisory_xact_lock(7302114431)", 0, NULL, e) < 0 ||
	    pg_do(r, "migrate", "CREATE TABLE IF NOT EXISTS churn_schema_version ("
	    " version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())",
	    0, NULL, e) < 0)
		goto fail;
	if (!(res = pg_exec(r, "migrate", "SELECT coalesce(max(version), 0)"
	    " FROM churn_schema_version", 0, NULL, e)))
		goto fail;
	cur = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (cur > NMIGRATIONS) {
		ch_errf(e, "database %s: schema version %d is newer than this "
		    "program knows (%d); upgrade churn", r->dbwhere, cur, NMIGRATIONS);
		goto fail;
	}
	for (i = cur; i < NMIGRATIONS; i++) {
		snprintf(num, sizeof num, "%d", i + 1);
		p[0] = num;
		if (pg_do(r, "migrate", migrations[i], 0, NULL, e) < 0 ||
		    pg_do(r, "migrate", "INSERT INTO churn_schema_version (version)"
		    " VALUES ($1::integer)", 1, p, e) < 0)
			goto fail;
	}
	return pg_commit(r, e);
fail:
	pg_rollback(r);
	return -1;
}

/* "host:port/dbname" from a conninfo string or URL, without the password;
 * -1 when it does not parse. */
static int
pg_where(const char *url, char *out, size_t n)
{
	PQconninfoOption *opts, *o;
	const char *host = NULL, *port = NULL, *db = NULL, *user = NULL;
	char *err = NULL;

	if (!(opts = PQconninfoParse(url, &err))) {
		PQfreemem(err);
		snprintf(out, n, "(bad database URL)");
		return -1;
	}
	for (o = opts; o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0 && !host)
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
		else if (strcmp(o->keyword, "user") == 0)
			user = o->val;
	}
	snprintf(out, n, "%s:%s/%s", host ? host : "localhost", port ? port : "5432",
	    db ? db : user ? user : "postgres");
	PQconninfoFree(opts);
	return 0;
}

static int
pg_open(struct ch_registry *r, const char *url, long timeout_s,
    struct ch_err *e)
{
	/* a server that accepts and never answers holds a call no longer
	 * than connect_timeout (the whole start-up), statement_timeout and
	 * tcp_user_timeout (unacknowledged data) */
	const char *kw[] = {"dbname", "connect_timeout", "application_name",
	    "tcp_user_timeout", NULL};
	char ct[24], tut[24], line[768];
	const char *val[] = {url, ct, "churn", tut, NULL};

	snprintf(ct, sizeof ct, "%ld", timeout_s > 0 ? timeout_s : 10);
	snprintf(tut, sizeof tut, "%ld", timeout_s * 1000);
	if (timeout_s <= 0)     /* the URL's, or the system's */
		kw[3] = NULL;
	snprintf(r->setup, sizeof r->setup, "SET client_min_messages = warning");
	if (timeout_s > 0)      /* else whatever the URL's options say */
		snprintf(r->setup, sizeof r->setup, "SET client_min_messages = "
		    "warning; SET statement_timeout = %ld", timeout_s * 1000);
	/* libpq's parse errors may quote the string, password and all */
	if (pg_where(url, r->dbwhere, sizeof r->dbwhere) < 0)
		return ch_errf(e, "bad database URL: not a libpq connection string "
		    "or postgresql:// URL");
	r->pg = PQconnectdbParams(kw, val, 1);
	if (!r->pg)
		return ch_errf(e, "database %s: out of memory", r->dbwhere);
	if (PQstatus(r->pg) != CONNECTION_OK) {
		one_line(PQerrorMessage(r->pg), line, sizeof line);
		return ch_errf(e, "cannot connect to database %s: %s", r->dbwhere, line);
	}
	PQsetNoticeProcessor(r->pg, quiet_notices, NULL);
	if (pg_do(r, "setup", r->setup, 0, NULL, e) < 0)
		return -1;
	return pg_migrate(r, e);
}

/* ---- open / close ---- */

static const char *
nonempty(char *(*get)(const char *), const char *name)
{
	const char *v = get(name);

	return v && *v ? v : NULL;
}

void
ch_registry_opts_fill(struct ch_registry_opts *o, char *(*get)(const char *))
{
	const char *t;
	char *end;
	long v;

	if (!o->store_url)
		o->store_url = nonempty(get, "CHURN_STORE");
	if (!o->store_url)
		o->store_url = CH_STORE_DEFAULT;
	if (!o->database_url)
		o->database_url = nonempty(get, "CHURN_DATABASE_URL");
	if (!o->s3.endpoint)
		o->s3.endpoint = nonempty(get, "CHURN_S3_ENDPOINT");
	if (!o->s3.region)
		o->s3.region = nonempty(get, "AWS_REGION");
	if (!o->s3.access_key)
		o->s3.access_key = nonempty(get, "AWS_ACCESS_KEY_ID");
	if (!o->s3.secret_key)
		o->s3.secret_key = nonempty(get, "AWS_SECRET_ACCESS_KEY");
	if ((t = nonempty(get, "CHURN_REGISTRY_TIMEOUT"))) {
		errno = 0;
		v = strtol(t, &end, 10);
		if (!errno && end != t && !*end && v >= 1 && v <= 86400) {
			if (!o->s3.timeout_s)
				o->s3.timeout_s = v;
			if (!o->db_timeout_s)
				o->db_timeout_s = v;
		}
	}
}

int
ch_registry_open(const struct ch_registry_opts *o, struct ch_registry **out,
    struct ch_err *e)
{
	struct ch_registry *r = ch_calloc(1, sizeof *r);

	*out = NULL;
	if (ch_store_open(o->store_url, &o->s3, &r->store, e) < 0)
		goto fail;
	if (o->database_url && *o->database_url) {
		if (pg_open(r, o->database_url, o->db_timeout_s, e) < 0)
			goto fail;
	} else
		snprintf(r->dbwhere, sizeof r->dbwhere, "index in %s",
		    ch_store_where(r->store));
	*out = r;
	return 0;
fail:
	ch_registry_close(r);
	return -1;
}

void
ch_registry_close(struct ch_registry *r)
{
	if (!r)
		return;
	if (r->pg)
		PQfinish(r->pg);
	ch_store_close(r->store);
	free(r);
}

int
ch_registry_init_store(struct ch_registry *r, struct ch_err *e)
{
	return ch_store_init(r->store, e);
}

const char *
ch_registry_store_where(const struct ch_registry *r)
{
	return ch_store_where(r->store);
}

const char *
ch_registry_db_where(const struct ch_registry *r)
{
	return r->dbwhere;
}

struct ch_store *
ch_registry_store(struct ch_registry *r)
{
	return r->store;
}

/* ---- the local index ---- */

/* Loads a JSON object kept in the store ({} shape given by fresh when the
 * object does not exist yet). */
static json_t *
load_json_object(struct ch_registry *r, const char *key, json_t *(*fresh)(void),
    struct ch_err *e)
{
	unsigned char *buf;
	size_t len;
	json_error_t je;
	json_t *j;
	int rc = ch_store_get(r->store, key, &buf, &len, e);

	if (rc < 0)
		return NULL;
	if (rc == 1)
		return fresh();
	j = json_loadb((const char *)buf, len, 0, &je);
	free(buf);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		ch_errf(e, "store %s: %s is corrupt: line %d: %s",
		    ch_store_where(r->store), key, je.line, j ? "not an object" : je.text);
		return NULL;
	}
	return j;
}

static int
save_json_object(struct ch_registry *r, const char *key, json_t *j,
    struct ch_err *e)
{
	char *s = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	size_t n;
	int rc;

	if (!s)
		return ch_errf(e, "cannot encode %s", key);
	n = strlen(s);
	s[n] = '\n';	/* json_dumps' NUL becomes the final newline */
	rc = ch_store_put(r->store, key, s, n + 1, e);
	free(s);
	return rc;
}

static json_t *
fresh_index(void)
{
	return json_pack("{s:i, s:[], s:{}, s:[]}", "format", 1, "versions",
	    "aliases", "history");
}

static json_t *
fresh_drift(void)
{
	return json_pack("{s:[]}", "reports");
}

static json_t *
index_load(struct ch_registry *r, struct ch_err *e)
{
	json_t *idx = load_json_object(r, INDEX_KEY, fresh_index, e);

	if (idx && (!json_is_array(json_object_get(idx, "versions")) ||
	    !json_is_object(json_object_get(idx, "aliases")) ||
	    !json_is_array(json_object_get(idx, "history")))) {
		json_decref(idx);
		ch_errf(e, "store %s: %s is corrupt: missing versions, aliases or history",
		    ch_store_where(r->store), INDEX_KEY);
		return NULL;
	}
	return idx;
}

static json_t *
index_version(json_t *idx, const char *v)
{
	size_t i;
	json_t *x;

	json_array_foreach(json_object_get(idx, "versions"), i, x)
		if (strcmp(ch_jstr(x, "version", ""), v) == 0)
			return x;
	return NULL;
}

static void
ref_from(struct ch_version_ref *ref, const char *v, const char *sha, long long size)
{
	if (!ref)
		return;
	snprintf(ref->version, sizeof ref->version, "%s", v);
	snprintf(ref->sha256, sizeof ref->sha256, "%s", sha);
	ref->size = size < 0 ? 0 : (size_t)size;
}

/* name → index entry (alias first), or NULL */
static json_t *
index_resolve(json_t *idx, const char *name)
{
	const char *v = json_string_value(json_object_get(json_object_get(idx,
	    "aliases"), name));

	return index_version(idx, v ? v : name);
}

/* Aliases naming version v, as a new array. */
static json_t *
index_aliases_of(json_t *idx, const char *v)
{
	json_t *a = json_array(), *x;
	const char *k;

	json_object_foreach(json_object_get(idx, "aliases"), k, x)
		if (strcmp(json_string_value(x) ? json_string_value(x) : "", v) == 0)
			json_array_append_new(a, json_string(k));
	return a;
}

static void
history_append(json_t *idx, const char *alias, const char *v, const char *prev,
    const char *action)
{
	char t[21];

	now_iso(t);
	json_array_append_new(json_object_get(idx, "history"),
	    json_pack("{s:s, s:s, s:s?, s:s, s:s}", "alias", alias, "version", v,
	    "previous", prev, "time", t, "action", action));
}

/* ---- rollback target: replay the alias's history as a stack ---- */

struct vstack {
	char (*v)[64];
	size_t n, cap;
};

static void
vs_push(struct vstack *s, const char *v)
{
	if (s->n == s->cap)
		s->v = ch_reallocarray(s->v, s->cap = s->cap ? 2 * s->cap : 16, sizeof *s->v);
	snprintf(s->v[s->n++], sizeof *s->v, "%s", v);
}

/* One history event: "set" pushes, "rollback" pops (and makes sure the
 * top is the version the rollback went to). */
static void
vs_event(struct vstack *s, const char *action, const char *v)
{
	if (strcmp(action, "rollback") == 0) {
		if (s->n > 0)
			s->n--;
		if (s->n == 0 || strcmp(s->v[s->n - 1], v) != 0)
			vs_push(s, v);
	} else
		vs_push(s, v);
}

/* ---- push ---- */

/*
 * How a push stays safe against concurrent pushes and against being
 * killed at any point:
 *
 * - Index in a file:// store: all of it happens under the index lock
 *   (flock).  The artifact and manifest are written to a temporary
 *   directory models/.push-<pid>, read back and checked, moved to
 *   models/<version> by one rename(2), and only then is the index saved.
 *   Only the lock holder writes below models/, so whatever lies there that
 *   the index does not own while we hold the lock was left by a push that
 *   died; each push removes it (gc_index_locked).
 * - PostgreSQL: the version is claimed first, in one transaction: an
 *   advisory lock on the version name, then INSERT ... ON CONFLICT DO
 *   NOTHING.  Only the push that inserted the row writes the object, to
 *   its final key, while the row is uncommitted and so invisible; it
 *   commits after the object reads back with the right SHA-256.  A push
 *   that loses, fails or dies rolls back and leaves no row; an object it
 *   left under a version nobody registered is overwritten by the next push
 *   that claims that version, or removed by churn-models gc, which takes
 *   the same advisory lock first.  Object stores have no rename, and an
 *   upload under a unique key would need a copy on S3 afterwards: writing
 *   the final key while holding the claim costs nothing more.
 * - Index in an s3:// store: one writer at a time (the lock is only
 *   process-local, as store.h says); the object goes to its final key
 *   under that lock.
 *
 * A version name taken by another model: when the caller passes a restamp
 * function, the push tries the next second (vYYYYMMDD-HHMMSS plus one
 * second) with the bytes restamp gives for that name, and so on, until a
 * free second, or the same bytes (this model, pushed before), is found.
 */

#define PUSH_TMP ".push-"
#define PUSH_SECONDS 3600          /* how far past its own second a push looks */
#define VERSION_LOCK "730211444"   /* advisory lock class of version names */

/* The name k seconds after a vYYYYMMDD-HHMMSS name into out; -1 when v
 * has another form. */
static int
version_plus(const char *v, long k, char out[17])
{
	struct tm tm = {0};
	char back[17];
	time_t t;
	int i;

	if (strlen(v) != 16 || v[0] != 'v' || v[9] != '-')
		return -1;
	for (i = 1; i < 16; i++)
		if (i != 9 && !isdigit((unsigned char)v[i]))
			return -1;
	if (sscanf(v, "v%4d%2d%2d-%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	    &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	ch_version_string(t, back);
	if (strcmp(back, v) != 0)	/* no such time, e.g. a 13th month */
		return -1;
	ch_version_string(t + k, out);
	return 0;
}

/* One name a push tries, with the bytes and the manifest that go with it. */
struct cand {
	char v[64];
	const unsigned char *buf;
	size_t len;
	unsigned char *own;	/* restamped bytes (buf), or NULL */
	char sha[65];
	json_t *m;		/* the manifest as stored */
};

/* Fills c for buf and a copy of manifest (borrowed) completed with
 * sha256, size, created and pushed; from names the version the model was
 * trained as when this is a restamped copy. */
static void
cand_set(struct cand *c, const unsigned char *buf, size_t len, json_t *manifest,
    const char *from)
{
	char t[21];

	snprintf(c->v, sizeof c->v, "%s", ch_jstr(manifest, "version", ""));
	c->buf = buf;
	c->len = len;
	ch_sha256_hex(buf, len, c->sha);
	c->m = json_deep_copy(manifest);
	now_iso(t);
	if (!json_is_string(json_object_get(c->m, "created")))
		json_object_set_new(c->m, "created", json_string(t));
	json_object_set_new(c->m, "sha256", json_string(c->sha));
	json_object_set_new(c->m, "size", json_integer((json_int_t)len));
	json_object_set_new(c->m, "pushed", json_string(t));
	if (from)
		json_object_set_new(c->m, "renamed_from", json_string(from));
}

static void
cand_free(struct cand *c)
{
	free(c->own);
	json_decref(c->m);
	memset(c, 0, sizeof *c);
}

static json_t *
push_result(const char *status, json_t *m, struct ch_registry *r, json_t *aliases)
{
	return json_pack("{s:s, s:s, s:O, s:s, s:s, s:s, s:o}",
	    "version", ch_jstr(m, "version", ""), "sha256", ch_jstr(m, "sha256", ""),
	    "size", json_object_get(m, "size"), "created", ch_jstr(m, "created", ""),
	    "status", status, "store", ch_store_where(r->store),
	    "aliases", aliases ? aliases : json_array());
}

/* Uploads c's artifact and manifest below dir ("models/<version>" or a
 * temporary directory) and checks the artifact read back. */
static int
upload(struct ch_registry *r, const char *dir, const struct cand *c,
    struct ch_err *e)
{
	char key[160], got[65];
	unsigned char *back;
	size_t blen;
	char *ms;
	int rc;

	snprintf(key, sizeof key, "%s/model.churn", dir);
	if (ch_store_put(r->store, key, c->buf, c->len, e) < 0)
		return -1;
	if ((rc = ch_store_get(r->store, key, &back, &blen, e)) != 0) {
		if (rc == 1)
			ch_errf(e, "store %s: %s vanished right after upload",
			    ch_store_where(r->store), key);
		return -1;
	}
	ch_sha256_hex(back, blen, got);
	free(back);
	if (blen != c->len || strcmp(got, c->sha) != 0)
		return ch_errf(e, "store %s: %s reads back as %zu bytes with sha256 %s, "
		    "not %zu bytes with sha256 %s", ch_store_where(r->store), key,
		    blen, got, c->len, c->sha);
	snprintf(key, sizeof key, "%s/manifest.json", dir);
	if (!(ms = json_dumps(c->m, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
		return ch_errf(e, "cannot encode the manifest of %s", c->v);
	rc = ch_store_put(r->store, key, ms, strlen(ms), e);
	free(ms);
	return rc;
}

/* Is the artifact of c->v missing or of another size?  1 yes, 0 no, -1 error. */
static int
artifact_damaged(struct ch_registry *r, const struct cand *c, struct ch_err *e)
{
	char key[128];
	size_t have;
	int rc;

	artifact_key(c->v, key, sizeof key);
	if ((rc = ch_store_head(r->store, key, &have, e)) < 0)
		return -1;
	return rc == 1 || have != c->len;
}

static int
pg_lookup_version(struct ch_registry *r, const char *v, char sha[65], int *found,
    struct ch_err *e)
{
	const char *p[] = {v};
	PGresult *res = pg_exec(r, "look up version",
	    "SELECT sha256 FROM churn_model_versions WHERE version = $1", 1, p, e);

	if (!res)
		return -1;
	*found = PQntuples(res) > 0;
	if (*found)
		snprintf(sha, 65, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

static int pg_alias_set_tx(struct ch_registry *, const char *, const char *,
    struct ch_err *);

static int
local_alias_set(json_t *idx, const char *alias, const char *v)
{
	const char *prev = json_string_value(json_object_get(json_object_get(idx,
	    "aliases"), alias));
	char *p = prev ? ch_strdup(prev) : NULL;

	if (!p || strcmp(p, v) != 0) {
		json_object_set_new(json_object_get(idx, "aliases"), alias, json_string(v));
		history_append(idx, alias, v, p, "set");
	}
	free(p);
	return 0;
}

static json_t *pg_aliases_of(struct ch_registry *, const char *, struct ch_err *);

/*
 * PostgreSQL: claim c->v and publish c under it (see above).  0 done
 * (*status set, c->m the registered manifest), 1 the version holds other
 * bytes (their sha256 in have; nothing changed), -1 error (nothing
 * registered).
 */
static int
pg_push_one(struct ch_registry *r, struct cand *c, const char *alias,
    const char **status, char have[65], struct ch_err *e)
{
	char size[32], dir[128];
	char *ms = json_dumps(c->m, JSON_PRESERVE_ORDER | JSON_COMPACT);
	const char *p[] = {c->v, c->sha, size, ch_jstr(c->m, "created", ""), ms};
	PGresult *res;
	int claimed, found = 0, bad;

	snprintf(size, sizeof size, "%zu", c->len);
	snprintf(dir, sizeof dir, "models/%s", c->v);
	if (!ms)
		return ch_errf(e, "cannot encode the manifest of %s", c->v);
	if (pg_begin(r, e) < 0) {
		free(ms);
		return -1;
	}
	if (pg_do(r, "lock version", "SELECT pg_advisory_xact_lock(" VERSION_LOCK
	    ", hashtext($1))", 1, p, e) < 0 ||
	    !(res = pg_exec(r, "register version", "INSERT INTO churn_model_versions"
	    " (version, sha256, size, created, manifest)"
	    " VALUES ($1, $2, $3::bigint, $4::timestamptz, $5::json)"
	    " ON CONFLICT (version) DO NOTHING", 5, p, e)))
		goto fail;
	claimed = atoi(PQcmdTuples(res)) == 1;
	PQclear(res);
	if (claimed) {
		/* ours: the object goes up before the row becomes visible */
		if (upload(r, dir, c, e) < 0)
			goto fail;
		*status = "registered";
	} else {
		if (pg_lookup_version(r, c->v, have, &found, e) < 0)
			goto fail;
		if (!found) {
			ch_errf(e, "database %s: version '%s' neither inserted nor found",
			    r->dbwhere, c->v);
			goto fail;
		}
		if (strcmp(have, c->sha) != 0) {
			pg_rollback(r);
			free(ms);
			return 1;
		}
		/* the same bytes: put back an artifact gone missing since */
		*status = "exists";
		if ((bad = artifact_damaged(r, c, e)) < 0 ||
		    (bad && upload(r, dir, c, e) < 0))
			goto fail;
	}
	if (alias && pg_alias_set_tx(r, alias, c->v, e) < 0)
		goto fail;
	free(ms);
	if (pg_commit(r, e) < 0)
		return -1;
	if (!claimed) {
		/* report what is registered, not what was sent */
		json_error_t je;

		if (!(res = pg_exec(r, "read manifest", "SELECT manifest"
		    " FROM churn_model_versions WHERE version = $1", 1, p, e)))
			return -1;
		json_decref(c->m);
		c->m = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, &je) : NULL;
		PQclear(res);
		if (!c->m)
			return ch_errf(e, "database %s: bad manifest of '%s'", r->dbwhere, c->v);
	}
	return 0;
fail:
	pg_rollback(r);
	free(ms);
	return -1;
}

/* Index mode: puts c's files at models/<version>, on file:// all at once
 * (a temporary directory renamed), on s3:// straight there. */
static int
index_publish(struct ch_registry *r, const struct cand *c, struct ch_err *e)
{
	struct ch_err ignore = {{0}};
	char dir[128], tmp[64];

	snprintf(dir, sizeof dir, "models/%s", c->v);
	if (!ch_store_is_local(r->store))
		return upload(r, dir, c, e);
	snprintf(tmp, sizeof tmp, "models/" PUSH_TMP "%ld", (long)getpid());
	if (upload(r, tmp, c, e) == 0 && ch_store_rename(r->store, tmp, dir, e) == 0)
		return 0;
	ch_store_remove_all(r->store, tmp, NULL, &ignore);
	return -1;
}

static int gc_index_locked(struct ch_registry *, json_t *, json_t *,
    struct ch_err *);

/* Index mode: the same as pg_push_one, under the index lock. */
static int
index_push_one(struct ch_registry *r, struct cand *c, const char *alias,
    const char **status, json_t **aliases, char have[65], struct ch_err *e)
{
	struct ch_err ignore = {{0}};
	json_t *idx, *entry;
	char t[21];
	int rc = -1, bad;

	if (ch_store_lock(r->store, INDEX_KEY, e) < 0)
		return -1;
	if (!(idx = index_load(r, e)))
		goto out;
	/* a push does not fail for what it could not clean up */
	if (ch_store_is_local(r->store))
		gc_index_locked(r, idx, NULL, &ignore);
	if ((entry = index_version(idx, c->v))) {
		if (strcmp(ch_jstr(entry, "sha256", ""), c->sha) != 0) {
			snprintf(have, 65, "%s", ch_jstr(entry, "sha256", ""));
			rc = 1;
			goto out;
		}
		*status = "exists";
		if ((bad = artifact_damaged(r, c, e)) < 0 ||
		    (bad && index_publish(r, c, e) < 0))
			goto out;
		json_decref(c->m);
		c->m = json_deep_copy(entry);
	} else {
		json_t *metrics = json_object_get(c->m, "metrics");
		json_t *params = json_object_get(c->m, "params");

		if (index_publish(r, c, e) < 0)
			goto out;
		now_iso(t);
		json_array_append_new(json_object_get(idx, "versions"),
		    json_pack("{s:s, s:s, s:I, s:s, s:s, s:o, s:o}",
		    "version", c->v, "sha256", c->sha, "size", (json_int_t)c->len,
		    "created", ch_jstr(c->m, "created", ""), "registered", t,
		    "metrics", metrics ? json_incref(metrics) : json_object(),
		    "params", params ? json_incref(params) : json_object()));
		*status = "registered";
	}
	if (alias)
		local_alias_set(idx, alias, c->v);
	if (save_json_object(r, INDEX_KEY, idx, e) < 0)
		goto out;
	*aliases = index_aliases_of(idx, c->v);
	rc = 0;
out:
	ch_store_unlock(r->store);
	json_decref(idx);
	return rc;
}

int
ch_registry_push_as(struct ch_registry *r, const unsigned char *buf, size_t len,
    json_t *manifest, const char *alias, ch_restamp_fn restamp, void *arg,
    json_t **out, struct ch_err *e)
{
	const char *v0 = ch_jstr(manifest, "version", ""), *status = "registered";
	char sha0[65], have0[65] = "", have[65], next[17];
	struct cand c = {0};
	json_t *aliases = NULL, *man;
	unsigned char *nbuf;
	size_t nlen;
	long k;
	int rc;

	if (out)
		*out = NULL;
	if (!json_is_object(manifest) || !valid_version(v0))
		return ch_errf(e, "bad model version '%s'", v0);
	if (alias && !valid_alias(alias))
		return ch_errf(e, "bad alias name '%s' (a letter, then letters, "
		    "digits, '.', '_' or '-'; not 'v' and a digit)", alias);
	ch_sha256_hex(buf, len, sha0);
	cand_set(&c, buf, len, manifest, NULL);
	for (k = 1; ; k++) {
		rc = r->pg ? pg_push_one(r, &c, alias, &status, have, e) :
		    index_push_one(r, &c, alias, &status, &aliases, have, e);
		if (rc != 1)
			break;
		if (k == 1)
			snprintf(have0, sizeof have0, "%s", have);
		if (!restamp || version_plus(v0, k, next) < 0) {
			rc = ch_errf(e, "version '%s' is already registered (%s) with "
			    "sha256 %s; this model has sha256 %s: refusing to replace it",
			    v0, r->dbwhere, have0, sha0);
			break;
		}
		if (k > PUSH_SECONDS) {
			rc = ch_errf(e, "version '%s' and the %d seconds after it are "
			    "all registered (%s) to other models", v0, PUSH_SECONDS,
			    r->dbwhere);
			break;
		}
		cand_free(&c);
		if ((rc = restamp(arg, next, &nbuf, &nlen, &man, e)) < 0)
			break;
		if (strcmp(ch_jstr(man, "version", ""), next) != 0) {
			rc = ch_errf(e, "restamped manifest names '%s', not '%s'",
			    ch_jstr(man, "version", ""), next);
			free(nbuf);
			json_decref(man);
			break;
		}
		cand_set(&c, nbuf, nlen, man, v0);
		c.own = nbuf;
		json_decref(man);
	}
	if (rc == 0 && r->pg && !(aliases = pg_aliases_of(r, c.v, e)))
		rc = -1;
	if (rc == 0 && out)
		*out = push_result(status, c.m, r, aliases);
	else
		json_decref(aliases);
	cand_free(&c);
	return rc < 0 ? -1 : 0;
}

int
ch_registry_push(struct ch_registry *r, const unsigned char *buf, size_t len,
    json_t *manifest, const char *alias, json_t **out, struct ch_err *e)
{
	return ch_registry_push_as(r, buf, len, manifest, alias, NULL, NULL, out, e);
}

/* ---- leftovers of pushes that died ---- */

/* Removes key (and all below it), recording it in removed (may be NULL). */
static int
gc_remove(struct ch_registry *r, const char *key, json_t *removed,
    struct ch_err *e)
{
	unsigned long long bytes = 0;

	if (ch_store_remove_all(r->store, key, &bytes, e) < 0)
		return -1;
	if (removed)
		json_array_append_new(removed, json_pack("{s:s, s:I}", "key", key,
		    "bytes", (json_int_t)bytes));
	return 0;
}

/* Removes the temporary files ch_write_atomic leaves when killed
 * ("<name>.tmp.<pid>") directly below dir whose names start with first. */
static int
gc_tmp_files(struct ch_registry *r, const char *dir, const char *first,
    json_t *removed, struct ch_err *e)
{
	char **names = ch_store_list(r->store, dir, e), key[256];
	size_t i;
	int rc = 0;

	if (!names)
		return -1;
	for (i = 0; names[i] && rc == 0; i++)
		if (strncmp(names[i], first, strlen(first)) == 0 &&
		    strstr(names[i], ".tmp.")) {
			snprintf(key, sizeof key, "%s/%s", dir, names[i]);
			rc = gc_remove(r, key, removed, e);
		}
	ch_strv_free(names);
	return rc;
}

/*
 * Index mode, under the index lock: removes below models/ all that no
 * registered version owns (temporary directories, version directories the
 * index does not list, temporary files beside registered artifacts) and
 * the index's own temporary files.
 */
static int
gc_index_locked(struct ch_registry *r, json_t *idx, json_t *removed,
    struct ch_err *e)
{
	char **names = ch_store_list(r->store, "models", e), key[256];
	size_t i;
	int rc = 0;

	if (!names)
		return -1;
	for (i = 0; names[i] && rc == 0; i++) {
		snprintf(key, sizeof key, "models/%s", names[i]);
		rc = index_version(idx, names[i]) ?
		    gc_tmp_files(r, key, "", removed, e) : gc_remove(r, key, removed, e);
	}
	ch_strv_free(names);
	if (rc == 0)
		rc = gc_tmp_files(r, "registry", "index.json.", removed, e);
	return rc;
}

/* PostgreSQL: the same for each version directory whose name's advisory
 * lock is free (no push is at work on it). */
static int
gc_pg(struct ch_registry *r, json_t *removed, struct ch_err *e)
{
	char **names = ch_store_list(r->store, "models", e), key[256];
	size_t i;
	int rc = 0;

	if (!names)
		return -1;
	for (i = 0; names[i] && rc == 0; i++) {
		const char *p[] = {names[i]};
		PGresult *res;
		int locked, registered;

		if (!valid_version(names[i]))
			continue;
		if (pg_begin(r, e) < 0) {
			rc = -1;
			break;
		}
		/* the lock first: the snapshot of the next query comes after it */
		if (!(res = pg_exec(r, "lock version", "SELECT pg_try_advisory_xact_lock("
		    VERSION_LOCK ", hashtext($1))", 1, p, e))) {
			rc = -1;
			goto next;
		}
		locked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (!locked)
			goto next;
		if (!(res = pg_exec(r, "look up version", "SELECT 1 FROM"
		    " churn_model_versions WHERE version = $1", 1, p, e))) {
			rc = -1;
			goto next;
		}
		registered = PQntuples(res) > 0;
		PQclear(res);
		snprintf(key, sizeof key, "models/%s", names[i]);
		rc = registered ? gc_tmp_files(r, key, "", removed, e) :
		    gc_remove(r, key, removed, e);
next:
		pg_rollback(r);	/* nothing to commit; releases the lock */
	}
	ch_strv_free(names);
	return rc;
}

json_t *
ch_registry_gc(struct ch_registry *r, struct ch_err *e)
{
	json_t *removed = json_array(), *idx, *x;
	json_int_t bytes = 0;
	size_t i;
	int rc;

	if (r->pg)
		rc = gc_pg(r, removed, e);
	else {
		if (ch_store_lock(r->store, INDEX_KEY, e) < 0) {
			json_decref(removed);
			return NULL;
		}
		idx = index_load(r, e);
		rc = idx ? gc_index_locked(r, idx, removed, e) : -1;
		ch_store_unlock(r->store);
		json_decref(idx);
	}
	if (rc < 0) {
		json_decref(removed);
		return NULL;
	}
	json_array_foreach(removed, i, x)
		bytes += json_integer_value(json_object_get(x, "bytes"));
	return json_pack("{s:o, s:I}", "removed", removed, "bytes", bytes);
}

/* ---- resolve / pull ---- */

static int
pg_resolve(struct ch_registry *r, const char *name, struct ch_version_ref *ref,
    struct ch_err *e)
{
	const char *p[] = {name};
	PGresult *res = pg_exec(r, "resolve",
	    "SELECT v.version, v.sha256, v.size FROM churn_aliases a"
	    " JOIN churn_model_versions v ON v.version = a.version WHERE a.alias = $1"
	    " UNION ALL SELECT version, sha256, size FROM churn_model_versions"
	    " WHERE version = $1 LIMIT 1", 1, p, e);

	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ch_errf(e, "no version or alias '%s' in the registry (%s)", name,
		    r->dbwhere);
	}
	ref_from(ref, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
	    atoll(PQgetvalue(res, 0, 2)));
	PQclear(res);
	return 0;
}

int
ch_registry_resolve(struct ch_registry *r, const char *name,
    struct ch_version_ref *ref, struct ch_err *e)
{
	json_t *idx, *x;

	if (!name || !valid_version(name))
		return ch_errf(e, "bad version or alias name '%s'", name ? name : "");
	if (r->pg)
		return pg_resolve(r, name, ref, e);
	if (!(idx = index_load(r, e)))
		return -1;
	if (!(x = index_resolve(idx, name))) {
		json_decref(idx);
		return ch_errf(e, "no version or alias '%s' in the registry (%s)", name,
		    r->dbwhere);
	}
	ref_from(ref, ch_jstr(x, "version", ""), ch_jstr(x, "sha256", ""),
	    json_integer_value(json_object_get(x, "size")));
	json_decref(idx);
	return 0;
}

int
ch_registry_pull(struct ch_registry *r, const char *name, unsigned char **buf,
    size_t *len, struct ch_version_ref *ref, struct ch_err *e)
{
	struct ch_version_ref rr;
	char key[128], got[65];
	unsigned char *b;
	size_t n;
	int rc;

	*buf = NULL;
	*len = 0;
	if (ch_registry_resolve(r, name, &rr, e) < 0)
		return -1;
	artifact_key(rr.version, key, sizeof key);
	if ((rc = ch_store_get(r->store, key, &b, &n, e)) != 0) {
		if (rc == 1)
			ch_errf(e, "version %s: artifact %s is missing from store %s",
			    rr.version, key, ch_store_where(r->store));
		return -1;
	}
	ch_sha256_hex(b, n, got);
	if (n != rr.size || strcmp(got, rr.sha256) != 0) {
		free(b);
		return ch_errf(e, "version %s: artifact %s in store %s fails verification: "
		    "%zu bytes with sha256 %s, registry says %zu bytes with sha256 %s",
		    rr.version, key, ch_store_where(r->store), n, got, rr.size, rr.sha256);
	}
	if (ref)
		*ref = rr;
	*buf = b;
	*len = n;
	return 0;
}

/* ---- list / show / history ---- */

static json_t *
pg_aliases_of(struct ch_registry *r, const char *v, struct ch_err *e)
{
	const char *p[] = {v};
	PGresult *res = pg_exec(r, "list aliases", "SELECT alias FROM churn_aliases"
	    " WHERE version = $1 ORDER BY alias", 1, p, e);
	json_t *a;
	int i;

	if (!res)
		return NULL;
	a = json_array();
	for (i = 0; i < PQntuples(res); i++)
		json_array_append_new(a, json_string(PQgetvalue(res, i, 0)));
	PQclear(res);
	return a;
}

static json_t *
parse_json_cell(PGresult *res, int row, int col)
{
	json_t *j;

	if (PQgetisnull(res, row, col))
		return json_object();
	j = json_loads(PQgetvalue(res, row, col), JSON_DECODE_ANY, NULL);
	return j ? j : json_object();
}

json_t *
ch_registry_list(struct ch_registry *r, struct ch_err *e)
{
	json_t *out, *versions, *aliases, *x;
	size_t i;

	if (r->pg) {
		PGresult *res, *ares;
		int k;

		if (pg_begin(r, e) < 0)
			return NULL;
		res = pg_exec(r, "list versions", "SELECT version, sha256, size,"
		    " manifest->>'created', manifest->'metrics', manifest->'params'"
		    " FROM churn_model_versions ORDER BY seq", 0, NULL, e);
		ares = res ? pg_exec(r, "list aliases", "SELECT alias, version"
		    " FROM churn_aliases ORDER BY alias", 0, NULL, e) : NULL;
		pg_rollback(r);	/* read-only: one snapshot, nothing to commit */
		if (!ares) {
			PQclear(res);
			return NULL;
		}
		versions = json_array();
		aliases = json_object();
		for (k = 0; k < PQntuples(ares); k++)
			json_object_set_new(aliases, PQgetvalue(ares, k, 0),
			    json_string(PQgetvalue(ares, k, 1)));
		for (k = 0; k < PQntuples(res); k++) {
			json_t *va = json_array(), *y;
			const char *an;
			json_object_foreach(aliases, an, y)
				if (strcmp(json_string_value(y), PQgetvalue(res, k, 0)) == 0)
					json_array_append_new(va, json_string(an));
			json_array_append_new(versions, json_pack("{s:s, s:s, s:I, s:s,"
			    " s:o, s:o, s:o}", "version", PQgetvalue(res, k, 0),
			    "sha256", PQgetvalue(res, k, 1),
			    "size", (json_int_t)atoll(PQgetvalue(res, k, 2)),
			    "created", PQgetvalue(res, k, 3),
			    "metrics", parse_json_cell(res, k, 4),
			    "params", parse_json_cell(res, k, 5), "aliases", va));
		}
		PQclear(res);
		PQclear(ares);
		return json_pack("{s:o, s:o}", "versions", versions, "aliases", aliases);
	}
	if (!(out = index_load(r, e)))
		return NULL;
	versions = json_array();
	json_array_foreach(json_object_get(out, "versions"), i, x) {
		json_t *metrics = json_object_get(x, "metrics");
		json_t *params = json_object_get(x, "params");
		json_array_append_new(versions, json_pack("{s:s, s:s, s:O, s:s, s:o,"
		    " s:o, s:o}", "version", ch_jstr(x, "version", ""),
		    "sha256", ch_jstr(x, "sha256", ""), "size", json_object_get(x, "size"),
		    "created", ch_jstr(x, "created", ""),
		    "metrics", metrics ? json_incref(metrics) : json_object(),
		    "params", params ? json_incref(params) : json_object(),
		    "aliases", index_aliases_of(out, ch_jstr(x, "version", ""))));
	}
	aliases = json_incref(json_object_get(out, "aliases"));
	json_decref(out);
	return json_pack("{s:o, s:o}", "versions", versions, "aliases", aliases);
}

json_t *
ch_registry_show(struct ch_registry *r, const char *name, struct ch_err *e)
{
	struct ch_version_ref ref;
	char key[128];
	unsigned char *buf;
	size_t len;
	json_t *m = NULL, *aliases;
	int rc;

	if (ch_registry_resolve(r, name, &ref, e) < 0)
		return NULL;
	if (r->pg) {
		const char *p[] = {ref.version};
		PGresult *res = pg_exec(r, "show", "SELECT manifest,"
		    " to_char(registered AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
		    " FROM churn_model_versions WHERE version = $1", 1, p, e);
		if (!res)
			return NULL;
		if (PQntuples(res) == 1) {
			m = parse_json_cell(res, 0, 0);
			json_object_set_new(m, "registered", json_string(PQgetvalue(res, 0, 1)));
		}
		PQclear(res);
		if (!m)
			return ch_errf(e, "version '%s' vanished from %s", ref.version,
			    r->dbwhere), NULL;
		if (!(aliases = pg_aliases_of(r, ref.version, e))) {
			json_decref(m);
			return NULL;
		}
	} else {
		json_t *idx = index_load(r, e), *x;
		json_error_t je;

		if (!idx)
			return NULL;
		manifest_key(ref.version, key, sizeof key);
		if ((rc = ch_store_get(r->store, key, &buf, &len, e)) < 0) {
			json_decref(idx);
			return NULL;
		}
		if (rc == 0) {
			m = json_loadb((const char *)buf, len, 0, &je);
			free(buf);
		}
		if (!json_is_object(m)) {
			/* manifest gone or damaged: show what the index knows */
			json_decref(m);
			m = json_deep_copy(index_version(idx, ref.version));
		}
		if ((x = index_version(idx, ref.version)))
			json_object_set(m, "registered", json_object_get(x, "registered"));
		aliases = index_aliases_of(idx, ref.version);
		json_decref(idx);
	}
	json_object_set_new(m, "aliases", aliases);
	return m;
}

json_t *
ch_registry_history(struct ch_registry *r, const char *alias, struct ch_err *e)
{
	json_t *h, *x, *idx;
	size_t i;

	if (r->pg) {
		const char *p[] = {alias};
		PGresult *res = pg_exec(r, "history", "SELECT alias, version, previous,"
		    " to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), action"
		    " FROM churn_alias_history WHERE $1::text IS NULL OR alias = $1"
		    " ORDER BY id", 1, p, e);
		int k;

		if (!res)
			return NULL;
		h = json_array();
		for (k = 0; k < PQntuples(res); k++)
			json_array_append_new(h, json_pack("{s:s, s:s, s:s?, s:s, s:s}",
			    "alias", PQgetvalue(res, k, 0), "version", PQgetvalue(res, k, 1),
			    "previous", PQgetisnull(res, k, 2) ? NULL : PQgetvalue(res, k, 2),
			    "time", PQgetvalue(res, k, 3), "action", PQgetvalue(res, k, 4)));
		PQclear(res);
		return json_pack("{s:o}", "history", h);
	}
	if (!(idx = index_load(r, e)))
		return NULL;
	h = json_array();
	json_array_foreach(json_object_get(idx, "history"), i, x)
		if (!alias || strcmp(ch_jstr(x, "alias", ""), alias) == 0)
			json_array_append(h, x);
	json_decref(idx);
	return json_pack("{s:o}", "history", h);
}

/* ---- alias set / rollback ---- */

/* Inside a transaction: lock the alias, point it at version v (which must
 * be registered), record the move. */
static int
pg_alias_set_tx(struct ch_registry *r, const char *alias, const char *v,
    struct ch_err *e)
{
	const char *p[] = {alias, v, NULL};
	PGresult *res;
	char prev[64] = "";

	if (pg_do(r, "lock alias", "SELECT pg_advisory_xact_lock(730211443,"
	    " hashtext($1))", 1, p, e) < 0)
		return -1;
	if (!(res = pg_exec(r, "read alias", "SELECT version FROM churn_aliases"
	    " WHERE alias = $1", 1, p, e)))
		return -1;
	if (PQntuples(res) > 0)
		snprintf(prev, sizeof prev, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (strcmp(prev, v) == 0)
		return 0;
	p[2] = *prev ? prev : NULL;
	if (pg_do(r, "set alias", "INSERT INTO churn_aliases (alias, version)"
	    " VALUES ($1, $2) ON CONFLICT (alias) DO UPDATE"
	    " SET version = EXCLUDED.version, updated = now()", 2, p, e) < 0 ||
	    pg_do(r, "record alias history", "INSERT INTO churn_alias_history"
	    " (alias, version, previous, action) VALUES ($1, $2, $3, 'set')", 3, p, e) < 0)
		return -1;
	return 0;
}

int
ch_registry_alias_set(struct ch_registry *r, const char *alias,
    const char *name, struct ch_err *e)
{
	struct ch_version_ref ref;
	json_t *idx, *x;
	int rc;

	if (!alias || !valid_alias(alias))
		return ch_errf(e, "bad alias name '%s' (a letter, then letters, digits, "
		    "'.', '_' or '-'; not 'v' and a digit)", alias ? alias : "");
	if (r->pg) {
		if (pg_begin(r, e) < 0)
			return -1;
		if (pg_resolve(r, name, &ref, e) < 0 ||
		    pg_alias_set_tx(r, alias, ref.version, e) < 0) {
			pg_rollback(r);
			return -1;
		}
		return pg_commit(r, e);
	}
	if (!valid_version(name))
		return ch_errf(e, "bad version or alias name '%s'", name);
	if (ch_store_lock(r->store, INDEX_KEY, e) < 0)
		return -1;
	if (!(idx = index_load(r, e))) {
		ch_store_unlock(r->store);
		return -1;
	}
	if (!(x = index_resolve(idx, name))) {
		rc = ch_errf(e, "no version or alias '%s' in the registry (%s)", name,
		    r->dbwhere);
	} else {
		char v[64];
		snprintf(v, sizeof v, "%s", ch_jstr(x, "version", ""));
		local_alias_set(idx, alias, v);
		rc = save_json_object(r, INDEX_KEY, idx, e);
	}
	ch_store_unlock(r->store);
	json_decref(idx);
	return rc;
}

int
ch_registry_rollback(struct ch_registry *r, const char *alias,
    struct ch_version_ref *ref, struct ch_err *e)
{
	struct vstack s = {0};
	char cur[64], to[64];
	json_t *idx = NULL, *x;
	size_t i;
	int rc = -1;

	if (!alias || !valid_alias(alias))
		return ch_errf(e, "bad alias name '%s'", alias ? alias : "");
	if (r->pg) {
		const char *p[] = {alias, NULL, NULL};
		PGresult *res;
		int k;

		if (pg_begin(r, e) < 0)
			return -1;
		if (pg_do(r, "lock alias", "SELECT pg_advisory_xact_lock(730211443,"
		    " hashtext($1))", 1, p, e) < 0)
			goto pgfail;
		if (!(res = pg_exec(r, "read alias", "SELECT version FROM churn_aliases"
		    " WHERE alias = $1", 1, p, e)))
			goto pgfail;
		if (PQntuples(res) == 0) {
			PQclear(res);
			ch_errf(e, "no alias '%s' in the registry (%s)", alias, r->dbwhere);
			goto pgfail;
		}
		snprintf(cur, sizeof cur, "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		if (!(res = pg_exec(r, "read history", "SELECT action, version"
		    " FROM churn_alias_history WHERE alias = $1 ORDER BY id", 1, p, e)))
			goto pgfail;
		for (k = 0; k < PQntuples(res); k++)
			vs_event(&s, PQgetvalue(res, k, 0), PQgetvalue(res, k, 1));
		PQclear(res);
		if (s.n < 2) {
			ch_errf(e, "alias '%s' has no earlier version to roll back to "
			    "(it names %s)", alias, cur);
			goto pgfail;
		}
		snprintf(to, sizeof to, "%s", s.v[s.n - 2]);
		p[1] = to;
		p[2] = cur;
		if (pg_do(r, "roll back alias", "UPDATE churn_aliases SET version = $2,"
		    " updated = now() WHERE alias = $1", 2, p, e) < 0 ||
		    pg_do(r, "record alias history", "INSERT INTO churn_alias_history"
		    " (alias, version, previous, action) VALUES ($1, $2, $3, 'rollback')",
		    3, p, e) < 0 ||
		    pg_resolve(r, to, ref ? ref : &(struct ch_version_ref){0}, e) < 0)
			goto pgfail;
		free(s.v);
		return pg_commit(r, e);
pgfail:
		pg_rollback(r);
		free(s.v);
		return -1;
	}
	if (ch_store_lock(r->store, INDEX_KEY, e) < 0)
		return -1;
	if (!(idx = index_load(r, e)))
		goto done;
	x = json_object_get(json_object_get(idx, "aliases"), alias);
	if (!json_is_string(x)) {
		ch_errf(e, "no alias '%s' in the registry (%s)", alias, r->dbwhere);
		goto done;
	}
	snprintf(cur, sizeof cur, "%s", json_string_value(x));
	json_array_foreach(json_object_get(idx, "history"), i, x)
		if (strcmp(ch_jstr(x, "alias", ""), alias) == 0)
			vs_event(&s, ch_jstr(x, "action", ""), ch_jstr(x, "version", ""));
	if (s.n < 2) {
		ch_errf(e, "alias '%s' has no earlier version to roll back to (it names %s)",
		    alias, cur);
		goto done;
	}
	snprintf(to, sizeof to, "%s", s.v[s.n - 2]);
	if (!(x = index_version(idx, to))) {
		ch_errf(e, "registry %s: alias '%s' history names unknown version '%s'",
		    r->dbwhere, alias, to);
		goto done;
	}
	ref_from(ref, to, ch_jstr(x, "sha256", ""), json_integer_value(json_object_get(x, "size")));
	json_object_set_new(json_object_get(idx, "aliases"), alias, json_string(to));
	history_append(idx, alias, to, cur, "rollback");
	rc = save_json_object(r, INDEX_KEY, idx, e);
done:
	ch_store_unlock(r->store);
	json_decref(idx);
	free(s.v);
	return rc;
}

/* ---- drift reports ---- */

int
ch_registry_record_drift(struct ch_registry *r, json_t *report, struct ch_err *e)
{
	json_t *all, *list;
	int rc;

	if (!json_is_object(report))
		return ch_errf(e, "a drift report must be a JSON object");
	if (r->pg) {
		char *s = json_dumps(report, JSON_PRESERVE_ORDER | JSON_COMPACT);
		json_t *d = json_object_get(report, "drift");
		const char *p[] = {json_string_value(json_object_get(report, "model_version")),
		    json_is_boolean(d) ? (json_is_true(d) ? "true" : "false") : NULL, s};
		rc = pg_do(r, "record drift report", "INSERT INTO churn_drift_reports"
		    " (model_version, drift, report) VALUES ($1, $2::boolean, $3::json)",
		    3, p, e);
		free(s);
		return rc;
	}
	if (ch_store_lock(r->store, DRIFT_KEY, e) < 0)
		return -1;
	if (!(all = load_json_object(r, DRIFT_KEY, fresh_drift, e))) {
		ch_store_unlock(r->store);
		return -1;
	}
	list = json_object_get(all, "reports");
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(all, "reports", list);
	}
	json_array_append(list, report);
	while (json_array_size(list) > DRIFT_KEEP)
		json_array_remove(list, 0);
	rc = save_json_object(r, DRIFT_KEY, all, e);
	ch_store_unlock(r->store);
	json_decref(all);
	return rc;
}

json_t *
ch_registry_drift_reports(struct ch_registry *r, size_t limit, struct ch_err *e)
{
	json_t *all, *list, *out;
	size_t i, n;

	if (limit == 0)
		limit = 100;
	if (r->pg) {
		char lim[32];
		const char *p[] = {lim};
		PGresult *res;
		int k;

		snprintf(lim, sizeof lim, "%zu", limit);
		if (!(res = pg_exec(r, "list drift reports", "SELECT report FROM"
		    " (SELECT id, report FROM churn_drift_reports ORDER BY id DESC"
		    " LIMIT $1::bigint) t ORDER BY id", 1, p, e)))
			return NULL;
		list = json_array();
		for (k = 0; k < PQntuples(res); k++)
			json_array_append_new(list, parse_json_cell(res, k, 0));
		PQclear(res);
		return json_pack("{s:o}", "reports", list);
	}
	if (!(all = load_json_object(r, DRIFT_KEY, fresh_drift, e)))
		return NULL;
	list = json_object_get(all, "reports");
	out = json_array();
	n = json_array_size(list);
	for (i = n > limit ? n - limit : 0; i < n; i++)
		json_array_append(out, json_array_get(list, i));
	json_decref(all);
	return json_pack("{s:o}", "reports", out);
}

/* ---- live-traffic window ---- */

static int
no_database(struct ch_registry *r, struct ch_err *e)
{
	return ch_errf(e, "live-traffic window: no database is configured "
	    "(registry %s)", r->dbwhere);
}

/* One line of the window into its columns: time, version and probability
 * come out of the object, the rest is the row. */
#define WINDOW_COLUMNS \
	"coalesce((j->>'time')::timestamptz, now()), j->>'model_version'," \
	" (j->>'churn_probability')::float8," \
	" j - '{churn_probability,model_version,time}'::text[]"

/*
 * Inserts the lines one by one under a savepoint each, skipping those the
 * database refuses; used only after the batch insert failed on its data.
 */
static int
window_rows_one_by_one(struct ch_registry *r, const char *lines, size_t len,
    long *refused, struct ch_err *e)
{
	const Oid types[] = {25};
	const int fmts[] = {1};
	const char *p = lines, *end = lines + len, *nl;

	while (p < end) {
		const char *v[1] = {p};
		int n[1];
		PGresult *res;

		nl = memchr(p, '\n', (size_t)(end - p));
		n[0] = (int)((nl ? nl : end) - p);
		if (n[0] > 0) {
			if (pg_do(r, "window savepoint", "SAVEPOINT w", 0, NULL, e) < 0)
				return -1;
			res = PQexecParams(r->pg, "INSERT INTO churn_window (created,"
			    " model_version, probability, row) SELECT " WINDOW_COLUMNS
			    " FROM (SELECT $1::text::jsonb AS j) s", 1, types, v, n,
			    fmts, 0);
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				PQclear(res);
				if (PQstatus(r->pg) != CONNECTION_OK)
					return pg_errf(r, "append to the window", NULL, e);
				if (pg_do(r, "window savepoint", "ROLLBACK TO SAVEPOINT w",
				    0, NULL, e) < 0)
					return -1;
				(*refused)++;
			} else
				PQclear(res);
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int
ch_registry_window_append(struct ch_registry *r, const char *lines,
    size_t len, long keep, long *refused, struct ch_err *e)
{
	const Oid types[] = {25};
	const int fmts[] = {1};
	const char *v[1] = {lines};
	int n[1] = {(int)len};
	long bad = 0;
	PGresult *res;

	if (refused)
		*refused = 0;
	if (!r->pg)
		return no_database(r, e);
	if (len > 1u << 30)
		return ch_errf(e, "live-traffic window: %zu bytes are too many for "
		    "one append", len);
	if (pg_begin(r, e) < 0)
		return -1;
	if (len > 0) {
		/* the lines go as one parameter (binary text: no copy, no
		 * NUL needed) and are split by the server, in order */
		if (pg_do(r, "window savepoint", "SAVEPOINT batch", 0, NULL, e) < 0)
			goto fail;
		res = PQexecParams(r->pg, "INSERT INTO churn_window (created,"
		    " model_version, probability, row) SELECT " WINDOW_COLUMNS
		    " FROM (SELECT l::jsonb AS j, k FROM unnest(string_to_array($1,"
		    " E'\\n')) WITH ORDINALITY AS u(l, k) WHERE l <> '') s ORDER BY k",
		    1, types, v, n, fmts, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			PQclear(res);
			if (PQstatus(r->pg) != CONNECTION_OK) {
				pg_errf(r, "append to the window", NULL, e);
				goto fail;
			}
			/* a line the database refuses must not hold back
			 * the others */
			if (pg_do(r, "window savepoint", "ROLLBACK TO SAVEPOINT batch",
			    0, NULL, e) < 0 ||
			    window_rows_one_by_one(r, lines, len, &bad, e) < 0)
				goto fail;
		} else
			PQclear(res);
	}
	if (keep > 0) {
		char k[32];
		const char *p[1] = {k};

		snprintf(k, sizeof k, "%ld", keep);
		if (pg_do(r, "trim the window", "DELETE FROM churn_window WHERE id <="
		    " (SELECT id FROM churn_window ORDER BY id DESC OFFSET $1::bigint"
		    " LIMIT 1)", 1, p, e) < 0)
			goto fail;
	}
	if (pg_commit(r, e) < 0)
		return -1;
	if (refused)
		*refused = bad;
	return 0;
fail:
	pg_rollback(r);
	return -1;
}

char *
ch_registry_window_read(struct ch_registry *r, long limit, size_t *len,
    long *rows, struct ch_err *e)
{
	char lim[32], *buf;
	const char *p[1] = {lim};
	PGresult *res;
	size_t n = 0, cap = 1;
	int k;

	*len = 0;
	if (rows)
		*rows = 0;
	if (!r->pg)
		return no_database(r, e), NULL;
	if (limit <= 0)
		return ch_errf(e, "live-traffic window: limit %ld is not positive",
		    limit), NULL;
	snprintf(lim, sizeof lim, "%ld", limit);
	if (!(res = pg_exec(r, "read the window", "SELECT (row ||"
	    " jsonb_build_object('churn_probability', probability,"
	    " 'model_version', model_version, 'time', to_char(created AT TIME"
	    " ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')))::text FROM"
	    " (SELECT * FROM churn_window ORDER BY id DESC LIMIT $1::bigint) t"
	    " ORDER BY id", 1, p, e)))
		return NULL;
	for (k = 0; k < PQntuples(res); k++)
		cap += (size_t)PQgetlength(res, k, 0) + 1;
	buf = ch_malloc(cap);
	for (k = 0; k < PQntuples(res); k++) {
		size_t l = (size_t)PQgetlength(res, k, 0);

		memcpy(buf + n, PQgetvalue(res, k, 0), l);
		n += l;
		buf[n++] = '\n';
	}
	buf[n] = '\0';
	*len = n;
	if (rows)
		*rows = PQntuples(res);
	PQclear(res);
	return buf;
}

char *
ch_registry_window_page(struct ch_registry *r, long keep, long after,
    long max, long *last, size_t *len, long *rows, struct ch_err *e)
{
	char k[32], a[32], m[32], *buf;
	const char *p[3] = {k, a, m};
	PGresult *res;
	size_t n = 0, cap = 1;
	int i;

	*len = 0;
	*rows = 0;
	*last = after;
	if (!r->pg)
		return no_database(r, e), NULL;
	if (keep <= 0 || max <= 0)
		return ch_errf(e, "live-traffic window: limit %ld is not positive",
		    keep <= 0 ? keep : max), NULL;
	snprintf(k, sizeof k, "%ld", keep);
	snprintf(a, sizeof a, "%ld", after);
	snprintf(m, sizeof m, "%ld", max);
	if (!(res = pg_exec(r, "read the window", "SELECT id, (row ||"
	    " jsonb_build_object('churn_probability', probability,"
	    " 'model_version', model_version, 'time', to_char(created AT TIME"
	    " ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')))::text FROM"
	    " (SELECT * FROM churn_window ORDER BY id DESC LIMIT $1::bigint) t"
	    " WHERE id > $2::bigint ORDER BY id LIMIT $3::bigint", 3, p, e)))
		return NULL;
	for (i = 0; i < PQntuples(res); i++)
		cap += (size_t)PQgetlength(res, i, 1) + 1;
	buf = ch_malloc(cap);
	for (i = 0; i < PQntuples(res); i++) {
		size_t l = (size_t)PQgetlength(res, i, 1);

		memcpy(buf + n, PQgetvalue(res, i, 1), l);
		n += l;
		buf[n++] = '\n';
		*last = strtol(PQgetvalue(res, i, 0), NULL, 10);
	}
	buf[n] = '\0';
	*len = n;
	*rows = PQntuples(res);
	PQclear(res);
	return buf;
}

/* ---- the database, for the other files that keep tables in it ---- */

PGconn *
ch_registry_pg(struct ch_registry *r)
{
	return r->pg;
}

PGresult *
ch_registry_pg_exec(struct ch_registry *r, const char *what, const char *sql,
    int n, const char *const *params, struct ch_err *e)
{
	return pg_exec(r, what, sql, n, params, e);
}
