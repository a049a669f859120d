/* hooks.c - what the GitHub webhook needs besides HTTP: the deliveries
 * already seen (so that a replay starts nothing) and the one pipeline run
 * at a time (pushes during a run coalesce into one more run) */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

#include "serve.h"

#include "fleet.h"

/* --- the ledger of deliveries: one file in the state directory -------- */

/*
 * STATE/hook-deliveries holds one "EPOCH KEY" line a delivery accepted in
 * the last HOOK_KEEP seconds (at most HOOK_MAX lines, the oldest go
 * first); it is read once, then kept in memory and rewritten whole
 * (atomically) at each new delivery, so that a restart does not forget.
 */
#define HOOK_MAX 10000

struct file_ledger {
	struct hook_ledger base;
	char *path;
	int loaded;
	size_t n, cap;
	struct seen { time_t t; char *key; } *e;
};

static void
fl_prune(struct file_ledger *f, time_t now)
{
	size_t i, k = 0;

	for (i = 0; i < f->n; i++) {
		if (f->e[i].t > now - HOOK_KEEP && f->n - i <= HOOK_MAX)
			f->e[k++] = f->e[i];
		else
			free(f->e[i].key);
	}
	f->n = k;
}

static void
fl_add(struct file_ledger *f, time_t t, const char *key)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->e = ch_realloc(f->e, f->cap * sizeof *f->e);
	}
	f->e[f->n].t = t;
	f->e[f->n++].key = ch_strdup(key);
}

static void
fl_load(struct file_ledger *f)
{
	char *buf, *line, *next;
	size_t len;

	f->loaded = 1;
	if (!(buf = ch_read_file(f->path, &len, NULL)))
		return;         /* none yet */
	for (line = buf; line < buf + len; line = next) {
		char *sp, *nl = memchr(line, '\n', (size_t)(buf + len - line));
		long long t;

		next = nl ? nl + 1 : buf + len;
		if (nl)
			*nl = '\0';
		if ((sp = strchr(line, ' ')) && sp[1] &&
		    sscanf(line, "%lld", &t) == 1)
			fl_add(f, (time_t)t, sp + 1);
	}
	free(buf);
}

static int
fl_save(struct file_ledger *f, struct ch_err *e)
{
	size_t i, len = 0, cap = 1;
	char *buf;
	int rc;

	for (i = 0; i < f->n; i++)
		cap += strlen(f->e[i].key) + 24;
	buf = ch_malloc(cap);
	for (i = 0; i < f->n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%lld %s\n",
		    (long long)f->e[i].t, f->e[i].key);
	rc = ch_write_atomic(f->path, buf, len, e);
	free(buf);
	return rc;
}

static int
fl_claim(struct hook_ledger *l, const char *const keys[], time_t now,
    struct ch_err *e)
{
	struct file_ledger *f = (struct file_ledger *)l;
	size_t i, k;

	if (!f->loaded)
		fl_load(f);
	fl_prune(f, now);
	for (k = 0; keys[k]; k++)
		for (i = 0; i < f->n; i++)
			if (!strcmp(f->e[i].key, keys[k]))
				return 0;
	for (k = 0; keys[k]; k++)
		fl_add(f, now, keys[k]);
	fl_prune(f, now);
	if (fl_save(f, e) != 0) {
		/* not on disk: forget them, so that memory says what the
		 * file does */
		for (k = 0; keys[k] && f->n; k++)
			free(f->e[--f->n].key);
		return -1;
	}
	return 1;
}

static void
fl_close(struct hook_ledger *l)
{
	struct file_ledger *f = (struct file_ledger *)l;
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->e[i].key);
	free(f->e);
	free(f->path);
	free(f);
}

struct hook_ledger *
hook_ledger_file(const char *dir)
{
	struct file_ledger *f = ch_calloc(1, sizeof *f);
	size_t n = strlen(dir) + 32;

	f->base.claim = fl_claim;
	f->base.close = fl_close;
	f->path = ch_malloc(n);
	snprintf(f->path, n, "%s/hook-deliveries", dir);
	return &f->base;
}

/* --- the ledger of deliveries: one table shared by a fleet ------------ */

/* With a database (CHURN_DATABASE_URL), table churn_hook_deliveries
 * (fleet.h): replicas that get the same delivery at once start one run. */
struct db_ledger {
	struct hook_ledger base;
	struct ch_fleetdb *d;       /* opened on first use, again after a
	                               failure */
};

static int
dl_claim(struct hook_ledger *l, const char *const keys[], time_t now,
    struct ch_err *e)
{
	struct db_ledger *f = (struct db_ledger *)l;
	int rc;

	(void)now;          /* the database's clock: one for the fleet */
	if (!f->d && ch_fleetdb_open(cfg.database_url,
	    (long)cfg.registry_timeout, &f->d, e) != 0)
		return -1;
	if ((rc = ch_fleetdb_claim(f->d, keys, HOOK_KEEP, e)) < 0) {
		ch_fleetdb_close(f->d);
		f->d = NULL;
	}
	return rc;
}

static void
dl_close(struct hook_ledger *l)
{
	struct db_ledger *f = (struct db_ledger *)l;

	ch_fleetdb_close(f->d);
	free(f);
}

struct hook_ledger *
hook_ledger_db(void)
{
	struct db_ledger *f = ch_calloc(1, sizeof *f);

	f->base.claim = dl_claim;
	f->base.close = dl_close;
	return &f->base;
}

/* --- the pipeline: one run at a time, at most one more queued -------- */

/*
 * With a database, one at a time in the whole fleet too: a replica runs
 * the pipeline only while its own connection holds the pipeline lock (a
 * session advisory lock, fleet.h); a push that finds it held elsewhere is
 * queued here and starts when the lock is free.  A database that cannot
 * be reached does not stop the pipeline: it runs, and says so.
 */
static struct {
	pthread_mutex_t mu;
	int running;
	char **queued;              /* env of the run to come, or NULL */
	char **env;                 /* env of the run in progress */
	struct ch_fleetdb *db;      /* holds the fleet's pipeline lock */
	int locked;
} P = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* 1: this replica may run (it holds the lock, or there is no database),
 * 0: another replica's run holds it.  With P.mu held, or from the one
 * runner thread. */
static int
fleet_lock(void)
{
	struct ch_err e;
	int rc;

	if (!cfg.database_url || P.locked)
		return 1;
	if ((P.db || ch_fleetdb_open(cfg.database_url,
	    (long)cfg.registry_timeout, &P.db, &e) == 0) &&
	    (rc = ch_fleetdb_trylock(P.db, &e)) >= 0) {
		P.locked = rc;
		return rc;
	}
	ch_fleetdb_close(P.db);
	P.db = NULL;
	slog("warn", "pipeline lock not taken: running without it",
	    json_pack("{s:o}", "error", jtext(e.msg)));
	return 1;
}

static void
fleet_unlock(void)
{
	struct ch_err e;

	if (P.locked && ch_fleetdb_unlock(P.db, &e) != 0) {
		/* the lock ends with the session */
		ch_fleetdb_close(P.db);
		P.db = NULL;
	}
	P.locked = 0;
}

static char **
env_copy(char *const env[])
{
	size_t n = 0, i;
	char **c;

	while (env[n])
		n++;
	c = ch_calloc(n + 1, sizeof *c);
	for (i = 0; i < n; i++)
		c[i] = ch_strdup(env[i]);
	return c;
}

static void
env_free(char **env)
{
	size_t i;

	for (i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

static pid_t
spawn(char **env, struct ch_err *e)
{
	char logpath[4096];

	snprintf(logpath, sizeof logpath, "%s/pipeline.log", cfg.state_dir);
	return bridge_spawn(cfg.pipeline_cmd, logpath, env, e);
}

/* Waits for the run in progress, then runs the queued one, if any. */
static void *
runner(void *arg)
{
	pid_t pid = (pid_t)(long)arg;
	struct ch_err e;
	int status;

	for (;;) {
		if (pid > 0) {
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			slog("info", "pipeline finished", json_pack("{s:i,s:i}",
			    "pid", (int)pid, "status", WIFEXITED(status) ?
			    WEXITSTATUS(status) : 128 + WTERMSIG(status)));
		} else {
			/* another replica's run: wait for the lock, unless
			 * the queued run is dropped (shutdown) */
			pthread_mutex_lock(&P.mu);
			while (P.queued && !fleet_lock()) {
				pthread_mutex_unlock(&P.mu);
				nanosleep(&(struct timespec){ 0, 250000000L },
				    NULL);
				pthread_mutex_lock(&P.mu);
			}
			pthread_mutex_unlock(&P.mu);
		}
		pthread_mutex_lock(&P.mu);
		for (;;) {
			env_free(P.env);
			P.env = P.queued;
			P.queued = NULL;
			if (!P.env || (pid = spawn(P.env, &e)) > 0)
				break;
			slog("error", "queued pipeline not started",
			    json_pack("{s:s}", "error", e.msg));
		}
		if (!P.env) {
			fleet_unlock();
			P.running = 0;
			pthread_mutex_unlock(&P.mu);
			return NULL;
		}
		pthread_mutex_unlock(&P.mu);
		slog("info", "pipeline started", json_pack("{s:i,s:s}", "pid",
		    (int)pid, "queued", "yes"));
	}
}

int
pipeline_submit(char *const env[], pid_t *pid, struct ch_err *e)
{
	pthread_attr_t a;
	pthread_t t;
	int rc;

	pthread_mutex_lock(&P.mu);
	if (P.running) {
		rc = P.queued ? PIPE_COALESCED : PIPE_QUEUED;
		env_free(P.queued);
		P.queued = env_copy(env);
		pthread_mutex_unlock(&P.mu);
		return rc;
	}
	if (!fleet_lock()) {
		/* another replica runs one: this one waits for the lock */
		P.queued = env_copy(env);
		*pid = -1;
		rc = PIPE_QUEUED;
		slog("info", "another replica runs the pipeline: queued", NULL);
	} else {
		P.env = env_copy(env);
		if ((*pid = spawn(P.env, e)) < 0) {
			env_free(P.env);
			P.env = NULL;
			fleet_unlock();
			pthread_mutex_unlock(&P.mu);
			return -1;
		}
		rc = PIPE_STARTED;
	}
	P.running = 1;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, runner, (void *)(long)*pid) != 0) {
		/* nobody will wait for it: it runs on, unqueued-after */
		P.running = 0;
		env_free(P.env);
		env_free(P.queued);
		P.env = P.queued = NULL;
		fleet_unlock();
		slog("warn", "pipeline started without a waiter", NULL);
	}
	pthread_attr_destroy(&a);
	pthread_mutex_unlock(&P.mu);
	return rc;
}

void
pipeline_stop(void)
{
	pthread_mutex_lock(&P.mu);
	if (P.running)
		slog("warn", "a pipeline still runs: left to finish on its own",
		    json_pack("{s:b}", "queued_dropped", P.queued != NULL));
	env_free(P.queued);
	P.queued = NULL;
	pthread_mutex_unlock(&P.mu);
}
