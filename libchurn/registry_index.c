/*
 * registry_index.c - the registry backend without a database: the index
 * registry/index.json (versions, aliases, alias history) and
 * registry/drift.json in the store, each rewritten whole under
 * ch_store_lock (flock for file://).  See registry_impl.h.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry_impl.h"

#define INDEX_KEY "registry/index.json"
#define DRIFT_KEY "registry/drift.json"
#define DRIFT_KEEP 1000
#define PUSH_TMP ".push-"

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

/* The index under the lock, or NULL with e (and the lock released). */
static json_t *
index_lock_load(struct ch_registry *r, struct ch_err *e)
{
	json_t *idx;

	if (ch_store_lock(r->store, INDEX_KEY, e) < 0)
		return NULL;
	if (!(idx = index_load(r, e)))
		ch_store_unlock(r->store);
	return idx;
}

/* Saves idx (when save) and releases the lock and idx; save's status. */
static int
index_unlock(struct ch_registry *r, json_t *idx, int save, struct ch_err *e)
{
	int rc = save ? save_json_object(r, INDEX_KEY, idx, e) : 0;

	ch_store_unlock(r->store);
	json_decref(idx);
	return rc;
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

/* name → index entry (alias first), or NULL */
static json_t *
index_resolve(json_t *idx, const char *name)
{
	const char *v = json_string_value(json_object_get(json_object_get(idx,
	    "aliases"), name));

	return index_version(idx, v ? v : name);
}

static void
ref_of(struct ch_version_ref *ref, json_t *x)
{
	ch_reg_ref(ref, ch_jstr(x, "version", ""), ch_jstr(x, "sha256", ""),
	    json_integer_value(json_object_get(x, "size")));
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

	ch_reg_now(t);
	json_array_append_new(json_object_get(idx, "history"),
	    json_pack("{s:s, s:s, s:s?, s:s, s:s}", "alias", alias, "version", v,
	    "previous", prev, "time", t, "action", action));
}

static void
alias_set_in(json_t *idx, const char *alias, const char *v)
{
	const char *prev = json_string_value(json_object_get(json_object_get(idx,
	    "aliases"), alias));
	char *p = prev ? ch_strdup(prev) : NULL;

	if (!p || strcmp(p, v) != 0) {
		json_object_set_new(json_object_get(idx, "aliases"), alias, json_string(v));
		history_append(idx, alias, v, p, "set");
	}
	free(p);
}

/* ---- open / close ---- */

static int
ix_open(struct ch_registry *r, const struct ch_registry_opts *o,
    struct ch_err *e)
{
	(void)o;
	(void)e;
	snprintf(r->dbwhere, sizeof r->dbwhere, "index in %s",
	    ch_store_where(r->store));
	return 0;
}

static void
ix_close(struct ch_registry *r)
{
	json_decref(r->impl);	/* a push's index, were it left held */
	r->impl = NULL;
}

static struct ch_pg *
ix_database(struct ch_registry *r)
{
	(void)r;
	return NULL;
}

/* ---- push (registry.c says how it stays safe) ---- */

/*
 * Removes below models/ all that no registered version owns (temporary
 * directories, version directories the index does not list, temporary
 * files beside registered artifacts) and the index's own temporary files.
 * Under the index lock only: only its holder writes below models/.
 */
static int
gc_locked(struct ch_registry *r, json_t *idx, json_t *removed,
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
		    ch_reg_gc_tmp_files(r, key, "", removed, e) :
		    ch_reg_gc_remove(r, key, removed, e);
	}
	ch_strv_free(names);
	if (rc == 0)
		rc = ch_reg_gc_tmp_files(r, "registry", "index.json.", removed, e);
	return rc;
}

static int
ix_claim(struct ch_registry *r, const struct ch_reg_cand *c, char have[65],
    struct ch_err *e)
{
	struct ch_err ignore = {{0}};
	json_t *idx, *entry;

	if (!(idx = index_lock_load(r, e)))
		return -1;
	/* a push does not fail for what it could not clean up */
	if (ch_store_is_local(r->store))
		gc_locked(r, idx, NULL, &ignore);
	r->impl = idx;
	if (!(entry = index_version(idx, c->v)))
		return CH_REG_CLAIMED;
	if (strcmp(ch_jstr(entry, "sha256", ""), c->sha) == 0)
		return CH_REG_SAME;
	snprintf(have, 65, "%s", ch_jstr(entry, "sha256", ""));
	return CH_REG_TAKEN;
}

/* On file:// all at once (a temporary directory renamed), on s3://
 * straight there. */
static int
ix_publish(struct ch_registry *r, const struct ch_reg_cand *c,
    struct ch_err *e)
{
	struct ch_err ignore = {{0}};
	char dir[128], tmp[64];

	snprintf(dir, sizeof dir, "models/%s", c->v);
	if (!ch_store_is_local(r->store))
		return ch_reg_upload(r, dir, c, e);
	snprintf(tmp, sizeof tmp, "models/" PUSH_TMP "%ld", (long)getpid());
	if (ch_reg_upload(r, tmp, c, e) == 0 &&
	    ch_store_rename(r->store, tmp, dir, e) == 0)
		return 0;
	ch_store_remove_all(r->store, tmp, NULL, &ignore);
	return -1;
}

static int
ix_commit(struct ch_registry *r, struct ch_reg_cand *c, const char *alias,
    int claimed, json_t **aliases, struct ch_err *e)
{
	json_t *idx = r->impl;
	json_t *metrics = json_object_get(c->m, "metrics");
	json_t *params = json_object_get(c->m, "params");
	char t[21];

	r->impl = NULL;
	if (claimed) {
		ch_reg_now(t);
		json_array_append_new(json_object_get(idx, "versions"),
		    json_pack("{s:s, s:s, s:I, s:s, s:s, s:o, s:o}",
		    "version", c->v, "sha256", c->sha, "size", (json_int_t)c->len,
		    "created", ch_jstr(c->m, "created", ""), "registered", t,
		    "metrics", metrics ? json_incref(metrics) : json_object(),
		    "params", params ? json_incref(params) : json_object()));
	} else {
		json_decref(c->m);
		c->m = json_deep_copy(index_version(idx, c->v));
	}
	if (alias)
		alias_set_in(idx, alias, c->v);
	*aliases = index_aliases_of(idx, c->v);
	if (index_unlock(r, idx, 1, e) < 0) {
		json_decref(*aliases);
		*aliases = NULL;
		return -1;
	}
	return 0;
}

static void
ix_abort(struct ch_registry *r)
{
	index_unlock(r, r->impl, 0, NULL);
	r->impl = NULL;
}

static int
ix_gc(struct ch_registry *r, json_t *removed, struct ch_err *e)
{
	json_t *idx = index_lock_load(r, e);
	int rc;

	if (!idx)
		return -1;
	rc = gc_locked(r, idx, removed, e);
	index_unlock(r, idx, 0, NULL);
	return rc;
}

/* ---- names, listings ---- */

static int
ix_resolve(struct ch_registry *r, const char *name, struct ch_version_ref *ref,
    struct ch_err *e)
{
	json_t *idx, *x;

	if (!(idx = index_load(r, e)))
		return -1;
	if (!(x = index_resolve(idx, name))) {
		json_decref(idx);
		return ch_reg_no_name(r, name, e);
	}
	ref_of(ref, x);
	json_decref(idx);
	return 0;
}

static json_t *
ix_list(struct ch_registry *r, struct ch_err *e)
{
	json_t *idx, *versions, *aliases, *x;
	size_t i;

	if (!(idx = index_load(r, e)))
		return NULL;
	versions = json_array();
	json_array_foreach(json_object_get(idx, "versions"), i, x) {
		json_t *metrics = json_object_get(x, "metrics");
		json_t *params = json_object_get(x, "params");
		json_array_append_new(versions, json_pack("{s:s, s:s, s:O, s:s, s:o,"
		    " s:o, s:o}", "version", ch_jstr(x, "version", ""),
		    "sha256", ch_jstr(x, "sha256", ""), "size", json_object_get(x, "size"),
		    "created", ch_jstr(x, "created", ""),
		    "metrics", metrics ? json_incref(metrics) : json_object(),
		    "params", params ? json_incref(params) : json_object(),
		    "aliases", index_aliases_of(idx, ch_jstr(x, "version", ""))));
	}
	aliases = json_incref(json_object_get(idx, "aliases"));
	json_decref(idx);
	return json_pack("{s:o, s:o}", "versions", versions, "aliases", aliases);
}

static json_t *
ix_show(struct ch_registry *r, const struct ch_version_ref *ref,
    struct ch_err *e)
{
	json_t *idx = index_load(r, e), *m = NULL, *x;
	json_error_t je;
	unsigned char *buf;
	size_t len;
	char key[128];
	int rc;

	if (!idx)
		return NULL;
	snprintf(key, sizeof key, "models/%s/manifest.json", ref->version);
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
		m = json_deep_copy(index_version(idx, ref->version));
	}
	if ((x = index_version(idx, ref->version)))
		json_object_set(m, "registered", json_object_get(x, "registered"));
	json_object_set_new(m, "aliases", index_aliases_of(idx, ref->version));
	json_decref(idx);
	return m;
}

static json_t *
ix_history(struct ch_registry *r, const char *alias, struct ch_err *e)
{
	json_t *idx, *h, *x;
	size_t i;

	if (!(idx = index_load(r, e)))
		return NULL;
	h = json_array();
	json_array_foreach(json_object_get(idx, "history"), i, x)
		if (!alias || strcmp(ch_jstr(x, "alias", ""), alias) == 0)
			json_array_append(h, x);
	json_decref(idx);
	return json_pack("{s:o}", "history", h);
}

/* ---- aliases ---- */

static int
ix_alias_set(struct ch_registry *r, const char *alias, const char *name,
    struct ch_err *e)
{
	json_t *idx, *x;
	char v[64];

	if (!(idx = index_lock_load(r, e)))
		return -1;
	if (!(x = index_resolve(idx, name))) {
		index_unlock(r, idx, 0, NULL);
		return ch_reg_no_name(r, name, e);
	}
	snprintf(v, sizeof v, "%s", ch_jstr(x, "version", ""));
	alias_set_in(idx, alias, v);
	return index_unlock(r, idx, 1, e);
}

static int
ix_rollback(struct ch_registry *r, const char *alias,
    struct ch_version_ref *ref, struct ch_err *e)
{
	struct ch_reg_vstack s = {0};
	char cur[64], to[64];
	json_t *idx, *x;
	size_t i;
	int save = 0;

	if (!(idx = index_lock_load(r, e)))
		return -1;
	x = json_object_get(json_object_get(idx, "aliases"), alias);
	if (!json_is_string(x)) {
		ch_errf(e, "no alias '%s' in the registry (%s)", alias, r->dbwhere);
		goto done;
	}
	snprintf(cur, sizeof cur, "%s", json_string_value(x));
	json_array_foreach(json_object_get(idx, "history"), i, x)
		if (strcmp(ch_jstr(x, "alias", ""), alias) == 0)
			ch_reg_vs_event(&s, ch_jstr(x, "action", ""),
			    ch_jstr(x, "version", ""));
	if (ch_reg_vs_target(&s, alias, cur, to, e) < 0)
		goto done;
	if (!(x = index_version(idx, to))) {
		ch_errf(e, "registry %s: alias '%s' history names unknown version '%s'",
		    r->dbwhere, alias, to);
		goto done;
	}
	ref_of(ref, x);
	json_object_set_new(json_object_get(idx, "aliases"), alias, json_string(to));
	history_append(idx, alias, to, cur, "rollback");
	save = 1;
done:
	free(s.v);
	return index_unlock(r, idx, save, e) < 0 || !save ? -1 : 0;
}

/* ---- drift reports ---- */

static int
ix_record_drift(struct ch_registry *r, json_t *report, struct ch_err *e)
{
	json_t *all, *list;
	int rc;

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

static json_t *
ix_drift_reports(struct ch_registry *r, size_t limit, struct ch_err *e)
{
	json_t *all, *list, *out;
	size_t i, n;

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

/* ---- the rollout: "rollout" (current) and "rollouts" (events) ---- */

static void
rollout_of(struct ch_rollout *ro, json_t *x)
{
	int m = ch_rollout_mode_parse(ch_jstr(x, "mode", "off"));

	ro->id = json_integer_value(json_object_get(x, "id"));
	snprintf(ro->champion, sizeof ro->champion, "%s",
	    ch_jstr(x, "champion", "champion"));
	snprintf(ro->challenger, sizeof ro->challenger, "%s",
	    ch_jstr(x, "challenger", "challenger"));
	snprintf(ro->challenger_version, sizeof ro->challenger_version, "%s",
	    ch_jstr(x, "challenger_version", ""));
	ro->mode = m < 0 ? CH_ROLLOUT_OFF : (enum ch_rollout_mode)m;
	ro->share = json_number_value(json_object_get(x, "share"));
	snprintf(ro->time, sizeof ro->time, "%s", ch_jstr(x, "time", ""));
	snprintf(ro->actor, sizeof ro->actor, "%s", ch_jstr(x, "actor", ""));
	snprintf(ro->reason, sizeof ro->reason, "%s", ch_jstr(x, "reason", ""));
}

static int
ix_rollout_get(struct ch_registry *r, struct ch_rollout *ro, struct ch_err *e)
{
	json_t *idx = index_load(r, e), *x;

	if (!idx)
		return -1;
	if (json_is_object(x = json_object_get(idx, "rollout")))
		rollout_of(ro, x);
	json_decref(idx);
	return 0;
}

static int
ix_rollout_set(struct ch_registry *r, struct ch_rollout *ro, struct ch_err *e)
{
	struct ch_rollout cur = {0};
	json_t *idx = index_lock_load(r, e), *x, *events;

	if (!idx)
		return -1;
	if (json_is_object(x = json_object_get(idx, "rollout")))
		rollout_of(&cur, x);
	if (!json_is_array(events = json_object_get(idx, "rollouts"))) {
		events = json_array();
		json_object_set_new(idx, "rollouts", events);
	}
	/* ids are never reused: one past every id seen */
	ro->id = ch_reg_rollout_next(&cur, ro,
	    (long long)json_array_size(events) + 1 > cur.id + 1 ?
	    (long long)json_array_size(events) + 1 : cur.id + 1);
	json_object_set_new(idx, "rollout", ch_rollout_json(ro));
	json_array_append_new(events, ch_reg_rollout_event(ro));
	return index_unlock(r, idx, 1, e);
}

static json_t *
ix_rollouts(struct ch_registry *r, struct ch_err *e)
{
	json_t *idx = index_load(r, e), *a;

	if (!idx)
		return NULL;
	a = json_object_get(idx, "rollouts");
	a = json_is_array(a) ? json_incref(a) : json_array();
	json_decref(idx);
	return a;
}

const struct ch_registry_backend ch_registry_index_backend = {
	.open = ix_open, .close = ix_close, .database = ix_database,
	.claim = ix_claim, .publish = ix_publish, .commit = ix_commit,
	.abort = ix_abort, .gc = ix_gc,
	.resolve = ix_resolve, .list = ix_list, .show = ix_show,
	.history = ix_history, .alias_set = ix_alias_set,
	.rollback = ix_rollback, .record_drift = ix_record_drift,
	.drift_reports = ix_drift_reports,
	.rollout_get = ix_rollout_get, .rollout_set = ix_rollout_set,
	.rollouts = ix_rollouts,
};
