/* window.c - the live-traffic window: scored rows as JSON lines in a
 * bounded pair of rotating files, for drift checks over real traffic */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"

/*
 * Rows go to DIR/window.jsonl; when it holds `rows` lines it becomes
 * DIR/window.1.jsonl (replacing the older one) and a new file starts, so
 * the window holds between rows and 2 * rows of the latest rows.  Each
 * line is one flat JSON object: the raw feature values as posted, with
 * "churn_probability", "model_version" and "time" - the shape
 * `churn-drift --json-in` reads (unknown keys are ignored).
 * Writes are buffered; window_flush (run every second by the caller) and
 * window_snapshot push them out.
 */
static struct {
	pthread_mutex_t mu;
	FILE *fp;
	char *cur, *old;
	long rows, limit;
	long oldrows;
} W = { .mu = PTHREAD_MUTEX_INITIALIZER };

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

int
window_open(const char *dir, long rows, struct ch_err *e)
{
	size_t n = strlen(dir) + 32;

	W.cur = ch_malloc(n);
	W.old = ch_malloc(n);
	snprintf(W.cur, n, "%s/window.jsonl", dir);
	snprintf(W.old, n, "%s/window.1.jsonl", dir);
	W.limit = rows > 0 ? rows : 10000;
	if (!(W.fp = fopen(W.cur, "ae")))
		return ch_errf(e, "%s: %s", W.cur, strerror(errno));
	setvbuf(W.fp, NULL, _IOFBF, 1 << 18);   /* flushed every second */
	W.rows = count_lines(W.cur);
	W.oldrows = count_lines(W.old);
	return 0;
}

static void
rotate(void)
{
	fclose(W.fp);
	if (rename(W.cur, W.old) != 0)
		slog("error", "window rotate failed", json_pack("{s:s,s:s}",
		    "file", W.cur, "error", strerror(errno)));
	W.oldrows = W.rows;
	W.rows = 0;
	if (!(W.fp = fopen(W.cur, "ae")))
		slog("error", "window reopen failed", json_pack("{s:s,s:s}",
		    "file", W.cur, "error", strerror(errno)));
	else
		setvbuf(W.fp, NULL, _IOFBF, 1 << 18);
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
window_add(const struct ch_schema *s, json_t *obj, double p,
    const char *version)
{
	json_t *row = json_object(), *v;
	char ts[21], *line;
	int i;

	if (!W.fp && !W.cur)
		return;
	for (i = 0; i < s->nfeat; i++)
		if ((v = json_object_get(obj, s->f[i].name)))
			json_object_set(row, s->f[i].name, v);
	now_iso(ts);
	json_object_set_new(row, "churn_probability", json_real(p));
	json_object_set_new(row, "model_version", json_string(version));
	json_object_set_new(row, "time", json_string(ts));
	line = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(row);
	if (!line)
		return;
	pthread_mutex_lock(&W.mu);
	if (W.fp) {
		fputs(line, W.fp);
		putc('\n', W.fp);
		if (++W.rows >= W.limit)
			rotate();
	}
	pthread_mutex_unlock(&W.mu);
	free(line);
}

/* Fast path for one posted object: its own bytes (one line, the
 * customer as sent, unknown keys included) with the three fields put in
 * front, no re-encoding.  Falls back to window_add for anything else. */
void
window_add_raw(const struct ch_schema *s, json_t *obj, const char *body,
    size_t len, double p, const char *version)
{
	char head[160], ts[21];
	size_t i = 0;
	int n;

	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r'))
		i++;
	while (len > i && strchr(" \t\r\n", body[len - 1]))
		len--;
	if (i >= len || body[i] != '{' || body[len - 1] != '}' ||
	    memchr(body + i, '\n', len - i)) {
		window_add(s, obj, p, version);
		return;
	}
	now_iso(ts);
	n = snprintf(head, sizeof head, "{\"churn_probability\":%.6f,"
	    "\"model_version\":\"%s\",\"time\":\"%s\",", p, version, ts);
	i++;        /* past the body's '{' */
	pthread_mutex_lock(&W.mu);
	if (W.fp) {
		fwrite(head, 1, (size_t)n, W.fp);
		fwrite(body + i, 1, len - i, W.fp);
		putc('\n', W.fp);
		if (++W.rows >= W.limit)
			rotate();
	}
	pthread_mutex_unlock(&W.mu);
}

void
window_flush(void)
{
	pthread_mutex_lock(&W.mu);
	if (W.fp)
		fflush(W.fp);
	pthread_mutex_unlock(&W.mu);
}

static void
append_file(const char *path, char **buf, size_t *len)
{
	char *b;
	size_t n;

	if (!(b = ch_read_file(path, &n, NULL)))
		return;
	*buf = ch_realloc(*buf, *len + n + 1);
	memcpy(*buf + *len, b, n);
	*len += n;
	(*buf)[*len] = '\0';
	free(b);
}

char *
window_snapshot(size_t *len, long *rows)
{
	char *buf = ch_malloc(1);

	*len = 0;
	buf[0] = '\0';
	pthread_mutex_lock(&W.mu);
	if (W.fp)
		fflush(W.fp);
	if (W.cur) {
		append_file(W.old, &buf, len);
		append_file(W.cur, &buf, len);
	}
	if (rows)
		*rows = W.rows + W.oldrows;
	pthread_mutex_unlock(&W.mu);
	return buf;
}

void
window_close(void)
{
	pthread_mutex_lock(&W.mu);
	if (W.fp)
		fclose(W.fp);
	W.fp = NULL;
	pthread_mutex_unlock(&W.mu);
	free(W.cur);
	free(W.old);
	W.cur = W.old = NULL;
}
