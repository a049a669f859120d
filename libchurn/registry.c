/*
 * registry.c - the registry (registry.h): names, the push protocol (upload,
 * read-back verification, the commit order), pulls verified against the
 * registry, and argument checks; what is stored where is the backend's
 * (registry_impl.h: registry_index.c or registry_pg.c).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "livewin.h"
#include "pg.h"
#include "registry_db.h"
#include "registry_impl.h"

/* ---- names ---- */

int
ch_reg_valid_version(const char *v)
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
	if (!ch_reg_valid_version(a) || !isalpha((unsigned char)a[0]))
		return 0;
	return !(a[0] == 'v' && isdigit((unsigned char)a[1]));
}

static int
bad_alias(const char *alias, struct ch_err *e)
{
	return ch_errf(e, "bad alias name '%s' (a letter, then letters, digits, "
	    "'.', '_' or '-'; not 'v' and a digit)", alias ? alias : "");
}

static int
bad_name(const char *name, struct ch_err *e)
{
	return ch_errf(e, "bad version or alias name '%s'", name ? name : "");
}

int
ch_reg_no_name(struct ch_registry *r, const char *name, struct ch_err *e)
{
	return ch_errf(e, "no version or alias '%s' in the registry (%s)", name,
	    r->dbwhere);
}

static void
artifact_key(const char *version, char *out, size_t n)
{
	snprintf(out, n, "models/%s/model.churn", version);
}

void
ch_reg_now(char out[21])
{
	ch_iso8601(time(NULL), out);
}

void
ch_reg_ref(struct ch_version_ref *ref, const char *v, const char *sha,
    long long size)
{
	if (!ref)
		return;
	snprintf(ref->version, sizeof ref->version, "%s", v);
	snprintf(ref->sha256, sizeof ref->sha256, "%s", sha);
	ref->size = size < 0 ? 0 : (size_t)size;
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
	if (!o->s3.endpoint)    /* the AWS tools' own name for it */
		o->s3.endpoint = nonempty(get, "AWS_ENDPOINT_URL");
	if (!o->s3.region)
		o->s3.region = nonempty(get, "AWS_REGION");
	if (!o->s3.access_key)
		o->s3.access_key = nonempty(get, "AWS_ACCESS_KEY_ID");
	if (!o->s3.secret_key)
		o->s3.secret_key = nonempty(get, "AWS_SECRET_ACCESS_KEY");
	if (!o->s3.session_token)
		o->s3.session_token = nonempty(get, "AWS_SESSION_TOKEN");
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
	r->be = o->database_url && *o->database_url ? &ch_registry_pg_backend :
	    &ch_registry_index_backend;
	if (ch_store_open(o->store_url, &o->s3, &r->store, e) < 0 ||
	    r->be->open(r, o, e) < 0) {
		ch_registry_close(r);
		return -1;
	}
	*out = r;
	return 0;
}

void
ch_registry_close(struct ch_registry *r)
{
	if (!r)
		return;
	r->be->close(r);
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

/* ---- push ---- */

/*
 * How a push stays safe against concurrent pushes and against being
 * killed at any point.  Here, for every backend: claim the version name,
 * publish the files when they are new or went missing (read back and
 * checked), then commit (the version becomes visible) or abort.  What a
 * claim and a commit are is the backend's (registry_index.c,
 * registry_pg.c):
 *
 * - Index in a file:// store: all of it happens under the index lock
 *   (flock).  The artifact and manifest are written to a temporary
 *   directory models/.push-<pid>, read back and checked, moved to
 *   models/<version> by one rename(2), and only then is the index saved.
 *   Only the lock holder writes below models/, so whatever lies there that
 *   the index does not own while we hold the lock was left by a push that
 *   died; each push removes it (registry_index.c).
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

#define PUSH_SECONDS 3600   /* how far past its own second a push looks */

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

/* Fills c for buf and a copy of manifest (borrowed) completed with
 * sha256, size, created and pushed; from names the version the model was
 * trained as when this is a restamped copy. */
static void
cand_set(struct ch_reg_cand *c, const unsigned char *buf, size_t len,
    json_t *manifest, const char *from)
{
	char t[21];

	snprintf(c->v, sizeof c->v, "%s", ch_jstr(manifest, "version", ""));
	c->buf = buf;
	c->len = len;
	ch_sha256_hex(buf, len, c->sha);
	c->m = json_deep_copy(manifest);
	ch_reg_now(t);
	if (!json_is_string(json_object_get(c->m, "created")))
		json_object_set_new(c->m, "created", json_string(t));
	json_object_set_new(c->m, "sha256", json_string(c->sha));
	json_object_set_new(c->m, "size", json_integer((json_int_t)len));
	json_object_set_new(c->m, "pushed", json_string(t));
	if (from)
		json_object_set_new(c->m, "renamed_from", json_string(from));
}

static void
cand_free(struct ch_reg_cand *c)
{
	free(c->own);
	json_decref(c->m);
	memset(c, 0, sizeof *c);
}

static json_t *
push_result(const char *status, json_t *m, struct ch_registry *r,
    json_t *aliases)
{
	return json_pack("{s:s, s:s, s:O, s:s, s:s, s:s, s:o}",
	    "version", ch_jstr(m, "version", ""), "sha256", ch_jstr(m, "sha256", ""),
	    "size", json_object_get(m, "size"), "created", ch_jstr(m, "created", ""),
	    "status", status, "store", ch_store_where(r->store),
	    "aliases", aliases ? aliases : json_array());
}

/* Uploads c's artifact and manifest below dir and checks the artifact
 * read back (registry_impl.h). */
int
ch_reg_upload(struct ch_registry *r, const char *dir,
    const struct ch_reg_cand *c, struct ch_err *e)
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

/* Is the artifact of c->v missing or of another size?  1 yes, 0 no,
 * -1 error. */
static int
artifact_damaged(struct ch_registry *r, const struct ch_reg_cand *c,
    struct ch_err *e)
{
	char key[128];
	size_t have;
	int rc;

	artifact_key(c->v, key, sizeof key);
	if ((rc = ch_store_head(r->store, key, &have, e)) < 0)
		return -1;
	return rc == 1 || have != c->len;
}

/*
 * One name: claim it, publish when the version is new or its artifact
 * went missing since, commit.  0 done (*status set, c->m the registered
 * manifest, *aliases those naming it), 1 the version holds other bytes
 * (their sha256 in have; nothing changed), -1 error (nothing registered).
 */
static int
push_one(struct ch_registry *r, struct ch_reg_cand *c, const char *alias,
    const char **status, json_t **aliases, char have[65], struct ch_err *e)
{
	int got = r->be->claim(r, c, have, e), bad = 0;

	if (got < 0)
		return -1;
	if (got == CH_REG_TAKEN) {
		r->be->abort(r);
		return 1;
	}
	*status = got == CH_REG_CLAIMED ? "registered" : "exists";
	if (got == CH_REG_SAME && (bad = artifact_damaged(r, c, e)) < 0)
		goto fail;
	if ((got == CH_REG_CLAIMED || bad) && r->be->publish(r, c, e) < 0)
		goto fail;
	return r->be->commit(r, c, alias, got == CH_REG_CLAIMED, aliases, e);
fail:
	r->be->abort(r);
	return -1;
}

int
ch_registry_push_as(struct ch_registry *r, const unsigned char *buf, size_t len,
    json_t *manifest, const char *alias, ch_restamp_fn restamp, void *arg,
    json_t **out, struct ch_err *e)
{
	const char *v0 = ch_jstr(manifest, "version", ""), *status = "registered";
	char sha0[65], have0[65] = "", have[65], next[17];
	struct ch_reg_cand c = {0};
	json_t *aliases = NULL, *man;
	unsigned char *nbuf;
	size_t nlen;
	long k;
	int rc;

	if (out)
		*out = NULL;
	if (!json_is_object(manifest) || !ch_reg_valid_version(v0))
		return ch_errf(e, "bad model version '%s'", v0);
	if (alias && !valid_alias(alias))
		return bad_alias(alias, e);
	ch_sha256_hex(buf, len, sha0);
	cand_set(&c, buf, len, manifest, NULL);
	for (k = 1; ; k++) {
		if ((rc = push_one(r, &c, alias, &status, &aliases, have, e)) != 1)
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
int
ch_reg_gc_remove(struct ch_registry *r, const char *key, json_t *removed,
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
int
ch_reg_gc_tmp_files(struct ch_registry *r, const char *dir, const char *first,
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
			rc = ch_reg_gc_remove(r, key, removed, e);
		}
	ch_strv_free(names);
	return rc;
}

json_t *
ch_registry_gc(struct ch_registry *r, struct ch_err *e)
{
	json_t *removed = json_array(), *x;
	json_int_t bytes = 0;
	size_t i;

	if (r->be->gc(r, removed, e) < 0) {
		json_decref(removed);
		return NULL;
	}
	json_array_foreach(removed, i, x)
		bytes += json_integer_value(json_object_get(x, "bytes"));
	return json_pack("{s:o, s:I}", "removed", removed, "bytes", bytes);
}

/* ---- resolve / pull ---- */

int
ch_registry_resolve(struct ch_registry *r, const char *name,
    struct ch_version_ref *ref, struct ch_err *e)
{
	if (!name || !ch_reg_valid_version(name))
		return bad_name(name, e);
	return r->be->resolve(r, name, ref, e);
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

json_t *
ch_registry_list(struct ch_registry *r, struct ch_err *e)
{
	return r->be->list(r, e);
}

json_t *
ch_registry_show(struct ch_registry *r, const char *name, struct ch_err *e)
{
	struct ch_version_ref ref;

	if (ch_registry_resolve(r, name, &ref, e) < 0)
		return NULL;
	return r->be->show(r, &ref, e);
}

json_t *
ch_registry_history(struct ch_registry *r, const char *alias, struct ch_err *e)
{
	json_t *h = r->be->history(r, alias, e), *ro, *a, *out, *x, *y;
	size_t i = 0, j = 0;

	if (!h || !(ro = r->be->rollouts(r, e))) {
		json_decref(h);
		return NULL;
	}
	/* both oldest first: merge by time, alias events first on a tie */
	a = json_object_get(h, "history");
	out = json_array();
	for (;;) {
		x = json_array_get(a, i);
		y = json_array_get(ro, j);
		if (y && alias && strcmp(ch_jstr(y, "alias", ""), alias) != 0 &&
		    strcmp(ch_jstr(y, "champion", ""), alias) != 0) {
			j++;
			continue;
		}
		if (!x && !y)
			break;
		if (x && (!y || strcmp(ch_jstr(x, "time", ""),
		    ch_jstr(y, "time", "")) <= 0)) {
			json_array_append(out, x);
			i++;
		} else {
			json_array_append(out, y);
			j++;
		}
	}
	json_decref(ro);
	json_object_set_new(h, "history", out);
	return h;
}

/* ---- alias set / rollback ---- */

static void
vs_push(struct ch_reg_vstack *s, const char *v)
{
	if (s->n == s->cap)
		s->v = ch_reallocarray(s->v, s->cap = s->cap ? 2 * s->cap : 16, sizeof *s->v);
	snprintf(s->v[s->n++], sizeof *s->v, "%s", v);
}

/* One history event: "set" pushes, "rollback" pops (and makes sure the
 * top is the version the rollback went to). */
void
ch_reg_vs_event(struct ch_reg_vstack *s, const char *action, const char *v)
{
	if (strcmp(action, "rollback") == 0) {
		if (s->n > 0)
			s->n--;
		if (s->n == 0 || strcmp(s->v[s->n - 1], v) != 0)
			vs_push(s, v);
	} else
		vs_push(s, v);
}

int
ch_reg_vs_target(const struct ch_reg_vstack *s, const char *alias,
    const char *cur, char to[64], struct ch_err *e)
{
	if (s->n < 2)
		return ch_errf(e, "alias '%s' has no earlier version to roll back to "
		    "(it names %s)", alias, cur);
	snprintf(to, 64, "%s", s->v[s->n - 2]);
	return 0;
}

int
ch_registry_alias_set(struct ch_registry *r, const char *alias,
    const char *name, struct ch_err *e)
{
	if (!alias || !valid_alias(alias))
		return bad_alias(alias, e);
	if (!name || !ch_reg_valid_version(name))
		return bad_name(name, e);
	return r->be->alias_set(r, alias, name, e);
}

int
ch_registry_rollback(struct ch_registry *r, const char *alias,
    struct ch_version_ref *ref, struct ch_err *e)
{
	if (!alias || !valid_alias(alias))
		return bad_alias(alias, e);
	return r->be->rollback(r, alias, ref, e);
}

/* ---- drift reports ---- */

int
ch_registry_record_drift(struct ch_registry *r, json_t *report,
    struct ch_err *e)
{
	if (!json_is_object(report))
		return ch_errf(e, "a drift report must be a JSON object");
	return r->be->record_drift(r, report, e);
}

json_t *
ch_registry_drift_reports(struct ch_registry *r, size_t limit, struct ch_err *e)
{
	return r->be->drift_reports(r, limit ? limit : 100, e);
}

/* ---- the live-traffic window, under its old names (livewin.h) ---- */

static struct ch_pg *
window_db(struct ch_registry *r, struct ch_err *e)
{
	struct ch_pg *db = r->be->database(r);

	if (!db)
		ch_errf(e, "live-traffic window: no database is configured "
		    "(registry %s)", r->dbwhere);
	return db;
}

int
ch_registry_window_append(struct ch_registry *r, const char *lines,
    size_t len, long keep, long *refused, struct ch_err *e)
{
	struct ch_pg *db;

	if (refused)
		*refused = 0;
	if (!(db = window_db(r, e)))
		return -1;
	return ch_livewin_append(db, lines, len, keep, refused, e);
}

char *
ch_registry_window_read(struct ch_registry *r, long limit, size_t *len,
    long *rows, struct ch_err *e)
{
	struct ch_pg *db;

	*len = 0;
	if (rows)
		*rows = 0;
	if (!(db = window_db(r, e)))
		return NULL;
	return ch_livewin_read(db, limit, len, rows, e);
}

char *
ch_registry_window_page(struct ch_registry *r, long keep, long after,
    long max, long *last, size_t *len, long *rows, struct ch_err *e)
{
	struct ch_pg *db;

	*len = 0;
	*rows = 0;
	*last = after;
	if (!(db = window_db(r, e)))
		return NULL;
	return ch_livewin_page(db, keep, after, max, last, len, rows, e);
}

/* ---- the database, for the other files that keep tables in it
 * (registry_db.h: outcomes.c, predlog.c) ---- */

PGconn *
ch_registry_pg(struct ch_registry *r)
{
	struct ch_pg *db = r->be->database(r);

	return db ? ch_pg_conn(db) : NULL;
}

PGresult *
ch_registry_pg_exec(struct ch_registry *r, const char *what, const char *sql,
    int n, const char *const *params, struct ch_err *e)
{
	struct ch_pg *db = r->be->database(r);

	if (!db)
		return ch_errf(e, "%s: no database is configured (registry %s)",
		    what, r->dbwhere), NULL;
	return ch_pg_exec(db, what, sql, n, params, e);
}

/* ---- the rollout ---- */

static const char *const rollout_modes[] = {"off", "canary", "shadow"};

const char *
ch_rollout_mode_name(enum ch_rollout_mode m)
{
	return (unsigned)m < 3 ? rollout_modes[m] : "off";
}

int
ch_rollout_mode_parse(const char *s)
{
	int i;

	for (i = 0; s && i < 3; i++)
		if (strcmp(s, rollout_modes[i]) == 0)
			return i;
	return -1;
}

json_t *
ch_rollout_json(const struct ch_rollout *ro)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:f, s:s, s:s, s:s}",
	    "id", (json_int_t)ro->id, "champion", ro->champion,
	    "challenger", ro->challenger,
	    "challenger_version", ro->challenger_version,
	    "mode", ch_rollout_mode_name(ro->mode), "share", ro->share,
	    "time", ro->time, "actor", ro->actor, "reason", ro->reason);
}

json_t *
ch_reg_rollout_event(const struct ch_rollout *ro)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:I, s:s, s:s}",
	    "alias", ro->challenger, "version", ro->challenger_version,
	    "time", ro->time, "action", "rollout", "champion", ro->champion,
	    "mode", ch_rollout_mode_name(ro->mode), "share", ro->share,
	    "rollout", (json_int_t)ro->id, "actor", ro->actor,
	    "reason", ro->reason);
}

long long
ch_reg_rollout_next(const struct ch_rollout *cur, const struct ch_rollout *ro,
    long long fresh)
{
	if (cur->id > 0 && cur->mode != CH_ROLLOUT_OFF &&
	    ro->mode != CH_ROLLOUT_OFF &&
	    strcmp(cur->champion, ro->champion) == 0 &&
	    strcmp(cur->challenger, ro->challenger) == 0 &&
	    strcmp(cur->challenger_version, ro->challenger_version) == 0)
		return cur->id;
	return fresh;
}

static void
rollout_default(struct ch_rollout *ro)
{
	memset(ro, 0, sizeof *ro);
	snprintf(ro->champion, sizeof ro->champion, "champion");
	snprintf(ro->challenger, sizeof ro->challenger, "challenger");
}

int
ch_registry_rollout(struct ch_registry *r, struct ch_rollout *ro,
    struct ch_err *e)
{
	rollout_default(ro);
	return r->be->rollout_get(r, ro, e);
}

int
ch_registry_rollout_set(struct ch_registry *r, struct ch_rollout *ro,
    struct ch_err *e)
{
	struct ch_version_ref ref;

	if (!valid_alias(ro->champion))
		return bad_alias(ro->champion, e);
	if (!valid_alias(ro->challenger))
		return bad_alias(ro->challenger, e);
	if (strcmp(ro->champion, ro->challenger) == 0)
		return ch_errf(e, "rollout: champion and challenger are the same "
		    "alias '%s'", ro->champion);
	if ((unsigned)ro->mode > CH_ROLLOUT_SHADOW)
		return ch_errf(e, "rollout: bad mode %d", (int)ro->mode);
	if (!(ro->share >= 0 && ro->share <= 100))
		return ch_errf(e, "rollout: share %g is not between 0 and 100",
		    ro->share);
	if (ro->mode != CH_ROLLOUT_CANARY)
		ro->share = ro->mode == CH_ROLLOUT_SHADOW ? 100 : 0;
	ro->challenger_version[0] = '\0';
	if (ro->mode != CH_ROLLOUT_OFF) {
		if (r->be->resolve(r, ro->champion, &ref, e) < 0)
			return -1;
		if (r->be->resolve(r, ro->challenger, &ref, e) < 0)
			return -1;
		snprintf(ro->challenger_version, sizeof ro->challenger_version,
		    "%s", ref.version);
	}
	ch_reg_now(ro->time);
	return r->be->rollout_set(r, ro, e);
}
