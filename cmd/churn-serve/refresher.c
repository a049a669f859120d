/* refresher.c - the registry view kept fresh by one background thread, so
 * that no request thread waits on S3 or PostgreSQL */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "serve.h"

#include "fleet.h"

/*
 * One thread runs the steps below each --refresh-interval seconds, or at
 * once when refresher_wake asks, and publishes what they fetch as JSON
 * objects that are never changed once published (jansson's reference
 * counts are atomic, and encoding reads only, so request threads share
 * them).  A request takes a new reference under R.mu, which is only ever
 * held for pointer copies, and answers from it.  The registry calls
 * themselves are bounded by --registry-timeout (reg.c).
 */
#define REPORTS_KEPT 1000       /* drift reports in the view */

static struct {
	pthread_mutex_t mu;         /* guards everything below */
	pthread_cond_t wake_cv;     /* the thread waits for work */
	pthread_cond_t done_cv;     /* refresher_sync waits for a refresh */
	pthread_t th;
	int running, stop;
	unsigned wake;              /* REFRESH_* bits asked for */
	long started, finished;     /* refreshes begun and ended */
	json_t *view[V_NVIEWS];     /* the last successful fetch */
	double ok_at;               /* ch_seconds() of that fetch, 0: none */
	int failing;                /* the last refresh failed */
	char err[512];              /* and why */
} R = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
};

/* --- the steps: each runs when one of its bits was asked for --------- */

/* SIGHUP: reload the target (model_target) */
static int
step_reload(struct ch_err *e)
{
	char v[17], *target;

	if (model_reload(NULL, v, e) != 0) {
		slog("error", "reload failed", json_pack("{s:o,s:s}", "error",
		    jtext(e->msg), "by", "SIGHUP"));
		return 0;       /* logged: not a registry failure */
	}
	target = model_target();
	slog("info", "reloaded", json_pack("{s:s,s:o,s:s}", "model_version", v,
	    "source", jtext(target ? target : "newest in the registry"), "by",
	    "SIGHUP"));
	free(target);
	return 0;
}

/* the registry's versions, aliases, history and drift reports */
static int
step_registry(struct ch_err *e)
{
	json_t *models, *reports, *old[V_NVIEWS];
	int i;

	if (!reg_enabled())
		return 0;
	if (!(models = reg_models(e)))
		return -1;
	if (!(reports = reg_drift_reports(REPORTS_KEPT, e))) {
		json_decref(models);
		return -1;
	}
	pthread_mutex_lock(&R.mu);
	old[V_MODELS] = R.view[V_MODELS];
	old[V_REPORTS] = R.view[V_REPORTS];
	R.view[V_MODELS] = models;
	R.view[V_REPORTS] = reports;
	R.ok_at = ch_seconds();
	pthread_mutex_unlock(&R.mu);
	for (i = 0; i < V_NVIEWS; i++)
		json_decref(old[i]);
	return 0;
}

/* The version the reload target names in the view just fetched: an alias,
 * a version, or (no target) the newest; "" when it names none yet, NULL
 * when the target is a file (nothing to follow). */
static const char *
target_version(json_t *models, const char *target)
{
	json_t *vs = json_object_get(models, "versions"), *x;
	const char *v;
	struct stat st;
	size_t i;

	if (!target)
		return (v = json_string_value(json_object_get(json_array_get(vs,
		    json_array_size(vs) - 1), "version"))) ? v : "";
	if (stat(target, &st) == 0 && S_ISREG(st.st_mode))
		return NULL;
	if ((v = json_string_value(json_object_get(json_object_get(models,
	    "aliases"), target))))
		return v;
	json_array_foreach(vs, i, x)
		if ((v = json_string_value(json_object_get(x, "version"))) &&
		    !strcmp(v, target))
			return v;
	return "";
}

/* The reload target followed: when the alias it names moved or appeared,
 * or the version it names appeared, reload.  Without a target, the newest
 * version is loaded when none is (an empty registry at start), never
 * swapped for a newer one: a push is not a deployment.  A failed reload is
 * logged once per version and tried again each round. */
static int
step_follow(struct ch_err *e)
{
	static char failed[64];     /* the version whose reload failed last */
	char v[17], want[64], *target;
	struct loaded *l;
	const char *w;
	json_t *models;
	int same;

	if (!reg_enabled())
		return 0;
	pthread_mutex_lock(&R.mu);
	models = json_incref(R.view[V_MODELS]);
	pthread_mutex_unlock(&R.mu);
	target = model_target();
	w = target_version(models, target);
	snprintf(want, sizeof want, "%s", w ? w : "");
	json_decref(models);
	l = model_acquire();
	same = l && (!target || !strcmp(l->m->version, want));
	model_release(l);
	if (!w || !*want || same) {
		free(target);
		return 0;
	}
	if (model_reload(NULL, v, e) != 0) {
		if (strcmp(failed, want) != 0)
			slog("error", "reload failed", json_pack("{s:o,s:s,s:o}",
			    "error", jtext(e->msg), "by", "refresher", "source",
			    jtext(target ? target : "newest in the registry")));
		snprintf(failed, sizeof failed, "%s", want);
		free(target);
		return 0;       /* logged: not a registry failure */
	}
	failed[0] = '\0';
	slog("info", "reloaded", json_pack("{s:s,s:o,s:s}", "model_version", v,
	    "source", jtext(target ? target : "newest in the registry"), "by",
	    "refresher"));
	free(target);
	return 0;
}

/* the registry's rollout: the challenger loaded or dropped when it changed */
static int
step_rollout(struct ch_err *e)
{
	return rollout_refresh(e);
}

/* In order; a failed step ends the round (the next tick tries again). */
static const struct step {
	unsigned when;              /* REFRESH_* bits */
	const char *name;
	int (*run)(struct ch_err *e);
} steps[] = {
	{ REFRESH_RELOAD, "reload", step_reload },
	{ REFRESH_REGISTRY, "registry", step_registry },
	{ REFRESH_REGISTRY, "follow", step_follow },
	{ REFRESH_REGISTRY, "rollout", step_rollout },
	{ REFRESH_REGISTRY, "predlog-prune", predlog_prune },
};

/* --- the thread ------------------------------------------------------ */

static void
round_run(unsigned what)
{
	struct ch_err e;
	const struct step *s;
	int rc = 0, was;

	e.msg[0] = '\0';
	for (s = steps; s < steps + sizeof steps / sizeof *steps; s++)
		if ((what & s->when) && (rc = s->run(&e)) != 0)
			break;
	pthread_mutex_lock(&R.mu);
	was = R.failing;
	if (rc != 0)
		snprintf(R.err, sizeof R.err, "%s", e.msg);
	R.failing = rc != 0;
	pthread_mutex_unlock(&R.mu);
	/* once a change, and not under R.mu (stderr may block) */
	if (rc != 0 && !was)
		slog("warn", "registry view not refreshed",
		    json_pack("{s:s,s:o}", "step", s->name, "error", jtext(e.msg)));
	else if (rc == 0 && was)
		slog("info", "registry view refreshed again", NULL);
}

static void *
loop(void *arg)
{
	struct timespec due;
	unsigned what;

	(void)arg;
	pthread_mutex_lock(&R.mu);
	ch_deadline(&due, 0);
	for (;;) {
		while (!R.stop && !R.wake)
			if (pthread_cond_timedwait(&R.wake_cv, &R.mu, &due) ==
			    ETIMEDOUT)
				R.wake |= REFRESH_REGISTRY;
		if (R.stop)
			break;
		what = R.wake;
		R.wake = 0;
		R.started++;
		pthread_mutex_unlock(&R.mu);
		round_run(what);
		pthread_mutex_lock(&R.mu);
		R.finished = R.started;
		pthread_cond_broadcast(&R.done_cv);
		ch_deadline(&due, cfg.refresh_interval);
	}
	pthread_mutex_unlock(&R.mu);
	return NULL;
}

/* --- the listener: a NOTIFY on churn_registry wakes a round at once --- */

/*
 * With a database, one more thread holds a connection of its own that
 * LISTENs on churn_registry (fleet.h): registry_pg.c announces alias
 * moves, rollbacks, new versions and rollout changes in the transaction of
 * the change, so every
 * replica runs a round (and step_follow reloads) as soon as it commits.
 * A lost connection (a database restart) is made again every half
 * second, and each new one wakes a round, so that a change made while
 * nobody listened is not missed.
 */
static struct {
	pthread_t th;
	int running;
	atomic_int stop;
} L;

static void *
listener(void *arg)
{
	struct ch_fleetdb *d = NULL;
	struct ch_err e;
	char payload[256];
	double last = 0;
	int down = 0, n;

	(void)arg;
	while (!atomic_load(&L.stop)) {
		if (!d) {
			if (ch_fleetdb_open(cfg.database_url,
			    (long)cfg.registry_timeout, &d, &e) != 0 ||
			    ch_fleetdb_listen(d, &e) != 0) {
				ch_fleetdb_close(d);
				d = NULL;
				if (!down)
					slog("warn", "registry change notices "
					    "lost: connecting again", json_pack(
					    "{s:o}", "error", jtext(e.msg)));
				down = 1;
				nanosleep(&(struct timespec){ 0, 500000000L },
				    NULL);
				continue;
			}
			slog("info", down ? "listening for registry changes "
			    "again" : "listening for registry changes",
			    json_pack("{s:s}", "channel", CH_FLEET_CHANNEL));
			/* what changed while nobody listened */
			if (down)
				refresher_wake(REFRESH_REGISTRY);
			down = 0;
			last = ch_seconds();
		}
		*payload = '\0';
		n = ch_fleetdb_wait(d, 0.25, payload, sizeof payload, &e);
		/* a connection that only listens never sees a dead server */
		if (n == 0 && ch_seconds() - last > 10)
			n = ch_fleetdb_ping(d, &e);
		if (n < 0) {
			slog("warn", "registry change notices lost: connecting "
			    "again", json_pack("{s:o}", "error", jtext(e.msg)));
			ch_fleetdb_close(d);
			d = NULL;
			down = 1;
			continue;
		}
		last = ch_seconds();
		if (n > 0) {
			slog("info", "registry changed", json_pack("{s:o}",
			    "notice", jtext(payload)));
			refresher_wake(REFRESH_REGISTRY);
		}
	}
	ch_fleetdb_close(d);
	return NULL;
}

int
refresher_start(struct ch_err *e)
{
	pthread_condattr_t ca;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&R.wake_cv, &ca);
	pthread_cond_init(&R.done_cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = pthread_create(&R.th, NULL, loop, NULL)) != 0)
		return ch_errf(e, "cannot start the registry refresher: %s",
		    strerror(rc));
	pthread_mutex_lock(&R.mu);
	R.running = 1;
	pthread_mutex_unlock(&R.mu);
	if (reg_enabled() && cfg.database_url) {
		if ((rc = pthread_create(&L.th, NULL, listener, NULL)) != 0)
			return ch_errf(e, "cannot start the registry listener: "
			    "%s", strerror(rc));
		L.running = 1;
	}
	return 0;
}

void
refresher_stop(void)
{
	int i;

	if (L.running) {
		atomic_store(&L.stop, 1);
		pthread_join(L.th, NULL);
		L.running = 0;
	}
	pthread_mutex_lock(&R.mu);
	if (!R.running) {
		pthread_mutex_unlock(&R.mu);
		return;
	}
	R.stop = 1;
	pthread_cond_broadcast(&R.wake_cv);
	pthread_cond_broadcast(&R.done_cv);
	pthread_mutex_unlock(&R.mu);
	pthread_join(R.th, NULL);
	pthread_mutex_lock(&R.mu);
	R.running = 0;
	for (i = 0; i < V_NVIEWS; i++) {
		json_decref(R.view[i]);
		R.view[i] = NULL;
	}
	pthread_mutex_unlock(&R.mu);
	pthread_cond_destroy(&R.wake_cv);
	pthread_cond_destroy(&R.done_cv);
}

void
refresher_wake(unsigned what)
{
	pthread_mutex_lock(&R.mu);
	R.wake |= what;
	pthread_cond_signal(&R.wake_cv);
	pthread_mutex_unlock(&R.mu);
}

void
refresher_sync(double timeout)
{
	struct timespec until;
	long want;

	pthread_mutex_lock(&R.mu);
	if (!R.running || R.stop || pthread_equal(pthread_self(), R.th)) {
		pthread_mutex_unlock(&R.mu);
		return;
	}
	/* a round that starts after this call: the one in progress may
	 * have read the registry before the change the caller made */
	want = R.started + 1;
	R.wake |= REFRESH_REGISTRY;
	pthread_cond_signal(&R.wake_cv);
	ch_deadline(&until, timeout);
	while (R.finished < want && !R.stop)
		if (pthread_cond_timedwait(&R.done_cv, &R.mu, &until) ==
		    ETIMEDOUT)
			break;
	pthread_mutex_unlock(&R.mu);
}

/* Retry-After: the next round, in whole seconds */
static int
retry_seconds(void)
{
	return (int)ceil(cfg.refresh_interval) > 0 ?
	    (int)ceil(cfg.refresh_interval) : 1;
}

json_t *
refresher_view(enum view v, double *age, int *retry, struct ch_err *e)
{
	json_t *j = NULL;
	double a = 0;

	/* the staleness bound: a view older than this is not served */
	double bound = 3 * cfg.refresh_interval + cfg.registry_timeout;

	*retry = 0;
	pthread_mutex_lock(&R.mu);
	if (R.ok_at > 0)
		a = ch_seconds() - R.ok_at;
	if (R.ok_at <= 0) {
		*retry = retry_seconds();
		ch_errf(e, "the registry has not been read yet%s%s",
		    R.failing ? ": " : " (it is being read)",
		    R.failing ? R.err : "");
	} else if (a > bound) {
		*retry = retry_seconds();
		ch_errf(e, "the registry view is %.0f s old, older than the "
		    "%.0f s bound: %s", a, bound, R.failing ? R.err :
		    "the refresher is late");
	} else
		j = json_incref(R.view[v]);
	pthread_mutex_unlock(&R.mu);
	if (age)
		*age = a;
	return j;
}
