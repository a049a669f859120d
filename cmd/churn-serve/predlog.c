/* predlog.c - the prediction log written from /predict: scored rows
 * queued by request threads, written in batches by one background thread */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonflat.h"
#include "serve.h"


/*
 * Every row /predict answers that has a customer id is kept in the
 * registry's prediction log (predlog.h: PostgreSQL table, or segment
 * objects in the store), so that outcomes recorded weeks later can be
 * joined to it (GET /performance, churn-models perf).
 *
 * A request never waits on the log: as it scores each row, it writes the
 * row's line in the log's form (the id, the model's features only) into
 * a buffer of its own (struct plreq, reused: see SPARE_MAX), so that
 * nothing of the request (its JSON objects, its models) outlives it or
 * is freed by another thread; once its answer is made, predlog_commit
 * hands the buffer to the queue under a lock held for a few pointer
 * copies.  One writer thread takes the queue every DRAIN_ROWS rows, joins
 * the buffers and hands them back for reuse; it appends what it holds
 * when that is cfg.predlog_flush_rows rows or cfg.predlog_flush_interval
 * seconds have passed (one INSERT, one segment a day, of APPEND_MAX rows
 * at most): a busy server writes a few large segments a second, not one
 * small one per thousand requests (each a file created and synced).
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
#define DRAIN_ROWS 1000         /* rows queued that wake the writer */

/* n bytes added to b, the NUL left to the line's end (add's hot path:
 * ch_buf_add, inlined) */
static inline void
put(struct ch_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap)
		ch_buf_room(b, n);
	memcpy(b->s + b->len, p, n);
	b->len += n;
}

/* a string literal added to a buffer */
#define PUT(b, lit) put((b), (lit), sizeof (lit) - 1)

struct plreq {
	struct plreq *next;
	const struct loaded *l[2];  /* champion, challenger (the request's) */
	time_t t;
	char when[21];              /* t in ISO 8601 */
	size_t n;                   /* rows in b */
	long no_id;                 /* rows without a customer id */
	struct ch_buf b;            /* their lines */
};

static struct {
	int on;                     /* set by predlog_start, read-only after */
	pthread_mutex_t mu;         /* guards the queue, held, stop */
	pthread_cond_t cv;          /* on CLOCK_MONOTONIC (predlog_start) */
	pthread_t th;
	int running, stop;
	int paused;                 /* a write failed: the next waits */
	struct plreq *head, **tail;
	size_t queued, held;        /* rows queued; taken by the writer, not
	                             * yet written */
	atomic_long recorded, dropped, no_id, lost, flush_errors;
	double warned_drop, warned_fail;
} Q = { .mu = PTHREAD_MUTEX_INITIALIZER, .tail = &Q.head };

/* Whether the writer has rows to take (with Q.mu held): DRAIN_ROWS of
 * them, or enough to write with those it holds (unless a failed write's
 * pause is not over) */
static int
takes(void)
{
	return Q.queued >= DRAIN_ROWS || (!Q.paused &&
	    Q.queued + Q.held >= (size_t)cfg.predlog_flush_rows);
}

int
predlog_enabled(void)
{
	return Q.on;
}

/* --- the request side ----------------------------------------------- */

/* t in ISO 8601, remembered by each thread for the second it is in */
static void
when_of(time_t t, char out[21])
{
	static _Thread_local time_t last = -1;
	static _Thread_local char text[21];

	if (t != last) {
		ch_iso8601(t, text);
		last = t;
	}
	memcpy(out, text, sizeof text);
}

/*
 * Spent requests, handed back whole by the writer (at most SPARE_MAX,
 * with buffers of at most SPARE_BYTES) for new requests to take: in the
 * steady state a request allocates nothing for the log, and no thread
 * frees memory another allocated (glibc pays for that in its arenas).
 */
#define SPARE_MAX 4096
#define SPARE_BYTES 65536

static struct {
	pthread_mutex_t mu;
	struct plreq *head;
	size_t n;
} F = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void
plreq_free(struct plreq *q)
{
	free(q->b.s);
	free(q);
}

/* The requests of list (linked by next) kept for reuse or freed */
static void
plreq_recycle(struct plreq *list)
{
	struct plreq *q;

	pthread_mutex_lock(&F.mu);
	while ((q = list)) {
		list = q->next;
		if (F.n < SPARE_MAX && q->b.cap <= SPARE_BYTES) {
			q->next = F.head;
			F.head = q;
			F.n++;
		} else
			plreq_free(q);
	}
	pthread_mutex_unlock(&F.mu);
}

struct plreq *
predlog_begin(const struct loaded *champ, const struct loaded *chal)
{
	struct plreq *q;
	struct ch_buf b;

	if (!predlog_enabled() || !champ)
		return NULL;
	pthread_mutex_lock(&F.mu);
	if ((q = F.head)) {
		F.head = q->next;
		F.n--;
	}
	pthread_mutex_unlock(&F.mu);
	if (q) {
		b = q->b;
		b.len = 0;
		memset(q, 0, sizeof *q);
		q->b = b;
	} else
		q = ch_calloc(1, sizeof *q);
	/* the request holds the models while it adds rows: no reference */
	q->l[0] = champ;
	q->l[1] = chal;
	q->t = time(NULL);
	when_of(q->t, q->when);
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

/* s as a JSON string (valid UTF-8: jansson's, or jtext's) */
static void
put_str(struct ch_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, k;
	char *o;

	if (n < 16) {           /* a short value: copied as it is scanned */
		o = b->len + 6 * n + 3 > b->cap ? ch_buf_room(b, 6 * n + 2) :
		    b->s + b->len;
		*o++ = '"';
		for (i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c < 0x20 || c == '"' || c == '\\')
				break;
			*o++ = (char)c;
		}
		k = i;
		goto rest;
	}
	/* the common case, nothing to escape: one scan, then one copy */
	k = ch_json_plain(s, n, 0);
	o = ch_buf_room(b, k + 6 * (n - k) + 2);
	*o++ = '"';
	memcpy(o, s, k);
	o += k;
rest:
	for (i = k; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			*o++ = (char)c;
		else if (c == '"' || c == '\\')
			*o++ = '\\', *o++ = (char)c;
		else {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4], o[5] = hex[c & 15];
			o += 6;
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - b->s);
}

/* An integer's digits (quoted: an id), without printf */
static void
put_int(struct ch_buf *b, json_int_t v, int quoted)
{
	char t[24], *p = t + sizeof t;
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v :
	    (unsigned long long)v;

	if (quoted)
		*--p = '"';
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	if (quoted)
		*--p = '"';
	put(b, p, (size_t)(t + sizeof t - p));
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
		put_int(b, json_integer_value(v), 0);
		break;
	case JSON_REAL:
		ch_buf_g17(b, json_real_value(v));
		break;
	case JSON_TRUE: PUT(b, "true"); break;
	case JSON_FALSE: PUT(b, "false"); break;
	case JSON_NULL: PUT(b, "null"); break;
	default:        /* an object or array where a value was expected */
		t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
		    JSON_REAL_PRECISION(17));
		ch_buf_adds(b, t ? t : "null");
		free(t);
	}
}

/*
 * What every line of a model has: its version as a JSON string, then
 * each feature's key ("name": after a comma but for the first), escaped
 * once here, not on every row.  Piece i is text[off[i]..off[i + 1]).
 * One block: free() frees it.
 */
struct plkeys {
	int nfeat;
	size_t *off;                /* [nfeat + 2] */
	char *text;
};

struct plkeys *
predlog_keys(const struct ch_model *m)
{
	const struct ch_schema *s = m->schema;
	struct ch_buf b = { 0 };
	struct plkeys *k;
	size_t *off = ch_calloc((size_t)s->nfeat + 2, sizeof *off);
	int f;

	put_str(&b, m->version, strlen(m->version));
	off[1] = b.len;
	for (f = 0; f < s->nfeat; f++) {
		if (f)
			PUT(&b, ",");
		put_str(&b, s->f[f].name, strlen(s->f[f].name));
		PUT(&b, ":");
		off[f + 2] = b.len;
	}
	k = ch_malloc(sizeof *k + ((size_t)s->nfeat + 2) * sizeof *off +
	    b.len + 1);
	k->nfeat = s->nfeat;
	k->off = (size_t *)(k + 1);
	k->text = (char *)(k->off + s->nfeat + 2);
	memcpy(k->off, off, ((size_t)s->nfeat + 2) * sizeof *off);
	memcpy(k->text, b.s ? b.s : "", b.len + 1);
	free(off);
	free(b.s);
	return k;
}

/* piece i of k added to b */
static void
put_key(struct ch_buf *b, const struct plkeys *k, int i)
{
	put(b, k->text + k->off[i], k->off[i + 1] - k->off[i]);
}

/*
 * The row's line in the log's form (predlog.h: id, time, model_version,
 * probability, features[, shadow_version, shadow_probability]), added to
 * the request's buffer now, while obj is the request's.
 */
void
predlog_add(struct plreq *q, json_t *obj, json_t *const *vals, int who,
    double p, int shadowed, double sp)
{
	const struct loaded *l;
	const struct ch_schema *s;
	struct ch_buf *b;
	json_t *id, **own = NULL;
	int f;

	if (!q)
		return;
	if (!(l = q->l[who]) || !(id = row_id(l->m->schema, obj))) {
		q->no_id++;
		return;
	}
	s = l->m->schema;
	b = &q->b;
	PUT(b, "{\"id\":");
	if (json_is_string(id))
		put_str(b, json_string_value(id), json_string_length(id));
	else
		put_int(b, json_integer_value(id), 1);
	PUT(b, ",\"time\":\"");
	put(b, q->when, strlen(q->when));
	PUT(b, "\",\"model_version\":");
	put_key(b, l->plkeys, 0);
	PUT(b, ",\"probability\":");
	ch_buf_g17(b, p);
	PUT(b, ",\"features\":{");
	if (!vals)
		vals = own = ch_json_fields_new(s, obj);
	for (f = 0; f < s->nfeat; f++) {
		put_key(b, l->plkeys, f + 1);
		put_value(b, vals[f] ? vals[f] : json_null());
	}
	free(own);
	PUT(b, "}");
	if (shadowed && q->l[1]) {
		PUT(b, ",\"shadow_version\":");
		put_key(b, q->l[1]->plkeys, 0);
		PUT(b, ",\"shadow_probability\":");
		ch_buf_g17(b, sp);
	}
	PUT(b, "}\n");
	b->s[b->len] = '\0';
	q->n++;
}

void
predlog_abort(struct plreq *q)
{
	if (q) {
		q->next = NULL;
		plreq_recycle(q);
	}
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
		predlog_abort(q);
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
		wake = takes();
		q = NULL;
	}
	if (wake)
		pthread_cond_signal(&Q.cv);
	pthread_mutex_unlock(&Q.mu);
	if (q) {
		predlog_abort(q);
		if (warn)
			slog("warn", "prediction log queue full: rows dropped",
			    json_pack("{s:I,s:I,s:I}", "rows", (json_int_t)n,
			    "dropped_total", (json_int_t)atomic_load(&Q.dropped),
			    "queue", (json_int_t)cfg.predlog_queue));
	}
}

/* --- the writer ------------------------------------------------------ */

/*
 * The requests' lines are joined here into chunks handed over whole
 * (ch_predlog_append_jsonl): a chunk holds the lines of one UTC day, at
 * most APPEND_MAX of them (or one request's, when it has more).
 */
struct chunk {
	struct chunk *next;
	time_t day;                 /* a time of the lines' UTC day */
	size_t rows;
	struct ch_buf b;
};

/* A written chunk's buffer, kept for the next (the writer's): a batch
 * then costs no allocation, nor the page faults of a fresh one. */
static struct ch_buf spare;

static void
chunk_free(struct chunk *c)
{
	if (!spare.s) {
		spare = c->b;
		spare.len = 0;
	} else
		free(c->b.s);
	free(c);
}

/* The requests' lines added to the list of chunks at *tail (which then
 * points at its end), to *last first (its last chunk, or NULL) while it
 * has room; returns the rows. */
static size_t
join(const struct plreq *list, struct chunk ***tail, struct chunk **last)
{
	const struct plreq *q;
	struct chunk *c = *last;
	size_t n = 0;

	for (q = list; q; q = q->next) {
		if (!q->n)
			continue;
		if (!c || c->rows + q->n > APPEND_MAX ||
		    c->day / 86400 != q->t / 86400) {
			c = ch_calloc(1, sizeof *c);
			c->b = spare;
			spare = (struct ch_buf){ 0 };
			c->day = q->t;
			**tail = c;
			*tail = &c->next;
		}
		ch_buf_add(&c->b, q->b.s, q->b.len);
		c->rows += q->n;
		n += q->n;
	}
	*last = c;
	return n;
}

static void *
writer(void *arg)
{
	struct chunk *held = NULL, **tail = &held, *last = NULL, *c;
	size_t nheld = 0;
	double pause = 0;
	struct timespec due;
	struct plreq *list;
	struct ch_err e;
	int stop = 0, warn, failed, timeout;

	(void)arg;
	pthread_mutex_lock(&Q.mu);
	ch_deadline(&due, cfg.predlog_flush_interval);
	for (;;) {
		timeout = 0;
		while (!Q.stop && !takes() && !timeout)
			timeout = pthread_cond_timedwait(&Q.cv, &Q.mu, &due) ==
			    ETIMEDOUT;
		stop = Q.stop;
		list = Q.head;
		Q.head = NULL;
		Q.tail = &Q.head;
		Q.queued = 0;
		Q.held = nheld += join(list, &tail, &last);
		pthread_mutex_unlock(&Q.mu);
		plreq_recycle(list);
		/* written when enough is held or the time has come (after a
		 * failure: when its pause is over) */
		if (!stop && !timeout && (pause ||
		    nheld < (size_t)cfg.predlog_flush_rows)) {
			pthread_mutex_lock(&Q.mu);
			continue;
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
			if (!(held = c->next)) {
				tail = &held;
				last = NULL;
			}
			chunk_free(c);
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
		Q.paused = pause > 0;
		ch_deadline(&due, pause > cfg.predlog_flush_interval ? pause :
		    cfg.predlog_flush_interval);
	}
	while ((c = held)) {
		held = c->next;
		free(c->b.s);
		free(c);
	}
	free(spare.s);
	spare = (struct ch_buf){ 0 };
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
	struct plreq *q;
	int running;

	pthread_mutex_lock(&Q.mu);
	running = Q.running;
	Q.stop = 1;
	pthread_cond_signal(&Q.cv);
	pthread_mutex_unlock(&Q.mu);
	if (!running)
		return;
	pthread_join(Q.th, NULL);
	/* after the last request */
	pthread_mutex_lock(&F.mu);
	while ((q = F.head)) {
		F.head = q->next;
		plreq_free(q);
	}
	F.n = 0;
	pthread_mutex_unlock(&F.mu);
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
