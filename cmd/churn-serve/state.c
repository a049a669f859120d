/* state.c - the model holder: a refcounted pointer swapped under a short
 * mutex, reload with full verification first, drift history */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"

#include "modelref.h"

/*
 * The holder owns one reference to the current model; each request takes
 * another for as long as it scores.  A reload builds and checks the new
 * model completely outside the lock, then swaps the pointer under it and
 * drops the holder's reference to the old one, which is freed by whoever
 * lets go of it last.  The lock only guards a pointer copy and an
 * increment, so scoring never waits for a reload.
 */
static struct {
	pthread_mutex_t mu;         /* guards cur */
	pthread_mutex_t reload_mu;  /* serialises reloads */
	struct loaded *cur;
	atomic_long reloads, failures;
	char last_reload[21];
	char *target;               /* what a reload without a name loads
	                               (NULL: cfg.model); guarded by mu */
	pthread_mutex_t hist_mu;
	struct loaded *chal;        /* the rollout's challenger, or NULL;
	                               guarded by mu */
	char chal_version[64];      /* the version it was loaded as */
	struct ch_rollout ro;       /* guarded by mu */
	pthread_mutex_t ro_mu;      /* serialises rollout changes */
} H = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.ro_mu = PTHREAD_MUTEX_INITIALIZER,
	.reload_mu = PTHREAD_MUTEX_INITIALIZER,
	.hist_mu = PTHREAD_MUTEX_INITIALIZER,
};

static void
loaded_free(struct loaded *l)
{
	int i;

	if (!l)
		return;
	if (l->refval)
		for (i = 0; i < l->m->schema->nfeat; i++)
			json_decref(l->refval[i]);
	free(l->refval);
	free(l->refcode);
	free(l->plkeys);
	free(l->schema_json);
	free(l->describe_json);
	free(l->path);
	free(l->source);
	ch_model_free(l->m);
	free(l);
}

struct loaded *
model_acquire(void)
{
	struct loaded *l;

	pthread_mutex_lock(&H.mu);
	if ((l = H.cur))
		atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&H.mu);
	return l;
}

void
model_release(struct loaded *l)
{
	if (l && atomic_fetch_sub_explicit(&l->refs, 1,
	    memory_order_acq_rel) == 1)
		loaded_free(l);
}

/* Precomputes what requests need: the schema and describe answers, and
 * each feature's reference value and code (for explanations). */
static int
prepare(struct loaded *l, struct ch_err *e)
{
	const struct ch_schema *s = l->m->schema;
	json_t *in, *feats, *d;
	int i;

	if (!(in = ch_model_schema_json(l->m)))
		return ch_errf(e, "%s: cannot describe the input schema",
		    l->source);
	l->schema_json = json_dumps(in, JSON_COMPACT | JSON_PRESERVE_ORDER);
	l->schema_len = l->schema_json ? strlen(l->schema_json) : 0;
	feats = json_object_get(in, "features");
	l->refcode = ch_calloc((size_t)s->nfeat, 1);
	l->refval = ch_calloc((size_t)s->nfeat, sizeof *l->refval);
	for (i = 0; i < s->nfeat; i++) {
		const struct ch_feature *f = &s->f[i];
		json_t *fj = json_array_get(feats, (size_t)i), *v;

		l->refcode[i] = CH_MISSING;
		if (f->type == CH_NUMERIC) {
			v = json_object_get(fj, "median");
			if (json_is_number(v))
				l->refcode[i] = ch_bin_numeric(f,
				    json_number_value(v));
		} else {
			v = json_object_get(fj, "mode");
			if (json_is_string(v))
				ch_encode_cell(f, json_string_value(v),
				    json_string_length(v), &l->refcode[i]);
		}
		l->refval[i] = v ? json_incref(v) : json_null();
	}
	json_decref(in);
	l->plkeys = predlog_keys(l->m);
	if (!(d = ch_model_describe(l->m)))
		return ch_errf(e, "%s: cannot describe the model", l->source);
	l->describe_json = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
	l->describe_len = l->describe_json ? strlen(l->describe_json) : 0;
	json_decref(d);
	if (!l->schema_json || !l->describe_json)
		return ch_errf(e, "%s: cannot encode the model's JSON", l->source);
	return 0;
}

/* Resolves name to a model file and loads it: a path as is; otherwise an
 * alias or version in the registry. */
static struct loaded *
load(const char *name, struct ch_err *e)
{
	struct loaded *l;
	char path[4096], *pulled = NULL;

	/* a file, or a name in the registry (the default store when none
	 * is configured), as every program's -m */
	if (name && ch_modelref_is_file(name)) {
		if (!realpath(name, path))
			snprintf(path, sizeof path, "%s", name);
	} else {
		if (reg_pull(name, &pulled, e) != 0) {
			if (name) {
				char why[sizeof e->msg];

				snprintf(why, sizeof why, "%s", e->msg);
				ch_errf(e, "open %s: %s, and %s", name,
				    strerror(ENOENT), why);
			}
			return NULL;
		}
		snprintf(path, sizeof path, "%s", pulled);
		free(pulled);
	}
	l = ch_calloc(1, sizeof *l);
	l->source = ch_strdup(name ? name : "(newest in the registry)");
	l->path = ch_strdup(path);
	if (ch_model_load(path, &l->m, e) != 0) {
		l->m = NULL;
		free(l->source), free(l->path), free(l);
		return NULL;
	}
	if (prepare(l, e) != 0) {
		loaded_free(l);
		return NULL;
	}
	atomic_init(&l->refs, 1);
	return l;
}

/* The reload target as a malloc'd copy, or NULL: cfg.model, or the
 * newest version in the registry.  Copied under the pointer lock, so a
 * reload that replaces it never frees what a reader holds. */
char *
model_target(void)
{
	char *t;

	pthread_mutex_lock(&H.mu);
	t = H.target ? ch_strdup(H.target) : cfg.model ? ch_strdup(cfg.model) :
	    NULL;
	pthread_mutex_unlock(&H.mu);
	return t;
}

int
model_reload(const char *name, char version[17], struct ch_err *e)
{
	struct loaded *l, *old;
	char ts[21], *target = NULL, *prev_target = NULL;

	pthread_mutex_lock(&H.reload_mu);
	if (!name)
		name = target = model_target();
	if (!name && !reg_enabled()) {
		atomic_fetch_add(&H.failures, 1);
		pthread_mutex_unlock(&H.reload_mu);
		return ch_errf(e, "no model configured (--model)");
	}
	if (!(l = load(name, e))) {
		atomic_fetch_add(&H.failures, 1);
		pthread_mutex_unlock(&H.reload_mu);
		free(target);
		return -1;
	}
	ch_iso8601(time(NULL), ts);
	memcpy(l->loaded_at, ts, sizeof ts);
	pthread_mutex_lock(&H.mu);
	old = H.cur;
	H.cur = l;
	memcpy(H.last_reload, ts, sizeof ts);
	/* a reload by name makes that name the one SIGHUP reloads */
	if (name && !target) {
		prev_target = H.target;
		H.target = ch_strdup(name);
	}
	pthread_mutex_unlock(&H.mu);
	atomic_fetch_add(&H.reloads, 1);
	if (version)
		memcpy(version, l->m->version, 17);
	pthread_mutex_unlock(&H.reload_mu);
	free(prev_target);
	free(target);
	model_release(old);
	/* a reload also follows the registry's rollout */
	if (reg_enabled()) {
		struct ch_err re = {{0}};

		if (rollout_refresh(&re) != 0)
			slog("warn", "rollout not refreshed", json_pack("{s:o}",
			    "error", jtext(re.msg)));
	}
	/* the registry view shows what this reload followed (an alias that
	 * moved) in the next answer */
	if (reg_enabled())
		refresher_sync(cfg.registry_timeout);
	return 0;
}

struct loaded *
rollout_acquire(struct ch_rollout *ro)
{
	struct loaded *l;

	pthread_mutex_lock(&H.mu);
	*ro = H.ro;
	if ((l = H.chal))
		atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&H.mu);
	return l;
}

int
rollout_refresh(struct ch_err *e)
{
	struct ch_rollout ro, was;
	struct loaded *l = NULL, *old = NULL;
	int same, held;
	char ts[21];

	if (!reg_enabled())
		return 0;
	if (reg_rollout(&ro, e) != 0)
		return -1;
	pthread_mutex_lock(&H.ro_mu);
	pthread_mutex_lock(&H.mu);
	was = H.ro;
	held = H.chal && strcmp(H.chal_version, ro.challenger_version) == 0;
	same = was.id == ro.id && was.mode == ro.mode &&
	    was.share == ro.share && (ro.mode == CH_ROLLOUT_OFF || held);
	pthread_mutex_unlock(&H.mu);
	if (same) {
		pthread_mutex_unlock(&H.ro_mu);
		return 0;
	}
	if (ro.mode != CH_ROLLOUT_OFF && !held) {
		if (!(l = load(ro.challenger_version, e))) {
			pthread_mutex_unlock(&H.ro_mu);
			return -1;
		}
		ch_iso8601(time(NULL), ts);
		memcpy(l->loaded_at, ts, sizeof ts);
	}
	pthread_mutex_lock(&H.mu);
	if (ro.mode == CH_ROLLOUT_OFF || l) {
		old = H.chal;
		H.chal = l;
		snprintf(H.chal_version, sizeof H.chal_version, "%s",
		    l ? ro.challenger_version : "");
	}
	H.ro = ro;
	pthread_mutex_unlock(&H.mu);
	pthread_mutex_unlock(&H.ro_mu);
	model_release(old);
	rollout_reset();
	slog("info", "rollout", json_pack("{s:I,s:s,s:f,s:s,s:s}", "rollout",
	    (json_int_t)ro.id, "mode", ch_rollout_mode_name(ro.mode), "share",
	    ro.share, "challenger", ro.challenger, "challenger_version",
	    ro.challenger_version));
	return 0;
}

void
model_shutdown(void)
{
	struct loaded *old, *chal;

	pthread_mutex_lock(&H.mu);
	old = H.cur;
	H.cur = NULL;
	chal = H.chal;
	H.chal = NULL;
	free(H.target);
	H.target = NULL;
	pthread_mutex_unlock(&H.mu);
	model_release(old);
	model_release(chal);
}

long
model_reload_count(void)
{
	return atomic_load(&H.reloads);
}

long
model_reload_failures(void)
{
	return atomic_load(&H.failures);
}

void
model_last_reload(char out[21])
{
	pthread_mutex_lock(&H.mu);
	memcpy(out, H.last_reload, 21);
	pthread_mutex_unlock(&H.mu);
}

/* Without a registry the list holds the loaded model only. */
json_t *
models_list(int *retry, struct ch_err *e)
{
	struct loaded *l;
	json_t *versions, *out;

	*retry = 0;
	if (reg_enabled())
		return refresher_view(V_MODELS, NULL, retry, e);
	l = model_acquire();
	versions = json_array();
	if (l) {
		json_t *meta = l->m->meta;
		char created[21];

		ch_iso8601(l->m->created, created);
		json_array_append_new(versions, json_pack("{s:s,s:s,s:I,s:s,s:O?,s:O?,s:[]}",
		    "version", l->m->version, "sha256", l->m->sha256,
		    "size", (json_int_t)l->m->file_size, "created", created,
		    "metrics", json_object_get(meta, "metrics"),
		    "params", json_object_get(meta, "params"), "aliases"));
		model_release(l);
	}
	out = json_pack("{s:o,s:{},s:[]}", "versions", versions, "aliases",
	    "history");
	return out;
}

/* Drift history without a registry: DIR/drift-reports.jsonl, one report
 * a line, newest last. */
int
drift_record(json_t *report, struct ch_err *e)
{
	char path[4096], *line;
	FILE *fp;
	int rc = 0;

	if (reg_enabled()) {
		/* on the admin channel: no lock that scoring takes */
		if (reg_record_drift(report, e) != 0)
			return -1;
		refresher_sync(cfg.registry_timeout);
		return 0;
	}
	snprintf(path, sizeof path, "%s/drift-reports.jsonl", cfg.state_dir);
	if (!(line = json_dumps(report, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		return ch_errf(e, "cannot encode the drift report");
	pthread_mutex_lock(&H.hist_mu);
	if (!(fp = fopen(path, "ae")))
		rc = ch_errf(e, "%s: %s", path, strerror(errno));
	else {
		fprintf(fp, "%s\n", line);
		if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
			rc = ch_errf(e, "%s: %s", path, strerror(errno));
		if (fclose(fp) != 0 && rc == 0)
			rc = ch_errf(e, "%s: %s", path, strerror(errno));
	}
	pthread_mutex_unlock(&H.hist_mu);
	free(line);
	return rc;
}

/* The newest limit of view's reports, as a new object sharing them. */
static json_t *
newest(json_t *view, int limit)
{
	json_t *all = json_object_get(view, "reports"), *some = json_array();
	size_t n = json_array_size(all), i;

	for (i = limit > 0 && n > (size_t)limit ? n - (size_t)limit : 0; i < n;
	    i++)
		json_array_append(some, json_array_get(all, i));
	return json_pack("{s:o}", "reports", some);
}

json_t *
drift_reports(int limit, int *retry, struct ch_err *e)
{
	char path[4096], *buf, *p, *nl;
	size_t len;
	json_t *all, *out;

	*retry = 0;
	if (reg_enabled()) {
		if (!(all = refresher_view(V_REPORTS, NULL, retry, e)))
			return NULL;
		out = newest(all, limit);
		json_decref(all);
		if (!out)
			ch_errf(e, "out of memory");
		return out;
	}
	all = json_array();
	snprintf(path, sizeof path, "%s/drift-reports.jsonl", cfg.state_dir);
	pthread_mutex_lock(&H.hist_mu);
	buf = ch_read_file(path, &len, e);
	pthread_mutex_unlock(&H.hist_mu);
	if (!buf) {
		if (access(path, F_OK) != 0)
			return json_pack("{s:o}", "reports", all);
		json_decref(all);
		return NULL;
	}
	for (p = buf; *p; p = nl + 1) {
		json_t *r;

		if (!(nl = strchr(p, '\n')))
			nl = p + strlen(p) - 1;
		if ((r = json_loadb(p, (size_t)(nl - p + 1), 0, NULL)))
			json_array_append_new(all, r);
		if (!nl[1])
			break;
	}
	free(buf);
	while (limit > 0 && json_array_size(all) > (size_t)limit)
		json_array_remove(all, 0);
	out = json_pack("{s:o}", "reports", all);
	return out;
}
