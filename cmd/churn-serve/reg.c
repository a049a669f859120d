/* reg.c - churn-serve's use of the model registry (registry.h): resolve
 * and pull models, list versions and history, keep drift reports */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve.h"

#include "outcomes.h"
#include "perf.h"
#include "predlog.h"
#include "registry.h"

/*
 * One registry handle per use, each opened on first use and kept under its
 * own mutex (a handle is not safe for concurrent use), so that a slow call
 * of one use never waits behind another: admin work (reloads, drift
 * reports), the refresher's listings, the live-traffic window.  Every call
 * is bounded by cfg.registry_timeout (S3 per attempt, connecting to and
 * each statement of the database).  After a failure the handle is closed
 * so that the next call reconnects.
 */
enum reg_use { REG_ADMIN, REG_REFRESH, REG_WINDOW, REG_PREDLOG, REG_PERF,
	REG_NUSES };

static struct {
	pthread_mutex_t mu;
	struct ch_registry *r;
	int retries;                /* S3: extra attempts (-1: none) */
} chan[REG_NUSES] = {
	[REG_ADMIN] = { PTHREAD_MUTEX_INITIALIZER, NULL, 1 },
	/* the refresher tries again at its next tick */
	[REG_REFRESH] = { PTHREAD_MUTEX_INITIALIZER, NULL, -1 },
	[REG_WINDOW] = { PTHREAD_MUTEX_INITIALIZER, NULL, 1 },
	/* the prediction log's writer keeps its rows and tries again */
	[REG_PREDLOG] = { PTHREAD_MUTEX_INITIALIZER, NULL, -1 },
	[REG_PERF] = { PTHREAD_MUTEX_INITIALIZER, NULL, 1 },
};

/* With chan[u].mu held. */
static struct ch_registry *
reg_get(enum reg_use u, struct ch_err *e)
{
	struct ch_registry_opts o = { 0 };

	if (chan[u].r)
		return chan[u].r;
	o.store_url = cfg.store;
	o.database_url = cfg.database_url;
	o.s3.timeout_s = (long)cfg.registry_timeout;
	o.s3.retries = chan[u].retries;
	o.db_timeout_s = (long)cfg.registry_timeout;
	ch_registry_opts_fill(&o, getenv);
	if (ch_registry_open(&o, &chan[u].r, e) != 0)
		chan[u].r = NULL;
	return chan[u].r;
}

/* With chan[u].mu held. */
static void
reg_failed(enum reg_use u)
{
	if (chan[u].r)
		ch_registry_close(chan[u].r);
	chan[u].r = NULL;
}

int
reg_enabled(void)
{
	return cfg.store != NULL;
}

/* A store to keep the prediction log and outcomes in: CHURN_STORE, a
 * database, or the default store (CH_STORE_DEFAULT, which resolves
 * --model names without CHURN_STORE) when it exists. */
int
reg_available(void)
{
	struct stat st;

	return cfg.store || cfg.database_url || (stat(CH_STORE_DEFAULT, &st) ==
	    0 && S_ISDIR(st.st_mode));
}

/* Resolves name (NULL: the newest version), pulls the verified artifact
 * and keeps it as STATE/models/<version>.churn, the file churn-drift
 * reads.  *path is malloc'd. */
int
reg_pull(const char *name, char **path, struct ch_err *e)
{
	struct ch_version_ref ref;
	struct ch_registry *r;
	unsigned char *buf = NULL;
	size_t len = 0, n;
	char newest[64] = "", dir[4096];
	int rc = -1;

	pthread_mutex_lock(&chan[REG_ADMIN].mu);
	if (!(r = reg_get(REG_ADMIN, e)))
		goto out;
	if (!name) {
		json_t *l = ch_registry_list(r, e), *vs;

		if (!l) {
			reg_failed(REG_ADMIN);
			goto out;
		}
		vs = json_object_get(l, "versions");
		if (json_array_size(vs) == 0) {
			json_decref(l);
			ch_errf(e, "registry %s: no model versions",
			    ch_registry_store_where(r));
			goto out;
		}
		snprintf(newest, sizeof newest, "%s", json_string_value(
		    json_object_get(json_array_get(vs, json_array_size(vs) - 1),
		    "version")));
		json_decref(l);
		name = newest;
	}
	if (ch_registry_pull(r, name, &buf, &len, &ref, e) != 0)
		goto out;
	snprintf(dir, sizeof dir, "%s/models", cfg.state_dir);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		ch_errf(e, "%s: %s", dir, strerror(errno));
		goto out;
	}
	n = strlen(dir) + strlen(ref.version) + 16;
	*path = ch_malloc(n);
	snprintf(*path, n, "%s/%s.churn", dir, ref.version);
	if (ch_write_atomic(*path, buf, len, e) != 0) {
		free(*path);
		*path = NULL;
		goto out;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&chan[REG_ADMIN].mu);
	free(buf);
	return rc;
}

json_t *
reg_models(struct ch_err *e)
{
	struct ch_registry *r;
	json_t *l = NULL, *h;

	pthread_mutex_lock(&chan[REG_REFRESH].mu);
	if ((r = reg_get(REG_REFRESH, e))) {
		if (!(l = ch_registry_list(r, e)) ||
		    !(h = ch_registry_history(r, NULL, e))) {
			json_decref(l);
			l = NULL;
			reg_failed(REG_REFRESH);
		} else {
			json_object_set(l, "history",
			    json_object_get(h, "history"));
			json_decref(h);
		}
	}
	pthread_mutex_unlock(&chan[REG_REFRESH].mu);
	return l;
}

int
reg_record_drift(json_t *report, struct ch_err *e)
{
	struct ch_registry *r;
	int rc = -1;

	pthread_mutex_lock(&chan[REG_ADMIN].mu);
	if ((r = reg_get(REG_ADMIN, e)) && (rc = ch_registry_record_drift(r,
	    report, e)) != 0)
		reg_failed(REG_ADMIN);
	pthread_mutex_unlock(&chan[REG_ADMIN].mu);
	return rc;
}

json_t *
reg_drift_reports(int limit, struct ch_err *e)
{
	struct ch_registry *r;
	json_t *j = NULL;

	pthread_mutex_lock(&chan[REG_REFRESH].mu);
	if ((r = reg_get(REG_REFRESH, e)) && !(j = ch_registry_drift_reports(r,
	    (size_t)limit, e)))
		reg_failed(REG_REFRESH);
	pthread_mutex_unlock(&chan[REG_REFRESH].mu);
	return j;
}

int
reg_window_append(const char *lines, size_t len, long keep, long *refused,
    struct ch_err *e)
{
	struct ch_registry *r;
	int rc = -1;

	pthread_mutex_lock(&chan[REG_WINDOW].mu);
	if ((r = reg_get(REG_WINDOW, e)) && (rc = ch_registry_window_append(r,
	    lines, len, keep, refused, e)) != 0)
		reg_failed(REG_WINDOW);
	pthread_mutex_unlock(&chan[REG_WINDOW].mu);
	return rc;
}

char *
reg_window_page(long keep, long after, long max, long *last, size_t *len,
    long *rows, struct ch_err *e)
{
	struct ch_registry *r;
	char *buf = NULL;

	*len = 0;
	pthread_mutex_lock(&chan[REG_WINDOW].mu);
	if ((r = reg_get(REG_WINDOW, e)) && !(buf = ch_registry_window_page(r,
	    keep, after, max, last, len, rows, e)))
		reg_failed(REG_WINDOW);
	pthread_mutex_unlock(&chan[REG_WINDOW].mu);
	return buf;
}

/* The current rollout (registry.h), on the refresher's handle. */
int
reg_rollout(struct ch_rollout *ro, struct ch_err *e)
{
	struct ch_registry *r;
	int rc = -1;

	pthread_mutex_lock(&chan[REG_REFRESH].mu);
	if ((r = reg_get(REG_REFRESH, e)) &&
	    (rc = ch_registry_rollout(r, ro, e)) != 0)
		reg_failed(REG_REFRESH);
	pthread_mutex_unlock(&chan[REG_REFRESH].mu);
	return rc;
}

int
reg_predlog_append_jsonl(const char *lines, size_t len, time_t day,
    struct ch_err *e)
{
	struct ch_registry *r;
	int rc = -1;

	pthread_mutex_lock(&chan[REG_PREDLOG].mu);
	if ((r = reg_get(REG_PREDLOG, e)) &&
	    (rc = ch_predlog_append_jsonl(r, lines, len, day, e)) != 0)
		reg_failed(REG_PREDLOG);
	pthread_mutex_unlock(&chan[REG_PREDLOG].mu);
	return rc;
}

int
reg_predlog_prune(long days, size_t *removed, struct ch_err *e)
{
	struct ch_registry *r;
	int rc = -1;

	pthread_mutex_lock(&chan[REG_PREDLOG].mu);
	if ((r = reg_get(REG_PREDLOG, e)) && (rc = ch_predlog_prune(r, days,
	    time(NULL), removed, e)) != 0)
		reg_failed(REG_PREDLOG);
	pthread_mutex_unlock(&chan[REG_PREDLOG].mu);
	return rc;
}

int
reg_outcomes_record(const struct ch_outcome *rows, size_t n,
    struct ch_outcomes_stats *st, struct ch_err *e)
{
	struct ch_registry *r;
	int rc = -1;

	pthread_mutex_lock(&chan[REG_ADMIN].mu);
	if ((r = reg_get(REG_ADMIN, e)) &&
	    (rc = ch_outcomes_record(r, rows, n, st, e)) != 0)
		reg_failed(REG_ADMIN);
	pthread_mutex_unlock(&chan[REG_ADMIN].mu);
	return rc;
}

json_t *
reg_perf(const struct ch_perf_opts *o, struct ch_err *e)
{
	struct ch_registry *r;
	json_t *j = NULL;

	pthread_mutex_lock(&chan[REG_PERF].mu);
	if ((r = reg_get(REG_PERF, e)) && !(j = ch_perf_registry(r, o, e)))
		reg_failed(REG_PERF);
	pthread_mutex_unlock(&chan[REG_PERF].mu);
	return j;
}

void
reg_close(void)
{
	int u;

	for (u = 0; u < REG_NUSES; u++) {
		pthread_mutex_lock(&chan[u].mu);
		reg_failed((enum reg_use)u);
		pthread_mutex_unlock(&chan[u].mu);
	}
}
