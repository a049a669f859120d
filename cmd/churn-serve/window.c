/* window.c - the live-traffic window: scored rows as JSON lines in a
 * bounded pair of rotating files, or in the database, for drift checks
 * over real traffic */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jsonflat.h"
#include "serve.h"

/*
 * Rows go to DIR/window.jsonl; when it holds `rows` lines it becomes
 * DIR/window.1.jsonl (replacing the older one) and a new file starts, so
 * the window holds between rows and 2 * rows of the latest rows.  Each
 * line is one flat JSON object: the model's features and its id column as
 * posted (nothing else the client sent), with "churn_probability",
 * "model_version" and "time" - the shape `churn-drift --json-in` reads.
 *
 * Bytes are bounded too: a row longer than row_bytes is not kept (counted
 * and logged), and a file is rotated before it would pass half of
 * max_bytes, so the two files hold at most max_bytes.  In the database
 * the bound is 2 * rows rows of at most row_bytes each.
 *
 * With a database (CHURN_DATABASE_URL) the rows go to its churn_window
 * table instead, in the same form (ch_registry_window_append: one
 * transaction a flush, the table trimmed to the newest 2 * rows), and no
 * file is written.
 *
 * Request threads only append the line to a memory buffer under a short
 * lock; window_flush, run by the main thread several times a second and by
 * window_reader_open, takes the buffer and does the file or database work
 * (writes, rotation: a rename can wait for the disk) with no request
 * waiting on it.  Should the disk fall behind, rows past MAXBUF bytes are
 * dropped and counted rather than held.  Should the database be down, the
 * rows stay in memory (the newest 2 * rows of them) and the flush retries
 * after a pause that doubles up to MAXPAUSE seconds, a warning each time.
 */
#define MAXBUF (64 << 20)
#define MAXPAUSE 30.0

static struct {
	pthread_mutex_t mu;         /* guards buf, len, cap, spare, pending,
	                             * dropped */
	pthread_mutex_t io;         /* guards the files */
	char *buf;
	size_t len, cap;
	char *spare;                /* the buffer written last, kept for the
	                             * next flush: no request grows a buffer
	                             * from nothing (a copy and page faults
	                             * under mu) once the rate is steady */
	size_t sparecap;
	long pending, dropped;
	int fd;
	char *cur, *old;
	long rows, limit;           /* rows in cur, rows per file */
	long oldrows;
	size_t bytes;               /* bytes in cur */
	size_t row_bytes, max_bytes;
	long toolong;               /* rows over row_bytes, not kept */
	int open;                   /* window_open done, window_close not */
	int db;                     /* rows go to the database */
	int down;                   /* the last database flush failed */
	double pause, retry_at;     /* database retry backoff (ch_seconds) */
} W = { .mu = PTHREAD_MUTEX_INITIALIZER, .io = PTHREAD_MUTEX_INITIALIZER,
	.fd = -1 };

static long
count_lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	long n = 0;
	int c;

	if (!fp)
		return 0;
	while ((c = getc(fp)) != EOF)
		n += c == '\n';
	fclose(fp);
	return n;
}

static int
open_cur(void)
{
	W.fd = open(W.cur, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (W.fd < 0)
		slog("error", "window file cannot be opened", json_pack(
		    "{s:s,s:s}", "file", W.cur, "error", strerror(errno)));
	return W.fd;
}

int
window_open(const char *dir, long rows, size_t row_bytes, size_t max_bytes,
    int database, struct ch_err *e)
{
	size_t n = strlen(dir) + 32;
	struct stat st;

	W.limit = rows > 0 ? rows : 10000;
	W.max_bytes = max_bytes ? max_bytes : (size_t)64 << 20;
	W.row_bytes = row_bytes ? row_bytes : 8192;
	if (W.row_bytes > W.max_bytes / 2)
		W.row_bytes = W.max_bytes / 2;
	W.open = 1;
	if (database) {
		W.db = 1;
		return 0;
	}
	W.cur = ch_malloc(n);
	W.old = ch_malloc(n);
	snprintf(W.cur, n, "%s/window.jsonl", dir);
	snprintf(W.old, n, "%s/window.1.jsonl", dir);
	if (open_cur() < 0)
		return ch_errf(e, "%s: %s", W.cur, strerror(errno));
	W.rows = count_lines(W.cur);
	W.oldrows = count_lines(W.old);
	W.bytes = fstat(W.fd, &st) == 0 ? (size_t)st.st_size : 0;
	return 0;
}

/* Appends one line (with its newline) to the memory buffer. */
static void
append(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t need = alen + blen + 1;

	pthread_mutex_lock(&W.mu);
	if (need > W.row_bytes + 1) {
		W.toolong++;
	} else if (W.len + need > MAXBUF) {
		W.dropped++;
	} else {
		if (W.len + need > W.cap) {
			W.cap = (W.len + need) * 2;
			W.buf = ch_realloc(W.buf, W.cap);
		}
		memcpy(W.buf + W.len, a, alen);
		memcpy(W.buf + W.len + alen, b, blen);
		W.buf[W.len + alen + blen] = '\n';
		W.len += need;
		W.pending++;
	}
	pthread_mutex_unlock(&W.mu);
}

/* Written a piece at a time, the CPU given up between pieces: a flush
 * is several MB a second at full load, and one long write(2) held a core
 * for milliseconds while requests queued behind it (all the more with the
 * server confined to one CPU). */
#define PIECE (64 << 10)

static void
write_all(const char *p, size_t n)
{
	while (n > 0 && W.fd >= 0) {
		ssize_t w = write(W.fd, p, n < PIECE ? n : PIECE);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			slog("error", "window write failed", json_pack("{s:s,s:s}",
			    "file", W.cur, "error", strerror(errno)));
			return;
		}
		p += w;
		n -= (size_t)w;
		if (n > 0)
			sched_yield();
	}
}

/* The older file goes first, then the current one takes its name: a
 * rename over an existing file makes ext4 (auto_da_alloc) write the
 * renamed file's data to the disk at once, which at thousands of rows a
 * second meant tens of MB/s of disk writes and the kernel's writeback
 * competing with requests for the CPU; a file that is unlinked before
 * its turn to be written back never reaches the disk.  Readers take
 * W.io, so none sees the moment without window.1.jsonl. */
static void
rotate(void)
{
	if (W.fd >= 0)
		close(W.fd);
	if (unlink(W.old) != 0 && errno != ENOENT)
		slog("error", "window rotate failed", json_pack("{s:s,s:s}",
		    "file", W.old, "error", strerror(errno)));
	if (rename(W.cur, W.old) != 0)
		slog("error", "window rotate failed", json_pack("{s:s,s:s}",
		    "file", W.cur, "error", strerror(errno)));
	W.oldrows = W.rows;
	W.rows = 0;
	W.bytes = 0;
	open_cur();
}

/*
 * Puts rows the database did not take back in front of those added since,
 * keeping the newest 2 * limit; returns how many old ones went, *held
 * (may be NULL) how many wait now.  Takes buf.
 */
static long
requeue(char *buf, size_t len, long n, long *held)
{
	long drop, gone = 0;
	char *p, *end;

	pthread_mutex_lock(&W.mu);
	if (W.len) {
		buf = ch_realloc(buf, len + W.len);
		memcpy(buf + len, W.buf, W.len);
		len += W.len;
		n += W.pending;
	}
	free(W.buf);
	p = buf;
	end = buf + len;
	for (drop = n - 2 * W.limit; gone < drop; gone++)
		p = (char *)memchr(p, '\n', (size_t)(end - p)) + 1;
	memmove(buf, p, (size_t)(end - p));
	W.buf = buf;
	W.len = W.cap = (size_t)(end - p);
	W.pending = n - gone;
	if (held)
		*held = W.pending;
	pthread_mutex_unlock(&W.mu);
	return gone;
}

/* The database flush; force: now, whatever the backoff says.  Takes buf. */
static void
flush_db(char *buf, size_t len, long n, int force)
{
	struct ch_err e;
	long refused = 0, gone, held;

	if (len == 0) {
		free(buf);
		return;
	}
	if (!force && W.down && ch_seconds() < W.retry_at) {
		if ((gone = requeue(buf, len, n, NULL)) > 0)
			slog("warn", "window rows dropped: the database is down",
			    json_pack("{s:I}", "rows", (json_int_t)gone));
		return;
	}
	if (reg_window_append(buf, len, 2 * W.limit, &refused, &e) == 0) {
		if (W.down)
			slog("info", "window rows reach the database again",
			    json_pack("{s:I}", "rows", (json_int_t)n));
		if (refused)
			slog("warn", "window rows refused by the database",
			    json_pack("{s:I}", "rows", (json_int_t)refused));
		W.down = 0;
		W.pause = 0;
		free(buf);
		return;
	}
	W.down = 1;
	W.pause = W.pause > 0 ? W.pause * 2 : 1;
	if (W.pause > MAXPAUSE)
		W.pause = MAXPAUSE;
	W.retry_at = ch_seconds() + W.pause;
	gone = requeue(buf, len, n, &held);
	slog("warn", "window rows kept in memory: the database cannot take them",
	    json_pack("{s:o,s:I,s:I,s:f}", "error", jtext(e.msg), "rows",
	    (json_int_t)held, "dropped", (json_int_t)gone, "retry_s",
	    W.pause));
}

static void
flush(int force)
{
	char *buf, *p, *end;
	size_t len, cap;
	long dropped, nrows, toolong;

	pthread_mutex_lock(&W.io);
	pthread_mutex_lock(&W.mu);
	/* the database is down and its pause not over: nothing to do unless
	 * the rows held outgrow the window */
	if (W.db && W.down && !force && W.pending <= 2 * W.limit &&
	    ch_seconds() < W.retry_at) {
		pthread_mutex_unlock(&W.mu);
		pthread_mutex_unlock(&W.io);
		return;
	}
	buf = W.buf, len = W.len, cap = W.cap, dropped = W.dropped;
	nrows = W.pending, toolong = W.toolong;
	/* requests go on in the buffer written last time */
	W.buf = W.spare, W.cap = W.sparecap, W.len = 0;
	W.spare = NULL, W.sparecap = 0;
	W.pending = 0, W.dropped = 0, W.toolong = 0;
	pthread_mutex_unlock(&W.mu);
	if (toolong)
		slog("warn", "window rows longer than the row bound not kept",
		    json_pack("{s:I,s:I}", "rows", (json_int_t)toolong,
		    "window_row_bytes", (json_int_t)W.row_bytes));
	if (!W.open)    /* closed: nowhere to go */
		len = 0;
	if (dropped)
		slog("warn", W.db ? "window rows dropped: the database is behind" :
		    "window rows dropped: the disk is behind",
		    json_pack("{s:I}", "rows", (json_int_t)dropped));
	if (W.db) {
		flush_db(buf, len, nrows, force);
		pthread_mutex_unlock(&W.io);
		return;
	}
	/* write up to the row that fills the file (in rows or in bytes),
	 * rotate, go on */
	for (p = buf, end = buf + len; p < end; ) {
		char *q = p;
		long n = 0;

		while (q < end && W.rows + n < W.limit) {
			char *nl = (char *)memchr(q, '\n', (size_t)(end - q)) + 1;

			if (W.rows + n > 0 &&
			    W.bytes + (size_t)(nl - p) > W.max_bytes / 2)
				break;
			q = nl;
			n++;
		}
		write_all(p, (size_t)(q - p));
		W.rows += n;
		W.bytes += (size_t)(q - p);
		p = q;
		if (p < end || W.rows >= W.limit)
			rotate();
	}
	pthread_mutex_unlock(&W.io);
	pthread_mutex_lock(&W.mu);
	if (!W.spare && W.open) {
		W.spare = buf, W.sparecap = cap;
		buf = NULL;
	}
	pthread_mutex_unlock(&W.mu);
	free(buf);
}

void
window_flush(void)
{
	flush(0);
}

/* ISO time of now, formatted once a second per thread */
static void
now_iso(char ts[21])
{
	static _Thread_local time_t last = -1;
	static _Thread_local char cache[21];
	time_t t = time(NULL);

	if (t != last) {
		ch_iso8601(t, cache);
		last = t;
	}
	memcpy(ts, cache, 21);
}

void
window_add(const struct ch_schema *s, json_t *obj, json_t *const *vals,
    double p, const char *version)
{
	window_add_shadow(s, obj, vals, p, version, 0, NULL);
}

/*
 * The row's line written straight into a buffer, byte for byte what
 * json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) makes of the object
 * window_add_shadow would build (building and dumping it took a quarter
 * of a request's time).  Only for the plain case: keys and versions of
 * printable ASCII without quote or backslash (as jansson writes them
 * unescaped); ok is cleared for anything else, or when buf is full, and
 * the object is built after all.
 */
struct line {
	char *buf;
	size_t len, cap;
	int ok;
};

static int
plain(const char *t, size_t n)
{
	return ch_json_plain(t, n, 1) == n;
}

static void
put(struct line *l, const char *t, size_t n)
{
	if (!l->ok || n > l->cap - l->len) {
		l->ok = 0;
		return;
	}
	memcpy(l->buf + l->len, t, n);
	l->len += n;
}

/* ,"key": (no comma first) */
static void
put_key(struct line *l, const char *k)
{
	size_t n = strlen(k);
	char *o = l->buf + l->len;

	if (!l->ok || n + 4 > l->cap - l->len || !plain(k, n)) {
		l->ok = 0;
		return;
	}
	if (l->len > 1)
		*o++ = ',';
	*o++ = '"';
	memcpy(o, k, n);
	o += n;
	*o++ = '"';
	*o++ = ':';
	l->len = (size_t)(o - l->buf);
}

static void
put_value(struct line *l, json_t *v)
{
	size_t n;

	if (!l->ok)
		return;
	if (json_is_string(v) && (n = json_string_length(v)) + 2 <=
	    l->cap - l->len && plain(json_string_value(v), n)) {
		char *o = l->buf + l->len;

		o[0] = '"';
		memcpy(o + 1, json_string_value(v), n);
		o[n + 1] = '"';
		l->len += n + 2;
		return;
	}
	n = json_dumpb(v, l->buf + l->len, l->cap - l->len, JSON_COMPACT |
	    JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (n == 0 || n > l->cap - l->len)
		l->ok = 0;
	else
		l->len += n;
}

/* "key":p, left out as json_object_set_new leaves out json_real(NAN);
 * p's text is jansson's (jsonp_dtostr: "%.17g", ".0" added to an
 * integer's digits, the exponent without '+' or leading zeros), from
 * ch_g17 rather than printf */
static void
put_real(struct line *l, const char *k, double p)
{
	char t[40], *e, *d;
	size_t n;

	if (!isfinite(p))
		return;
	n = ch_g17(p, t);
	if ((e = strchr(t, 'e'))) {
		d = ++e;
		if (*e == '-' || *e == '+')
			d++;
		if (*e == '-')
			e++;
		while (*d == '0' && d[1])
			d++;
		memmove(e, d, (size_t)(t + n + 1 - d));
		n = strlen(t);
	} else if (!strchr(t, '.')) {
		memcpy(t + n, ".0", 3);
		n += 2;
	}
	put_key(l, k);
	put(l, t, n);
}

static void
put_text(struct line *l, const char *k, const char *t)
{
	size_t n = strlen(t);

	put_key(l, k);
	if (!plain(t, n))
		l->ok = 0;
	put(l, "\"", 1);
	put(l, t, n);
	put(l, "\"", 1);
}

static int
fast_line(struct line *l, const struct ch_schema *s, json_t *obj,
    json_t *const *vals, double p, const char *version, double p2,
    const char *version2, const char *ts)
{
	json_t *id = s->id ? json_object_get(obj, s->id) : NULL;
	int i;

	put(l, "{", 1);
	if (id) {
		put_key(l, s->id);
		put_value(l, id);
	}
	for (i = 0; i < s->nfeat && l->ok; i++) {
		/* the id set again keeps its place and value (names compared
		 * only for the value that is the id's) */
		if (id && vals[i] == id && !strcmp(s->f[i].name, s->id))
			continue;
		if (vals[i]) {
			put_key(l, s->f[i].name);
			put_value(l, vals[i]);
		}
	}
	put_real(l, "churn_probability", p);
	put_text(l, "model_version", version);
	if (version2) {
		put_real(l, "challenger_probability", p2);
		put_text(l, "challenger_version", version2);
	}
	put_text(l, "time", ts);
	put(l, "}", 1);
	return l->ok;
}

void
window_add_shadow(const struct ch_schema *s, json_t *obj, json_t *const *vals,
    double p, const char *version, double p2, const char *version2)
{
	json_t *row, *id, **own = NULL;
	char ts[21], *line, fast[4096];
	struct line l = { fast, 0, sizeof fast, 1 };
	int i;

	if (!W.open)
		return;
	if (!vals)
		vals = own = ch_json_fields_new(s, obj);
	now_iso(ts);
	if (fast_line(&l, s, obj, vals, p, version, p2, version2, ts)) {
		append(l.buf, l.len, "", 0);
		free(own);
		return;
	}
	row = json_object();
	if (s->id && (id = json_object_get(obj, s->id)))
		json_object_set(row, s->id, id);
	for (i = 0; i < s->nfeat; i++)
		if (vals[i])
			json_object_set(row, s->f[i].name, vals[i]);
	free(own);
	json_object_set_new(row, "churn_probability", json_real(p));
	json_object_set_new(row, "model_version", json_string(version));
	if (version2) {
		json_object_set_new(row, "challenger_probability", json_real(p2));
		json_object_set_new(row, "challenger_version",
		    json_string(version2));
	}
	json_object_set_new(row, "time", json_string(ts));
	line = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(row);
	if (!line)
		return;
	append(line, strlen(line), "", 0);
	free(line);
}

/* A drift check's view of the window: the two files as they were when it
 * was opened (their sizes then; rows appended since are not read), or the
 * database read a page of rows at a time. */
#define PAGE_ROWS 1000
struct window_reader {
	int fd[2];
	off_t left[2];
	int db;
	long keep, after, rows;
	char *page;                 /* database: the current page */
	size_t plen, poff;
	int end;                    /* database: no more pages */
	int failed;                 /* database: a page could not be read */
	struct ch_err e;
};

static int
next_page(struct window_reader *wr, struct ch_err *e)
{
	long n = 0;

	free(wr->page);
	wr->page = reg_window_page(wr->keep, wr->after, PAGE_ROWS, &wr->after,
	    &wr->plen, &n, e);
	wr->poff = 0;
	if (!wr->page)
		return -1;
	wr->rows += n;
	wr->end = n < PAGE_ROWS;
	return 0;
}

struct window_reader *
window_reader_open(long *rows, size_t *bytes, struct ch_err *e)
{
	struct window_reader *wr = ch_calloc(1, sizeof *wr);
	const char *path[2];
	int i;

	wr->fd[0] = wr->fd[1] = -1;
	*rows = 0;
	*bytes = 0;
	if (W.db && W.open) {
		flush(1);
		wr->db = 1;
		wr->keep = 2 * W.limit;
		wr->after = 0;
		if (next_page(wr, e) != 0) {
			free(wr);
			return NULL;
		}
		*rows = wr->rows;       /* the first page's: "some" or none */
		*bytes = wr->plen;
		return wr;
	}
	window_flush();
	pthread_mutex_lock(&W.io);
	path[0] = W.old, path[1] = W.cur;
	for (i = 0; i < 2 && W.cur; i++) {
		struct stat st;

		if ((wr->fd[i] = open(path[i], O_RDONLY | O_CLOEXEC)) < 0)
			continue;       /* no older file yet */
		wr->left[i] = fstat(wr->fd[i], &st) == 0 ? st.st_size : 0;
		*bytes += (size_t)wr->left[i];
	}
	*rows = W.rows + W.oldrows;
	pthread_mutex_unlock(&W.io);
	return wr;
}

ssize_t
window_feed(void *arg, char *buf, size_t n)
{
	struct window_reader *wr = arg;
	int i;

	if (wr->db) {
		while (wr->poff == wr->plen) {
			if (wr->end)
				return 0;
			if (next_page(wr, &wr->e) != 0) {
				wr->failed = 1;
				return -1;
			}
		}
		if (n > wr->plen - wr->poff)
			n = wr->plen - wr->poff;
		memcpy(buf, wr->page + wr->poff, n);
		wr->poff += n;
		return (ssize_t)n;
	}
	for (i = 0; i < 2; i++) {
		ssize_t got;

		if (wr->fd[i] < 0 || wr->left[i] == 0)
			continue;
		if ((off_t)n > wr->left[i])
			n = (size_t)wr->left[i];
		while ((got = read(wr->fd[i], buf, n)) < 0 && errno == EINTR)
			;
		if (got <= 0) {
			wr->left[i] = 0;    /* cut short: go on with the next */
			continue;
		}
		wr->left[i] -= got;
		return got;
	}
	return 0;
}

long
window_reader_close(struct window_reader *wr, struct ch_err *e)
{
	long rows;

	if (!wr)
		return 0;
	rows = wr->rows;
	if (wr->failed) {
		*e = wr->e;
		rows = -1;
	}
	if (wr->fd[0] >= 0)
		close(wr->fd[0]);
	if (wr->fd[1] >= 0)
		close(wr->fd[1]);
	free(wr->page);
	free(wr);
	return rows;
}

void
window_close(void)
{
	flush(1);
	W.open = 0;
	if (W.pending > 0)      /* the database was down to the end */
		slog("warn", "window rows lost: the database cannot take them",
		    json_pack("{s:I}", "rows", (json_int_t)W.pending));
	free(W.buf);
	free(W.spare);
	W.buf = W.spare = NULL;
	W.len = W.cap = W.sparecap = 0;
	W.pending = 0;
	pthread_mutex_lock(&W.io);
	if (W.fd >= 0)
		close(W.fd);
	W.fd = -1;
	pthread_mutex_unlock(&W.io);
	free(W.cur);
	free(W.old);
	W.cur = W.old = NULL;
}
