/*
 * registry_pg.c - the registry backend in PostgreSQL: tables
 * churn_model_versions, churn_aliases, churn_alias_history and
 * churn_drift_reports (pg.c migrates them); every change is one
 * transaction.  See registry_impl.h.
 */
#include <stdlib.h>
#include <string.h>

#include "registry_impl.h"

#define VERSION_LOCK "730211444"   /* advisory lock class of version names */
#define ALIAS_LOCK "730211443"     /* advisory lock class of alias names */

#define DB(r) ((struct ch_pg *)(r)->impl)

static json_t *
parse_json_cell(PGresult *res, int row, int col)
{
	json_t *j;

	if (PQgetisnull(res, row, col))
		return json_object();
	j = json_loads(PQgetvalue(res, row, col), JSON_DECODE_ANY, NULL);
	return j ? j : json_object();
}

/* Runs sql (n parameters p) and gives each row of the result through one,
 * in order, as a new array; NULL with e filled. */
static json_t *
rows(struct ch_registry *r, const char *what, const char *sql, int n,
    const char *const *p, json_t *(*one)(PGresult *, int), struct ch_err *e)
{
	PGresult *res = ch_pg_exec(DB(r), what, sql, n, p, e);
	json_t *a;
	int k;

	if (!res)
		return NULL;
	a = json_array();
	for (k = 0; k < PQntuples(res); k++)
		json_array_append_new(a, one(res, k));
	PQclear(res);
	return a;
}

static json_t *
first_string(PGresult *res, int row)
{
	return json_string(PQgetvalue(res, row, 0));
}

static json_t *
first_json(PGresult *res, int row)
{
	return parse_json_cell(res, row, 0);
}

static json_t *
aliases_of(struct ch_registry *r, const char *v, struct ch_err *e)
{
	const char *p[] = {v};

	return rows(r, "list aliases", "SELECT alias FROM churn_aliases"
	    " WHERE version = $1 ORDER BY alias", 1, p, first_string, e);
}

/* Inside a transaction: locks alias (until the end of it) and reads the
 * version it names into cur ("" when none). */
static int
lock_alias(struct ch_registry *r, const char *alias, char cur[64],
    struct ch_err *e)
{
	const char *p[] = {alias};
	PGresult *res;

	if (ch_pg_do(DB(r), "lock alias", "SELECT pg_advisory_xact_lock("
	    ALIAS_LOCK ", hashtext($1))", 1, p, e) < 0)
		return -1;
	if (!(res = ch_pg_exec(DB(r), "read alias", "SELECT version FROM"
	    " churn_aliases WHERE alias = $1", 1, p, e)))
		return -1;
	snprintf(cur, 64, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return 0;
}

/* Inside a transaction: lock the alias, point it at version v (which must
 * be registered), record the move. */
static int
alias_set_tx(struct ch_registry *r, const char *alias, const char *v,
    struct ch_err *e)
{
	char prev[64];
	const char *p[] = {alias, v, prev};

	if (lock_alias(r, alias, prev, e) < 0)
		return -1;
	if (strcmp(prev, v) == 0)
		return 0;
	if (!*prev)
		p[2] = NULL;
	if (ch_pg_do(DB(r), "set alias", "INSERT INTO churn_aliases (alias, version)"
	    " VALUES ($1, $2) ON CONFLICT (alias) DO UPDATE"
	    " SET version = EXCLUDED.version, updated = now()", 2, p, e) < 0 ||
	    ch_pg_do(DB(r), "record alias history", "INSERT INTO churn_alias_history"
	    " (alias, version, previous, action) VALUES ($1, $2, $3, 'set')",
	    3, p, e) < 0 ||
	    /* fleet.h: every churn-serve hears of it at the commit */
	    ch_pg_do(DB(r), "announce alias", "SELECT pg_notify('churn_registry',"
	    " 'alias ' || $1 || ' ' || $2)", 2, p, e) < 0)
		return -1;
	return 0;
}

/* ---- open / close ---- */

static int
pg_open(struct ch_registry *r, const struct ch_registry_opts *o,
    struct ch_err *e)
{
	struct ch_pg *db;

	if (ch_pg_open(o->database_url, o->db_timeout_s, &db, e) < 0)
		return -1;
	r->impl = db;
	snprintf(r->dbwhere, sizeof r->dbwhere, "%s", ch_pg_where(db));
	return 0;
}

static void
pg_close(struct ch_registry *r)
{
	ch_pg_close(DB(r));
	r->impl = NULL;
}

static struct ch_pg *
pg_database(struct ch_registry *r)
{
	return DB(r);
}

/* ---- push (registry.c says how it stays safe) ---- */

/* BEGIN, the advisory lock on c->v, then INSERT ... ON CONFLICT DO
 * NOTHING: the row, uncommitted and so invisible, is the claim. */
static int
pg_claim(struct ch_registry *r, const struct ch_reg_cand *c, char have[65],
    struct ch_err *e)
{
	char size[32];
	char *ms = json_dumps(c->m, JSON_PRESERVE_ORDER | JSON_COMPACT);
	const char *p[] = {c->v, c->sha, size, ch_jstr(c->m, "created", ""), ms};
	PGresult *res;
	int claimed;

	snprintf(size, sizeof size, "%zu", c->len);
	if (!ms)
		return ch_errf(e, "cannot encode the manifest of %s", c->v);
	if (ch_pg_begin(DB(r), e) < 0) {
		free(ms);
		return -1;
	}
	res = NULL;
	if (ch_pg_do(DB(r), "lock version", "SELECT pg_advisory_xact_lock("
	    VERSION_LOCK ", hashtext($1))", 1, p, e) == 0)
		res = ch_pg_exec(DB(r), "register version", "INSERT INTO"
		    " churn_model_versions (version, sha256, size, created, manifest)"
		    " VALUES ($1, $2, $3::bigint, $4::timestamptz, $5::json)"
		    " ON CONFLICT (version) DO NOTHING", 5, p, e);
	free(ms);
	if (!res)
		goto fail;
	claimed = atoi(PQcmdTuples(res)) == 1;
	PQclear(res);
	if (claimed)
		return CH_REG_CLAIMED;
	if (!(res = ch_pg_exec(DB(r), "look up version", "SELECT sha256 FROM"
	    " churn_model_versions WHERE version = $1", 1, p, e)))
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		ch_errf(e, "database %s: version '%s' neither inserted nor found",
		    r->dbwhere, c->v);
		goto fail;
	}
	snprintf(have, 65, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return strcmp(have, c->sha) == 0 ? CH_REG_SAME : CH_REG_TAKEN;
fail:
	ch_pg_rollback(DB(r));
	return -1;
}

/* Straight to the final key, while the claim is held: object stores have
 * no rename, and an upload under a unique key would need a copy on S3
 * afterwards. */
static int
pg_publish(struct ch_registry *r, const struct ch_reg_cand *c,
    struct ch_err *e)
{
	char dir[128];
	const char *p[] = {c->v};

	snprintf(dir, sizeof dir, "models/%s", c->v);
	/* the notice goes out at the commit, with the row */
	return ch_reg_upload(r, dir, c, e) < 0 ||
	    ch_pg_do(DB(r), "announce version", "SELECT pg_notify("
	    "'churn_registry', 'version ' || $1)", 1, p, e) < 0 ? -1 : 0;
}

static int
pg_commit(struct ch_registry *r, struct ch_reg_cand *c, const char *alias,
    int claimed, json_t **aliases, struct ch_err *e)
{
	const char *p[] = {c->v};
	json_error_t je;
	PGresult *res;

	if (alias && alias_set_tx(r, alias, c->v, e) < 0) {
		ch_pg_rollback(DB(r));
		return -1;
	}
	if (ch_pg_commit(DB(r), e) < 0)
		return -1;
	if (!claimed) {
		/* report what is registered, not what was sent */
		if (!(res = ch_pg_exec(DB(r), "read manifest", "SELECT manifest"
		    " FROM churn_model_versions WHERE version = $1", 1, p, e)))
			return -1;
		json_decref(c->m);
		c->m = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0,
		    &je) : NULL;
		PQclear(res);
		if (!c->m)
			return ch_errf(e, "database %s: bad manifest of '%s'",
			    r->dbwhere, c->v);
	}
	return (*aliases = aliases_of(r, c->v, e)) ? 0 : -1;
}

static void
pg_abort(struct ch_registry *r)
{
	ch_pg_rollback(DB(r));
}

/* Each version directory whose name's advisory lock is free (no push is
 * at work on it): all of it when the version is not registered, else the
 * temporary files beside its artifact. */
static int
pg_gc(struct ch_registry *r, json_t *removed, struct ch_err *e)
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

		if (!ch_reg_valid_version(names[i]))
			continue;
		if (ch_pg_begin(DB(r), e) < 0) {
			rc = -1;
			break;
		}
		/* the lock first: the snapshot of the next query comes after it */
		if (!(res = ch_pg_exec(DB(r), "lock version", "SELECT"
		    " pg_try_advisory_xact_lock(" VERSION_LOCK ", hashtext($1))",
		    1, p, e))) {
			rc = -1;
			goto next;
		}
		locked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (!locked)
			goto next;
		if (!(res = ch_pg_exec(DB(r), "look up version", "SELECT 1 FROM"
		    " churn_model_versions WHERE version = $1", 1, p, e))) {
			rc = -1;
			goto next;
		}
		registered = PQntuples(res) > 0;
		PQclear(res);
		snprintf(key, sizeof key, "models/%s", names[i]);
		rc = registered ? ch_reg_gc_tmp_files(r, key, "", removed, e) :
		    ch_reg_gc_remove(r, key, removed, e);
next:
		ch_pg_rollback(DB(r));	/* nothing to commit; releases the lock */
	}
	ch_strv_free(names);
	return rc;
}

/* ---- names, listings ---- */

static int
pg_resolve(struct ch_registry *r, const char *name, struct ch_version_ref *ref,
    struct ch_err *e)
{
	const char *p[] = {name};
	PGresult *res = ch_pg_exec(DB(r), "resolve",
	    "SELECT v.version, v.sha256, v.size FROM churn_aliases a"
	    " JOIN churn_model_versions v ON v.version = a.version WHERE a.alias = $1"
	    " UNION ALL SELECT version, sha256, size FROM churn_model_versions"
	    " WHERE version = $1 LIMIT 1", 1, p, e);

	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ch_reg_no_name(r, name, e);
	}
	ch_reg_ref(ref, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
	    atoll(PQgetvalue(res, 0, 2)));
	PQclear(res);
	return 0;
}

static json_t *
pg_list(struct ch_registry *r, struct ch_err *e)
{
	json_t *versions, *aliases;
	PGresult *res, *ares;
	int k;

	if (ch_pg_begin(DB(r), e) < 0)
		return NULL;
	res = ch_pg_exec(DB(r), "list versions", "SELECT version, sha256, size,"
	    " manifest->>'created', manifest->'metrics', manifest->'params'"
	    " FROM churn_model_versions ORDER BY seq", 0, NULL, e);
	ares = res ? ch_pg_exec(DB(r), "list aliases", "SELECT alias, version"
	    " FROM churn_aliases ORDER BY alias", 0, NULL, e) : NULL;
	ch_pg_rollback(DB(r));	/* read-only: one snapshot, nothing to commit */
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

static json_t *
pg_show(struct ch_registry *r, const struct ch_version_ref *ref,
    struct ch_err *e)
{
	const char *p[] = {ref->version};
	json_t *m = NULL, *aliases;
	PGresult *res = ch_pg_exec(DB(r), "show", "SELECT manifest,"
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
		return ch_errf(e, "version '%s' vanished from %s", ref->version,
		    r->dbwhere), NULL;
	if (!(aliases = aliases_of(r, ref->version, e))) {
		json_decref(m);
		return NULL;
	}
	json_object_set_new(m, "aliases", aliases);
	return m;
}

static json_t *
history_event(PGresult *res, int k)
{
	return json_pack("{s:s, s:s, s:s?, s:s, s:s}",
	    "alias", PQgetvalue(res, k, 0), "version", PQgetvalue(res, k, 1),
	    "previous", PQgetisnull(res, k, 2) ? NULL : PQgetvalue(res, k, 2),
	    "time", PQgetvalue(res, k, 3), "action", PQgetvalue(res, k, 4));
}

static json_t *
pg_history(struct ch_registry *r, const char *alias, struct ch_err *e)
{
	const char *p[] = {alias};
	json_t *h = rows(r, "history", "SELECT alias, version, previous,"
	    " to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	    " action FROM churn_alias_history WHERE $1::text IS NULL OR alias = $1"
	    " ORDER BY id", 1, p, history_event, e);

	return h ? json_pack("{s:o}", "history", h) : NULL;
}

/* ---- aliases ---- */

static int
pg_alias_set(struct ch_registry *r, const char *alias, const char *name,
    struct ch_err *e)
{
	struct ch_version_ref ref;

	if (ch_pg_begin(DB(r), e) < 0)
		return -1;
	if (pg_resolve(r, name, &ref, e) < 0 ||
	    alias_set_tx(r, alias, ref.version, e) < 0) {
		ch_pg_rollback(DB(r));
		return -1;
	}
	return ch_pg_commit(DB(r), e);
}

/* Inside a transaction: the version alias names (into cur) and its
 * history replayed (into s). */
static int
read_alias(struct ch_registry *r, const char *alias, char cur[64],
    struct ch_reg_vstack *s, struct ch_err *e)
{
	const char *p[] = {alias};
	PGresult *res;
	int k;

	if (lock_alias(r, alias, cur, e) < 0)
		return -1;
	if (!*cur)
		return ch_errf(e, "no alias '%s' in the registry (%s)", alias,
		    r->dbwhere);
	if (!(res = ch_pg_exec(DB(r), "read history", "SELECT action, version"
	    " FROM churn_alias_history WHERE alias = $1 ORDER BY id", 1, p, e)))
		return -1;
	for (k = 0; k < PQntuples(res); k++)
		ch_reg_vs_event(s, PQgetvalue(res, k, 0), PQgetvalue(res, k, 1));
	PQclear(res);
	return 0;
}

static int
pg_rollback(struct ch_registry *r, const char *alias,
    struct ch_version_ref *ref, struct ch_err *e)
{
	struct ch_reg_vstack s = {0};
	char cur[64], to[64];
	const char *p[] = {alias, to, cur};
	int rc;

	if (ch_pg_begin(DB(r), e) < 0)
		return -1;
	rc = read_alias(r, alias, cur, &s, e) < 0 ||
	    ch_reg_vs_target(&s, alias, cur, to, e) < 0 ||
	    ch_pg_do(DB(r), "roll back alias", "UPDATE churn_aliases SET version = $2,"
	    " updated = now() WHERE alias = $1", 2, p, e) < 0 ||
	    ch_pg_do(DB(r), "record alias history", "INSERT INTO churn_alias_history"
	    " (alias, version, previous, action) VALUES ($1, $2, $3, 'rollback')",
	    3, p, e) < 0 ||
	    ch_pg_do(DB(r), "announce rollback", "SELECT pg_notify('churn_registry',"
	    " 'rollback ' || $1 || ' ' || $2)", 2, p, e) < 0 ||
	    pg_resolve(r, to, ref ? ref : &(struct ch_version_ref){0}, e) < 0 ? -1 : 0;
	free(s.v);
	if (rc < 0) {
		ch_pg_rollback(DB(r));
		return -1;
	}
	return ch_pg_commit(DB(r), e);
}

/* ---- drift reports ---- */

static int
pg_record_drift(struct ch_registry *r, json_t *report, struct ch_err *e)
{
	char *s = json_dumps(report, JSON_PRESERVE_ORDER | JSON_COMPACT);
	json_t *d = json_object_get(report, "drift");
	const char *p[] = {json_string_value(json_object_get(report, "model_version")),
	    json_is_boolean(d) ? (json_is_true(d) ? "true" : "false") : NULL, s};
	int rc = ch_pg_do(DB(r), "record drift report", "INSERT INTO"
	    " churn_drift_reports (model_version, drift, report)"
	    " VALUES ($1, $2::boolean, $3::json)", 3, p, e);

	free(s);
	return rc;
}

static json_t *
pg_drift_reports(struct ch_registry *r, size_t limit, struct ch_err *e)
{
	char lim[32];
	const char *p[] = {lim};
	json_t *list;

	snprintf(lim, sizeof lim, "%zu", limit);
	list = rows(r, "list drift reports", "SELECT report FROM"
	    " (SELECT id, report FROM churn_drift_reports ORDER BY id DESC"
	    " LIMIT $1::bigint) t ORDER BY id", 1, p, first_json, e);
	return list ? json_pack("{s:o}", "reports", list) : NULL;
}

/* ---- the rollout (churn_rollouts: the newest row is current) ---- */

#define ROLLOUT_LOCK "730211445"
#define ROLLOUT_COLS "rollout, champion, challenger," \
	" coalesce(challenger_version, ''), mode, share," \
	" to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')," \
	" actor, reason"

static void
rollout_row(struct ch_rollout *ro, PGresult *res, int k)
{
	int m = ch_rollout_mode_parse(PQgetvalue(res, k, 4));

	ro->id = atoll(PQgetvalue(res, k, 0));
	snprintf(ro->champion, sizeof ro->champion, "%s", PQgetvalue(res, k, 1));
	snprintf(ro->challenger, sizeof ro->challenger, "%s", PQgetvalue(res, k, 2));
	snprintf(ro->challenger_version, sizeof ro->challenger_version, "%s",
	    PQgetvalue(res, k, 3));
	ro->mode = m < 0 ? CH_ROLLOUT_OFF : (enum ch_rollout_mode)m;
	ro->share = atof(PQgetvalue(res, k, 5));
	snprintf(ro->time, sizeof ro->time, "%s", PQgetvalue(res, k, 6));
	snprintf(ro->actor, sizeof ro->actor, "%s", PQgetvalue(res, k, 7));
	snprintf(ro->reason, sizeof ro->reason, "%s", PQgetvalue(res, k, 8));
}

static int
pg_rollout_get(struct ch_registry *r, struct ch_rollout *ro, struct ch_err *e)
{
	PGresult *res = ch_pg_exec(DB(r), "read rollout", "SELECT " ROLLOUT_COLS
	    " FROM churn_rollouts ORDER BY id DESC LIMIT 1", 0, NULL, e);

	if (!res)
		return -1;
	if (PQntuples(res) > 0)
		rollout_row(ro, res, 0);
	PQclear(res);
	return 0;
}

static int
pg_rollout_set(struct ch_registry *r, struct ch_rollout *ro, struct ch_err *e)
{
	struct ch_rollout cur = {0};
	char id[32], rid[32], share[64];
	const char *p[] = {id, rid, ro->champion, ro->challenger,
	    ro->challenger_version, ch_rollout_mode_name(ro->mode), share,
	    ro->actor, ro->reason};
	PGresult *res;

	if (ch_pg_begin(DB(r), e) < 0)
		return -1;
	if (ch_pg_do(DB(r), "lock rollout", "SELECT pg_advisory_xact_lock("
	    ROLLOUT_LOCK ")", 0, NULL, e) < 0 ||
	    pg_rollout_get(r, &cur, e) < 0 ||
	    !(res = ch_pg_exec(DB(r), "new rollout id", "SELECT nextval("
	    "pg_get_serial_sequence('churn_rollouts', 'id'))", 0, NULL, e)))
		goto fail;
	snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	ro->id = ch_reg_rollout_next(&cur, ro, atoll(id));
	snprintf(rid, sizeof rid, "%lld", ro->id);
	snprintf(share, sizeof share, "%.17g", ro->share);
	if (!*ro->challenger_version)
		p[4] = NULL;
	if (!(res = ch_pg_exec(DB(r), "record rollout", "INSERT INTO churn_rollouts"
	    " (id, rollout, champion, challenger, challenger_version, mode, share,"
	    " actor, reason) VALUES ($1::bigint, $2::bigint, $3, $4, $5, $6,"
	    " $7::double precision, $8, $9) RETURNING to_char(time AT TIME ZONE"
	    " 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", 9, p, e)))
		goto fail;
	snprintf(ro->time, sizeof ro->time, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	/* fleet.h: every churn-serve follows the rollout at the commit */
	if (ch_pg_do(DB(r), "announce rollout", "SELECT pg_notify("
	    "'churn_registry', 'rollout ' || $1 || ' ' || $2)", 2,
	    (const char *[]){ rid, p[5] }, e) < 0)
		goto fail;
	return ch_pg_commit(DB(r), e);
fail:
	ch_pg_rollback(DB(r));
	return -1;
}

static json_t *
rollout_event(PGresult *res, int k)
{
	struct ch_rollout ro;

	rollout_row(&ro, res, k);
	return ch_reg_rollout_event(&ro);
}

static json_t *
pg_rollouts(struct ch_registry *r, struct ch_err *e)
{
	return rows(r, "rollout history", "SELECT " ROLLOUT_COLS
	    " FROM churn_rollouts ORDER BY id", 0, NULL, rollout_event, e);
}

const struct ch_registry_backend ch_registry_pg_backend = {
	.open = pg_open, .close = pg_close, .database = pg_database,
	.claim = pg_claim, .publish = pg_publish, .commit = pg_commit,
	.abort = pg_abort, .gc = pg_gc,
	.resolve = pg_resolve, .list = pg_list, .show = pg_show,
	.history = pg_history, .alias_set = pg_alias_set,
	.rollback = pg_rollback, .record_drift = pg_record_drift,
	.drift_reports = pg_drift_reports,
	.rollout_get = pg_rollout_get, .rollout_set = pg_rollout_set,
	.rollouts = pg_rollouts,
};
