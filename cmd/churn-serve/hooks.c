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

/* --- the pipeline: one run at a time, at most one more queued -------- */

static struct {
	pthread_mutex_t mu;
	int running;
	char **queued;              /* env of the run to come, or NULL */
	char **env;                 /* env of the run in progress */
} P = { .mu = PTHREAD_MUTEX_INITIALIZER };

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
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		slog("info", "pipeline finished", json_pack("{s:i,s:i}", "pid",
		    (int)pid, "status", WIFEXITED(status) ?
		    WEXITSTATUS(status) : 128 + WTERMSIG(status)));
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
	P.env = env_copy(env);
	if ((*pid = spawn(P.env, e)) < 0) {
		env_free(P.env);
		P.env = NULL;
		pthread_mutex_unlock(&P.mu);
		return -1;
	}
	P.running = 1;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, runner, (void *)(long)*pid) != 0) {
		/* nobody will wait for it: it runs on, unqueued-after */
		P.running = 0;
		env_free(P.env);
		P.env = NULL;
		slog("warn", "pipeline started without a waiter", NULL);
	}
	pthread_attr_destroy(&a);
	pthread_mutex_unlock(&P.mu);
	return PIPE_STARTED;
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
