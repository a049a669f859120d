/* predlog.c - the prediction log written from /predict: scored rows
 * queued by request threads, written in batches by one background thread */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"


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
 * passed, encodes the rows in the log's form (the id, the model's features
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
	int on;                     /* set by predlog_start, read-only after */
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
	return Q.on;
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

/*
 * Rows are encoded here straight into the log's JSON lines (predlog.h:
 * id, time, model_version, probability, features[, shadow_version,
 * shadow_probability]) and handed over whole (ch_predlog_append_jsonl):
 * no intermediate objects, a few bytes copied per field.  A chunk holds
 * the lines of one UTC day, at most APPEND_MAX of them.
 */
struct chunk {
	struct chunk *next;
	time_t day;                 /* a time of the lines' UTC day */
	size_t rows;
	struct ch_buf b;
};

/* s as a JSON string (valid UTF-8: jansson's, or jtext's) */
static void
put_str(struct ch_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;
	char *o;

	ch_buf_add(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		ch_buf_add(b, s + run, i - run);
		run = i + 1;
		o = ch_buf_room(b, 6);
		if (c == '"' || c == '\\') {
			o[0] = '\\', o[1] = (char)c;
			b->len += 2;
		} else {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4], o[5] = hex[c & 15];
			b->len += 6;
		}
	}
	ch_buf_add(b, s + run, n - run);
	ch_buf_add(b, "\"", 1);
}

static void
put_value(struct ch_buf *b, json_t *v)
{
	char *t;

	switch (json_typeof(v)) {
	case JSON_STRING:
		put_str(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		ch_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		ch_buf_printf(b, "%.17g", json_real_value(v));
		break;
	case JSON_TRUE: ch_buf_adds(b, "true"); break;
	case JSON_FALSE: ch_buf_adds(b, "false"); break;
	case JSON_NULL: ch_buf_adds(b, "null"); break;
	default:        /* an object or array where a value was expected */
		t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
		    JSON_REAL_PRECISION(17));
		ch_buf_adds(b, t ? t : "null");
		free(t);
	}
}

/* One row's line, appended to b. */
static void
put_row(struct ch_buf *b, const struct plreq *q, const struct plrow *x,
    const char *when)
{
	const struct loaded *l = q->l[x->who];
	const struct ch_schema *s = l->m->schema;
	json_t *id = row_id(s, x->obj), *v;
	int f;

	ch_buf_adds(b, "{\"id\":");
	if (json_is_string(id))
		put_str(b, json_string_value(id), json_string_length(id));
	else
		ch_buf_printf(b, "\"%" JSON_INTEGER_FORMAT "\"",
		    json_integer_value(id));
	ch_buf_printf(b, ",\"time\":\"%s\",\"model_version\":", when);
	put_str(b, l->m->version, strlen(l->m->version));
	ch_buf_printf(b, ",\"probability\":%.17g,\"features\":{", x->p);
	for (f = 0; f < s->nfeat; f++) {
		if (f)
			ch_buf_add(b, ",", 1);
		put_str(b, s->f[f].name, strlen(s->f[f].name));
		ch_buf_add(b, ":", 1);
		v = json_object_get(x->obj, s->f[f].name);
		put_value(b, v ? v : json_null());
	}
	ch_buf_add(b, "}", 1);
	if (x->shadowed) {
		ch_buf_adds(b, ",\"shadow_version\":");
		put_str(b, q->l[1]->m->version, strlen(q->l[1]->m->version));
		ch_buf_printf(b, ",\"shadow_probability\":%.17g", x->sp);
	}
	ch_buf_add(b, "}\n", 2);
}

/* The requests' rows as chunks appended to the list at *tail (which then
 * points at its end); returns the rows. */
static size_t
encode(const struct plreq *list, struct chunk ***tail)
{
	const struct plreq *q;
	struct chunk *c = NULL;
	char when[21];
	size_t i, n = 0;

	for (q = list; q; q = q->next) {
		ch_iso8601(q->t, when);
		for (i = 0; i < q->n; i++) {
			if (!c || c->rows == APPEND_MAX ||
			    c->day / 86400 != q->t / 86400) {
				c = ch_calloc(1, sizeof *c);
				c->day = q->t;
				**tail = c;
				*tail = &c->next;
			}
			put_row(&c->b, q, &q->v[i], when);
			c->rows++;
			n++;
		}
	}
	return n;
}

static void *
writer(void *arg)
{
	struct chunk *held = NULL, **tail = &held, *c;
	size_t nheld = 0;
	double pause = 0;
	struct timespec due;
	struct plreq *list, *q;
	struct ch_err e;
	int stop = 0, warn, failed;

	(void)arg;
	pthread_mutex_lock(&Q.mu);
	ch_deadline(&due, cfg.predlog_flush_interval);
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

		nheld += encode(list, &tail);
		while ((q = list)) {
			list = q->next;
			plreq_free(q);
		}
		/* in order; what is written goes, the rest waits for the next
		 * try */
		failed = 0;
		while ((c = held) && !failed) {
			if (reg_predlog_append_jsonl(c->b.s, c->b.len, c->day,
			    &e) != 0) {
				failed = 1;
				atomic_fetch_add_explicit(&Q.flush_errors, 1,
				    memory_order_relaxed);
				break;
			}
			atomic_fetch_add_explicit(&Q.recorded, (long)c->rows,
			    memory_order_relaxed);
			nheld -= c->rows;
			if (!(held = c->next))
				tail = &held;
			free(c->b.s);
			free(c);
		}

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
		ch_deadline(&due, pause > cfg.predlog_flush_interval ? pause :
		    cfg.predlog_flush_interval);
	}
	while ((c = held)) {
		held = c->next;
		free(c->b.s);
		free(c);
	}
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
	if (!(Q.on = cfg.predlog && reg_available()))
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
