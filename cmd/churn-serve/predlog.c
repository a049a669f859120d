/* predlog.c - the prediction log written from /predict: scored rows
 * queued by request threads, written in batches by one background thread */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"

#include "predlog.h"

/*
 * Every row /predict answers that has a customer id is kept in the
 * registry's prediction log (predlog.h: PostgreSQL table, or segment
 * objects in the store), so that outcomes recorded weeks later can be
 * joined to it (GET /performance, churn-models perf).
 *
 * A request never waits on the log: while it scores, it gathers its rows
 * (a reference to each row's JSON object, the probability, which model
 * answered) in a struct plreq of its own; once its answer is made,
 * predlog_commit hands them to the queue under a lock held for a few
 * pointer copies.  One writer thread takes the queue when it holds
 * cfg.predlog_flush_rows rows or cfg.predlog_flush_interval seconds have
 * passed, turns the rows into the log's form (the id, the model's features
 * only) and appends them in one call (one INSERT, one segment a day).
 *
 * Bounded: the queue holds at most cfg.predlog_queue rows, counting those
 * of a failed write kept for the next try; the rows of a request that
 * does not fit are dropped and counted, with a warning at most once a
 * minute.  A failed write is retried after a pause that doubles up to
 * MAXPAUSE seconds.  predlog_stop (SIGTERM, after the last request) writes
 * what is queued; rows it cannot write then are lost, counted and logged.
 * Rows without a customer id (no id column in the model's schema, none in
 * the row, or an empty one) cannot be joined to an outcome: they are not
 * kept, only counted.
 */
#define MAXPAUSE 30.0
#define WARN_EVERY 60.0         /* seconds between two warnings of a kind */
#define APPEND_MAX 10000        /* rows per append call */

struct plrow {
	json_t *obj;                /* the row as received (a reference) */
	double p, sp;               /* probability; the shadow's */
	unsigned char who;          /* 0 champion, 1 challenger */
	unsigned char shadowed;     /* sp was scored by the challenger */
};

struct plreq {
	struct plreq *next;
	struct loaded *l[2];        /* champion, challenger (references) */
	time_t t;
	size_t n, cap;
	long no_id;                 /* rows without a customer id */
	struct plrow *v;
};

static struct {
	pthread_mutex_t mu;         /* guards the queue, held, stop */
	pthread_cond_t cv;          /* on CLOCK_MONOTONIC (predlog_start) */
	pthread_t th;
	int running, stop;
	struct plreq *head, **tail;
	size_t queued, held;        /* rows queued; kept after a failed write */
	atomic_long recorded, dropped, no_id, lost, flush_errors;
	double warned_drop, warned_fail;
} Q = { .mu = PTHREAD_MUTEX_INITIALIZER, .tail = &Q.head };

int
predlog_enabled(void)
{
	return cfg.predlog && reg_enabled();
}

/* --- the request side ----------------------------------------------- */

struct plreq *
predlog_begin(const struct loaded *champ, const struct loaded *chal)
{
	struct plreq *q;

	if (!predlog_enabled() || !champ)
		return NULL;
	q = ch_calloc(1, sizeof *q);
	/* the models stay until the writer has read their schemas */
	q->l[0] = (struct loaded *)champ;
	atomic_fetch_add_explicit(&q->l[0]->refs, 1, memory_order_relaxed);
	if ((q->l[1] = (struct loaded *)chal))
		atomic_fetch_add_explicit(&q->l[1]->refs, 1,
		    memory_order_relaxed);
	q->t = time(NULL);
	return q;
}

/* The customer id of obj under schema s (a non-empty string, or an
 * integer), else NULL. */
static json_t *
row_id(const struct ch_schema *s, json_t *obj)
{
	json_t *id = s->id ? json_object_get(obj, s->id) : NULL;

	if (json_is_string(id) && json_string_length(id) > 0)
		return id;
	return json_is_integer(id) ? id : NULL;
}

void
predlog_add(struct plreq *q, json_t *obj, int who, double p, int shadowed,
    double sp)
{
	struct plrow *x;

	if (!q)
		return;
	if (!q->l[who] || !row_id(q->l[who]->m->schema, obj)) {
		q->no_id++;
		return;
	}
	if (q->n == q->cap)
		q->v = ch_reallocarray(q->v, q->cap = q->cap ? 2 * q->cap : 8,
		    sizeof *q->v);
	x = &q->v[q->n++];
	x->obj = json_incref(obj);
	x->p = p;
	x->sp = sp;
	x->who = (unsigned char)who;
	x->shadowed = shadowed && q->l[1];
}

static void
plreq_free(struct plreq *q)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		json_decref(q->v[i].obj);
	free(q->v);
	model_release(q->l[0]);
	model_release(q->l[1]);
	free(q);
}

void
predlog_abort(struct plreq *q)
{
	if (q)
		plreq_free(q);
}

/* A warning of kind *last at most once a WARN_EVERY; with Q.mu held. */
static int
warn_due(double *last)
{
	double now = ch_seconds();

	if (now - *last < WARN_EVERY)
		return 0;
	*last = now;
	return 1;
}

void
predlog_commit(struct plreq *q)
{
	size_t n;
	int warn = 0, wake = 0;

	if (!q)
		return;
	if (q->no_id)
		atomic_fetch_add_explicit(&Q.no_id, q->no_id,
		    memory_order_relaxed);
	if ((n = q->n) == 0) {
		plreq_free(q);
		return;
	}
	pthread_mutex_lock(&Q.mu);
	if (!Q.running || Q.stop || Q.queued + Q.held + n >
	    (size_t)cfg.predlog_queue) {
		atomic_fetch_add_explicit(&Q.dropped, (long)n,
		    memory_order_relaxed);
		warn = warn_due(&Q.warned_drop);
	} else {
		*Q.tail = q;
		Q.tail = &q->next;
		Q.queued += n;
		wake = Q.queued >= (size_t)cfg.predlog_flush_rows;
		q = NULL;
	}
	if (wake)
		pthread_cond_signal(&Q.cv);
	pthread_mutex_unlock(&Q.mu);
	if (q) {
		plreq_free(q);
		if (warn)
			slog("warn", "prediction log queue full: rows dropped",
			    json_pack("{s:I,s:I,s:I}", "rows", (json_int_t)n,
			    "dropped_total", (json_int_t)atomic_load(&Q.dropped),
			    "queue", (json_int_t)cfg.predlog_queue));
	}
}

/* --- the writer ------------------------------------------------------ */

/* The requests' rows in the log's form, appended to *rows (*n, *cap). */
static void
convert(struct plreq *list, struct ch_pred **rows, size_t *n, size_t *cap)
{
	struct plreq *q;
	size_t i;
	int f;

	for (q = list; q; q = q->next)
		for (i = 0; i < q->n; i++) {
			const struct plrow *x = &q->v[i];
			const struct loaded *l = q->l[x->who];
			const struct ch_schema *s = l->m->schema;
			json_t *id = row_id(s, x->obj), *v;
			struct ch_pred *p;
			char num[32];

			if (*n == *cap)
				*rows = ch_reallocarray(*rows, *cap = *cap ?
				    2 * *cap : 1024, sizeof **rows);
			p = &(*rows)[(*n)++];
			memset(p, 0, sizeof *p);
			if (json_is_string(id))
				p->id = ch_strdup(json_string_value(id));
			else {
				snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
				    json_integer_value(id));
				p->id = ch_strdup(num);
			}
			p->time = q->t;
			p->version = ch_strdup(l->m->version);
			p->p = x->p;
			p->features = json_object();
			for (f = 0; f < s->nfeat; f++)
				json_object_set(p->features, s->f[f].name,
				    (v = json_object_get(x->obj, s->f[f].name)) ?
				    v : json_null());
			if (x->shadowed) {
				p->shadow_version = ch_strdup(q->l[1]->m->version);
				p->shadow_p = x->sp;
			} else
				p->shadow_p = NAN;
		}
}

/* Appends rows[0..n) in pieces; returns how many were written (a failed
 * piece and those after it are not), e filled on failure. */
static size_t
write_rows(const struct ch_pred *rows, size_t n, struct ch_err *e)
{
	size_t done = 0, k;

	while (done < n) {
		k = n - done < APPEND_MAX ? n - done : APPEND_MAX;
		if (reg_predlog_append(rows + done, k, e) != 0)
			break;
		done += k;
	}
	return done;
}

static void
deadline(struct timespec *ts, double seconds)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)seconds;
	ts->tv_nsec += (long)((seconds - floor(seconds)) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *
writer(void *arg)
{
	struct ch_pred *held = NULL;        /* rows of a failed write */
	size_t nheld = 0, cap = 0, done, i;
	double pause = 0;
	struct timespec due;
	struct plreq *list, *q;
	struct ch_err e;
	int stop = 0, warn;

	(void)arg;
	pthread_mutex_lock(&Q.mu);
	deadline(&due, cfg.predlog_flush_interval);
	for (;;) {
		while (!Q.stop && Q.queued < (size_t)cfg.predlog_flush_rows)
			if (pthread_cond_timedwait(&Q.cv, &Q.mu, &due) ==
			    ETIMEDOUT)
				break;
		stop = Q.stop;
		list = Q.head;
		Q.head = NULL;
		Q.tail = &Q.head;
		Q.queued = 0;
		pthread_mutex_unlock(&Q.mu);

		convert(list, &held, &nheld, &cap);
		while ((q = list)) {
			list = q->next;
			plreq_free(q);
		}
		done = nheld ? write_rows(held, nheld, &e) : 0;
		atomic_fetch_add_explicit(&Q.recorded, (long)done,
		    memory_order_relaxed);
		if (done < nheld)
			atomic_fetch_add_explicit(&Q.flush_errors, 1,
			    memory_order_relaxed);
		/* what was written goes; the rest waits for the next try */
		for (i = 0; i < done; i++) {
			free(held[i].id);
			free(held[i].version);
			free(held[i].shadow_version);
			json_decref(held[i].features);
		}
		memmove(held, held + done, (nheld - done) * sizeof *held);
		nheld -= done;

		pthread_mutex_lock(&Q.mu);
		Q.held = nheld;
		warn = nheld && warn_due(&Q.warned_fail);
		pthread_mutex_unlock(&Q.mu);
		if (nheld && stop) {
			atomic_fetch_add_explicit(&Q.lost, (long)nheld,
			    memory_order_relaxed);
			slog("error", "prediction log not written at shutdown: "
			    "rows lost", json_pack("{s:I,s:o}", "rows",
			    (json_int_t)nheld, "error", jtext(e.msg)));
		} else if (warn)
			slog("warn", "prediction log not written: rows kept for "
			    "the next try", json_pack("{s:I,s:o,s:f}", "rows",
			    (json_int_t)nheld, "error", jtext(e.msg), "retry_s",
			    pause ? 2 * pause : 1));
		if (stop)
			break;
		pause = nheld ? (pause ? 2 * pause : 1) : 0;
		if (pause > MAXPAUSE)
			pause = MAXPAUSE;
		pthread_mutex_lock(&Q.mu);
		deadline(&due, pause > cfg.predlog_flush_interval ? pause :
		    cfg.predlog_flush_interval);
	}
	ch_pred_free(held, nheld);
	return NULL;
}

int
predlog_start(struct ch_err *e)
{
	pthread_condattr_t ca;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&Q.cv, &ca);
	pthread_condattr_destroy(&ca);
	if (!predlog_enabled())
		return 0;
	pthread_mutex_lock(&Q.mu);
	Q.warned_drop = Q.warned_fail = -WARN_EVERY;
	if ((rc = pthread_create(&Q.th, NULL, writer, NULL)) != 0) {
		pthread_mutex_unlock(&Q.mu);
		return ch_errf(e, "cannot start the prediction log writer: %s",
		    strerror(rc));
	}
	Q.running = 1;
	pthread_mutex_unlock(&Q.mu);
	return 0;
}

void
predlog_stop(void)
{
	int running;

	pthread_mutex_lock(&Q.mu);
	running = Q.running;
	Q.stop = 1;
	pthread_cond_signal(&Q.cv);
	pthread_mutex_unlock(&Q.mu);
	if (!running)
		return;
	pthread_join(Q.th, NULL);
	slog("info", "prediction log flushed", json_pack("{s:I,s:I,s:I}",
	    "recorded", (json_int_t)atomic_load(&Q.recorded), "dropped",
	    (json_int_t)atomic_load(&Q.dropped), "lost",
	    (json_int_t)atomic_load(&Q.lost)));
}

/* --- retention: a refresher step ------------------------------------ */

int
predlog_prune(struct ch_err *e)
{
	static double last = -1;
	size_t removed = 0;
	struct ch_err pe;

	(void)e;
	if (!predlog_enabled() || cfg.predlog_retain_days <= 0 ||
	    (last >= 0 && ch_seconds() - last < PREDLOG_PRUNE_EVERY))
		return 0;
	last = ch_seconds();
	if (reg_predlog_prune(cfg.predlog_retain_days, &removed, &pe) != 0)
		slog("warn", "prediction log not pruned", json_pack("{s:o,s:i}",
		    "error", jtext(pe.msg), "retain_days",
		    (int)cfg.predlog_retain_days));
	else if (removed)
		slog("info", "prediction log pruned", json_pack("{s:I,s:i}",
		    "removed", (json_int_t)removed, "retain_days",
		    (int)cfg.predlog_retain_days));
	return 0;       /* logged: not a failure of the registry view */
}

/* --- /metrics -------------------------------------------------------- */

void
predlog_metrics(FILE *fp)
{
	size_t queued;

	pthread_mutex_lock(&Q.mu);
	queued = Q.queued + Q.held;
	pthread_mutex_unlock(&Q.mu);
	fprintf(fp, "# HELP churn_predlog_enabled Whether scored rows are kept "
	    "in the prediction log.\n"
	    "# TYPE churn_predlog_enabled gauge\nchurn_predlog_enabled %d\n"
	    "# HELP churn_predlog_rows_total Scored rows by what became of them "
	    "(recorded: written to the log; dropped: the queue was full; no_id: "
	    "no customer id, not kept; lost: not written at shutdown).\n"
	    "# TYPE churn_predlog_rows_total counter\n"
	    "churn_predlog_rows_total{result=\"recorded\"} %ld\n"
	    "churn_predlog_rows_total{result=\"dropped\"} %ld\n"
	    "churn_predlog_rows_total{result=\"no_id\"} %ld\n"
	    "churn_predlog_rows_total{result=\"lost\"} %ld\n"
	    "# HELP churn_predlog_flush_errors_total Writes of the prediction "
	    "log that failed (their rows are tried again).\n"
	    "# TYPE churn_predlog_flush_errors_total counter\n"
	    "churn_predlog_flush_errors_total %ld\n"
	    "# HELP churn_predlog_queue_rows Rows waiting to be written.\n"
	    "# TYPE churn_predlog_queue_rows gauge\nchurn_predlog_queue_rows %zu\n",
	    predlog_enabled(), atomic_load(&Q.recorded),
	    atomic_load(&Q.dropped), atomic_load(&Q.no_id),
	    atomic_load(&Q.lost), atomic_load(&Q.flush_errors), queued);
}
