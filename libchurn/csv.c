/* csv.c - streaming CSV records through libcsv */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>
#include <openssl/evp.h>

#include "csv.h"

#define CHUNK 65536

struct span {
	size_t off, len;
};

struct rec {
	size_t first, n;        /* fields [first, first + n) */
	long line;
};

struct ch_csv {
	FILE *fp;
	const char *mem;        /* or the input in memory (a parallel block) */
	size_t memlen, memoff;
	char *name;
	struct csv_parser p;
	EVP_MD_CTX *md;
	char *chunk;
	int bom_checked, eof;
	int after_cr;           /* the last byte fed was a CR */
	int libcsv_only;        /* no fast_line (tests compare the two) */
	long line;              /* line being fed to libcsv */
	long last;              /* line where the last record ended */
	size_t nread;           /* records handed out */

	char *const *hdr;       /* header names, for messages (or NULL) */
	size_t nhdr;
	char **own_hdr;         /* hdr when this reader read the header */
	int nul_scan;           /* a NUL byte was seen: fields are checked */
	int nul;                /* a field holds a NUL byte: */
	size_t nul_rec, nul_field; /* the record (index in rec) and field */
	long nul_line;

	char *arena;            /* field texts, NUL-terminated */
	size_t alen, acap;
	struct span *fld;       /* all fields in the arena */
	size_t nfld, fcap;
	struct rec *rec;        /* completed records */
	size_t nrec, rcap, next;
	size_t cur;             /* first field of the record being built */

	char **ptr;             /* handed out: pointers for one record */
	size_t *lens;
	size_t pcap;
};

/* Records field [off, off + len) of the arena (NUL-terminated there). */
static inline void
add_field(struct ch_csv *r, size_t off, size_t len)
{
	if (r->nul_scan && !r->nul && memchr(r->arena + off, '\0', len)) {
		r->nul = 1;
		r->nul_rec = r->nrec;
		r->nul_field = r->nfld - r->cur;
		r->nul_line = r->line;
	}
	if (r->nfld == r->fcap)
		r->fld = ch_reallocarray(r->fld, r->fcap *= 2, sizeof *r->fld);
	r->fld[r->nfld].off = off;
	r->fld[r->nfld].len = len;
	r->nfld++;
}

static void
arena_room(struct ch_csv *r, size_t n)
{
	while (r->alen + n > r->acap)
		r->arena = ch_realloc(r->arena, r->acap *= 2);
}

static void
on_field(void *s, size_t len, void *data)
{
	struct ch_csv *r = data;

	arena_room(r, len + 1);
	if (len)
		memcpy(r->arena + r->alen, s, len);
	r->arena[r->alen + len] = '\0';
	add_field(r, r->alen, len);
	r->alen += len + 1;
}

static void
on_record(int c, void *data)
{
	struct ch_csv *r = data;

	(void)c;
	if (r->nrec == r->rcap)
		r->rec = ch_reallocarray(r->rec, r->rcap *= 2, sizeof *r->rec);
	r->rec[r->nrec].first = r->cur;
	r->rec[r->nrec].n = r->nfld - r->cur;
	r->rec[r->nrec].line = r->last = r->line;
	r->nrec++;
	r->cur = r->nfld;
}

struct ch_csv *
ch_csv_open(FILE *fp, const char *name, struct ch_err *e)
{
	struct ch_csv *r = ch_calloc(1, sizeof *r);

	if (csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
		free(r);
		ch_errf(e, "%s: cannot set up the CSV parser", name);
		return NULL;
	}
	/* libcsv grows a field's buffer by blk_size bytes at a time; parse()
	 * keeps the step as large as the buffer, so a long field is copied
	 * O(log n) times, not O(n / 128) */
	csv_set_blk_size(&r->p, CHUNK);
	r->fp = fp;
	r->name = ch_strdup(strcmp(name, "-") == 0 ? "<stdin>" : name);
	r->md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(r->md, EVP_sha256(), NULL);
	r->chunk = ch_malloc(CHUNK);
	r->arena = ch_malloc(r->acap = CHUNK);
	r->fld = ch_malloc((r->fcap = 256) * sizeof *r->fld);
	r->rec = ch_malloc((r->rcap = 64) * sizeof *r->rec);
	r->line = 1;
	return r;
}

/* Drops the records handed out, keeping the fields of the partial one. */
static void
compact(struct ch_csv *r)
{
	size_t i, base, nkeep = r->nfld - r->cur;

	base = nkeep ? r->fld[r->cur].off : r->alen;
	memmove(r->arena, r->arena + base, r->alen - base);
	r->alen -= base;
	for (i = 0; i < nkeep; i++) {
		r->fld[i] = r->fld[r->cur + i];
		r->fld[i].off -= base;
	}
	r->nfld = nkeep;
	r->cur = 0;
	if (r->nul)
		r->nul_rec -= r->nrec;
	r->nrec = r->next = 0;
}

/*
 * Line ends: LF, CRLF and a lone CR each end a line (libcsv ends records
 * at all three).  A scan finds the next line end from increasing offsets
 * with one memchr pass over the buffer for each of LF and CR.
 */
struct scan {
	const char *buf;
	size_t n, nl, cr;       /* offsets of the next LF and CR (n: none) */
};

static size_t
find(const char *buf, size_t from, size_t n, int c)
{
	const char *p = memchr(buf + from, c, n - from);

	return p ? (size_t)(p - buf) : n;
}

static void
scan_init(struct scan *z, const char *buf, size_t n)
{
	z->buf = buf;
	z->n = n;
	z->nl = find(buf, 0, n, '\n');
	z->cr = find(buf, 0, n, '\r');
}

/* Offset of the first line end at or after i, or n. */
static size_t
scan_next(struct scan *z, size_t i)
{
	if (z->nl < i)
		z->nl = find(z->buf, i, z->n, '\n');
	if (z->cr < i)
		z->cr = find(z->buf, i, z->n, '\r');
	return z->nl < z->cr ? z->nl : z->cr;
}

/* Offset just past the line end at j (a CR takes the LF after it), or 0
 * when a CR ends buf[0..n) and more input may follow. */
static size_t
past_eol(const char *buf, size_t j, size_t n, int eof)
{
	if (buf[j] == '\n')
		return j + 1;
	if (j + 1 < n)
		return j + 1 + (buf[j + 1] == '\n');
	return eof ? j + 1 : 0;
}

/* libcsv's default space test: trimmed from both ends of unquoted fields */
#define SPACE(c) ((c) == ' ' || (c) == '\t')

/*
 * The common record: a whole line s[0..n) (its line end not included)
 * without a quote, read while libcsv is between records.  It gives what
 * libcsv gives for it: fields split at commas, spaces and tabs trimmed
 * from both ends of each, and no record for a line of only spaces.
 */
/* Field a[start..end) of the line at the arena's end, trimmed. */
static inline void
fast_field(struct ch_csv *r, char *a, size_t start, size_t end)
{
	size_t b, t;

	for (b = start; b < end && SPACE(a[b]); b++)
		;
	for (t = end; t > b && SPACE(a[t - 1]); t--)
		;
	a[t] = '\0';
	add_field(r, r->alen + b, t - b);
}

#define ONES (~(uint64_t)0 / 255)       /* 0x0101...01 */

static void
fast_line(struct ch_csv *r, const char *s, size_t n)
{
	char *a;
	size_t b, base, start = 0;
	uint64_t w, m;

	arena_room(r, n + 8);
	a = r->arena + r->alen;
	memcpy(a, s, n);
	memset(a + n, 0, 8);    /* the last word read whole */
	if (!memchr(a, ',', n)) {
		for (b = 0; b < n && SPACE(a[b]); b++)
			;
		if (b == n)
			return;
	}
	/* commas 8 bytes at a time: m has the high bit of each comma byte */
	for (base = 0; base < n; base += 8) {
		memcpy(&w, a + base, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		w ^= ',' * ONES;
		m = ~(((w & 0x7f * ONES) + 0x7f * ONES) | w | 0x7f * ONES);
		for (; m; m &= m - 1) {
			b = base + ((size_t)__builtin_ctzll(m) >> 3);
			fast_field(r, a, start, b);
			start = b + 1;
		}
	}
	fast_field(r, a, start, n);
	r->alen += n + 1;
	on_record(0, r);
}

/* Feeds s[0..n) to libcsv a line at a time, counting lines; whole lines
 * without a quote that start a record are split here (fast_line). */
static int
parse(struct ch_csv *r, const char *s, size_t n, struct ch_err *e)
{
	struct scan z;
	size_t i = 0, j, seg;
	int quotes = memchr(s, '"', n) != NULL;

	scan_init(&z, s, n);
	while (i < n) {
		j = scan_next(&z, i);
		seg = j < n ? j + 1 - i : n - i;
		/* libcsv is between records (its parser state ROW_NOT_BEGUN,
		 * 0 in every libcsv release) */
		if (!r->libcsv_only && j < n && r->p.pstate == 0 &&
		    (!quotes || !memchr(s + i, '"', j - i))) {
			fast_line(r, s + i, j - i);
		} else {
			if (csv_get_buffer_size(&r->p) > CHUNK)
				csv_set_blk_size(&r->p, csv_get_buffer_size(&r->p));
			if (csv_parse(&r->p, s + i, seg, on_field, on_record,
			    r) != seg)
				return ch_errf(e, "%s:%ld: malformed CSV: %s",
				    r->name, r->line, csv_error(&r->p) == CSV_EPARSE ?
				    "a quote inside an unquoted field, or text after a closing quote" :
				    csv_strerror(csv_error(&r->p)));
		}
		/* the LF of a CRLF split between two chunks ends no line */
		if (j < n && !(s[j] == '\n' && seg == 1 && r->after_cr))
			r->line++;
		r->after_cr = j < n && s[j] == '\r';
		i += seg;
	}
	return 0;
}

/* The one message for a NUL byte in the input. */
static int
nul_error(const struct ch_csv *r, struct ch_err *e)
{
	if (r->hdr && r->nul_field < r->nhdr)
		return ch_errf(e, "%s:%ld: column '%s': a NUL byte in the value",
		    r->name, r->nul_line, r->hdr[r->nul_field]);
	return ch_errf(e, "%s:%ld: column %zu: a NUL byte in the value",
	    r->name, r->nul_line, r->nul_field + 1);
}

int
ch_csv_next(struct ch_csv *r, struct ch_record *rec, struct ch_err *e)
{
	struct rec *x;
	size_t i, n;
	const char *s, *in;

	while (r->next == r->nrec || (r->nul && r->next == r->nul_rec)) {
		if (r->nul && r->next == r->nul_rec && r->next < r->nrec)
			return nul_error(r, e);
		if (r->eof)
			return 0;
		compact(r);
		if (r->mem) {
			n = r->memlen - r->memoff < CHUNK ?
			    r->memlen - r->memoff : CHUNK;
			in = r->mem + r->memoff;
			r->memoff += n;
		} else {
			n = fread(r->chunk, 1, CHUNK, r->fp);
			in = r->chunk;
		}
		if (n == 0) {
			if (!r->mem && ferror(r->fp))
				return ch_errf(e, "read %s: %s", r->name,
				    strerror(errno));
			r->eof = 1;
			if (csv_fini(&r->p, on_field, on_record, r) != 0)
				return ch_errf(e, "%s:%ld: malformed CSV: "
				    "a quoted field is not closed", r->name,
				    r->last + 1);
			continue;
		}
		if (r->md)
			EVP_DigestUpdate(r->md, in, n);
		if (!r->nul_scan && memchr(in, '\0', n))
			r->nul_scan = 1;
		s = in;
		if (!r->bom_checked) {
			r->bom_checked = 1;
			if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
				s += 3, n -= 3;
		}
		if (parse(r, s, n, e) != 0)
			return -1;
	}
	x = &r->rec[r->next++];
	if (x->n > r->pcap) {
		r->pcap = x->n * 2;
		r->ptr = ch_reallocarray(r->ptr, r->pcap, sizeof *r->ptr);
		r->lens = ch_reallocarray(r->lens, r->pcap, sizeof *r->lens);
	}
	for (i = 0; i < x->n; i++) {
		r->ptr[i] = r->arena + r->fld[x->first + i].off;
		r->lens[i] = r->fld[x->first + i].len;
	}
	rec->field = r->ptr;
	rec->len = r->lens;
	rec->n = x->n;
	rec->line = x->line;
	r->nread++;
	return 1;
}

int
ch_csv_header(struct ch_csv *r, struct ch_record *hdr, struct ch_err *e)
{
	size_t i, j;
	int rc = ch_csv_next(r, hdr, e);

	if (rc < 0)
		return -1;
	if (rc == 0)
		return ch_errf(e, "%s: empty file (no header)", r->name);
	r->own_hdr = ch_calloc(hdr->n + 1, sizeof *r->own_hdr);
	for (i = 0; i < hdr->n; i++)
		r->own_hdr[i] = ch_strndup(hdr->field[i], hdr->len[i]);
	r->hdr = r->own_hdr;
	r->nhdr = hdr->n;
	r->nread = 0;
	for (i = 0; i < hdr->n; i++)
		for (j = 0; j < i; j++)
			if (strcmp(r->hdr[i], r->hdr[j]) == 0)
				return ch_errf(e, "%s:%ld: column '%s' appears twice",
				    r->name, hdr->line, r->hdr[i]);
	return 0;
}

void
ch_csv_libcsv_only(struct ch_csv *r)
{
	r->libcsv_only = 1;
}

size_t
ch_csv_rows(const struct ch_csv *r)
{
	return r->nread;
}

const char *
ch_csv_name(const struct ch_csv *r)
{
	return r->name;
}

void
ch_csv_sha256(struct ch_csv *r, char hex[65])
{
	EVP_MD_CTX *copy = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_MD_CTX_copy_ex(copy, r->md);
	EVP_DigestFinal_ex(copy, md, &len);
	EVP_MD_CTX_free(copy);
	ch_hex(md, 32, hex);
}

void
ch_csv_close(struct ch_csv *r)
{
	if (!r)
		return;
	ch_strv_free(r->own_hdr);
	csv_free(&r->p);
	EVP_MD_CTX_free(r->md);
	free(r->name);
	free(r->chunk);
	free(r->arena);
	free(r->fld);
	free(r->rec);
	free(r->ptr);
	free(r->lens);
	free(r);
}

/* parallel parsing */

#define BLOCK (4u << 20)

struct job {
	char *data;
	size_t len;
	long line;
	void *result;
	size_t rows;            /* records the block read */
	int rc, done;
	struct ch_err err;
};

struct par {
	const struct ch_csv_ops *ops;
	void *ctx;
	const char *name;
	char **hdr;             /* header names, for the blocks' messages */
	size_t nhdr, rows;      /* rows: records of the blocks emitted */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *q;          /* ring of jobs, cap slots */
	size_t cap, head, next, tail; /* emit at head, workers take next, add at tail */
	int closed, stop;
};

static void *
worker(void *arg)
{
	struct par *p = arg;
	void *w = p->ops->worker_new ? p->ops->worker_new(p->ctx) : NULL;
	struct job *j;
	struct ch_csv *r;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->next == p->tail && !p->closed && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop || p->next == p->tail)
			break;
		j = &p->q[p->next++ % p->cap];
		pthread_mutex_unlock(&p->mu);

		j->result = NULL;
		r = ch_csv_open(NULL, p->name, &j->err);
		if (!r) {
			j->rc = -1;
		} else {
			r->mem = j->data;       /* read in place, not copied */
			r->memlen = j->len;
			r->line = j->line;
			r->bom_checked = 1;
			r->hdr = p->hdr;
			r->nhdr = p->nhdr;
			EVP_MD_CTX_free(r->md);   /* blocks need no fingerprint */
			r->md = NULL;
			j->rc = p->ops->block(w, r, &j->result, &j->err);
			j->rows = r->nread;
			ch_csv_close(r);
		}

		pthread_mutex_lock(&p->mu);
		j->done = 1;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	if (p->ops->worker_free)
		p->ops->worker_free(w);
	return NULL;
}

/* Quotes in buf[i..j). */
static size_t
count_quotes(const char *buf, size_t i, size_t j)
{
	const char *q = buf + i, *end = buf + j;
	size_t k = 0;

	while ((q = memchr(q, '"', (size_t)(end - q)))) {
		k++;
		q++;
	}
	return k;
}

/* Past the last line end in buf[from..n) (from if none), for a part
 * without quotes. */
static size_t
last_eol(const char *buf, size_t from, size_t n, int eof)
{
	size_t p;

	for (p = n; p > from; p--)
		if (buf[p - 1] == '\n' || (buf[p - 1] == '\r' && (p < n || eof)))
			return p;
	return from;
}

/* Length of the longest prefix of buf[0..n) made of whole records (0 if
 * none ends in it): up to the last line end preceded by an even number of
 * quotes, counting from the start of the block. */
static size_t
cut(const char *buf, size_t n, int eof)
{
	struct scan z;
	size_t i = 0, j, k, quotes = 0, best = 0;

	scan_init(&z, buf, n);
	while ((j = scan_next(&z, i)) < n) {
		quotes += count_quotes(buf, i, j);
		if (!(k = past_eol(buf, j, n, eof)))
			break;
		if (quotes % 2 == 0) {
			best = k;
			/* with no quote in the rest, the last line end is the cut */
			if (!memchr(buf + k, '"', n - k))
				return last_eol(buf, k, n, eof);
		}
		i = k;
	}
	return best;
}

/* Length of the first record of buf[0..n) with its line end, 0 if it does
 * not end in it. */
static size_t
first_record(const char *buf, size_t n, int eof)
{
	struct scan z;
	size_t i = 0, j, k, quotes = 0;

	scan_init(&z, buf, n);
	while ((j = scan_next(&z, i)) < n) {
		quotes += count_quotes(buf, i, j);
		if (!(k = past_eol(buf, j, n, eof)))
			return 0;
		if (quotes % 2 == 0)
			return k;
		i = k;
	}
	return 0;
}

/* Line ends in s[0..n), a block of whole lines. */
static long
count_lines(const char *s, size_t n)
{
	struct scan z;
	size_t i = 0, j;
	long k = 0;

	scan_init(&z, s, n);
	while ((j = scan_next(&z, i)) < n) {
		k++;
		i = j + 1 + (s[j] == '\r' && j + 1 < n && s[j + 1] == '\n');
	}
	return k;
}

/* Emits finished jobs at the head of the queue, in order; with wait, also
 * waits for the head job.  Called and returns with p->mu held. */
static int
emit_ready(struct par *p, int wait, struct ch_err *e)
{
	struct job *j;

	while (p->head < p->tail) {
		j = &p->q[p->head % p->cap];
		if (!j->done) {
			if (!wait)
				return 0;
			pthread_cond_wait(&p->cv, &p->mu);
			continue;
		}
		pthread_mutex_unlock(&p->mu);
		p->rows += j->rows;
		if (j->rc == 0)
			j->rc = p->ops->emit(p->ctx, j->result, &j->err);
		else if (p->ops->discard)
			p->ops->discard(p->ctx, j->result);
		free(j->data);
		pthread_mutex_lock(&p->mu);
		p->head++;
		if (j->rc != 0) {
			*e = j->err;
			return -1;
		}
	}
	return 0;
}

/* After an error: waits for the jobs workers hold, frees every result. */
static void
discard_all(struct par *p)
{
	struct job *j;

	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	while (p->head < p->tail) {
		j = &p->q[p->head % p->cap];
		if (!j->done && p->head < p->next) {
			pthread_cond_wait(&p->cv, &p->mu);
			continue;
		}
		if (j->done && p->ops->discard)
			p->ops->discard(p->ctx, j->result);
		free(j->data);
		p->head++;
	}
}

/* Reads and hands the header record to ops->header; returns its length
 * (BOM included) in *used. */
static int
read_header(struct par *p, char *buf, size_t have, int eof, size_t *used,
    struct ch_err *e)
{
	size_t off = 0, k;
	struct ch_csv *r;
	struct ch_record rec;
	FILE *fp;
	int rc;

	if (have >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		off = 3;
	k = first_record(buf + off, have - off, eof);
	if (k == 0 && !eof)
		return 1;       /* read more */
	if (k == 0)
		k = have - off;
	if (k == 0)
		return ch_errf(e, "%s: empty file (no header)", p->name);
	if (!(fp = fmemopen(buf + off, k, "r")))
		return ch_errf(e, "%s: fmemopen: %s", p->name, strerror(errno));
	if (!(r = ch_csv_open(fp, p->name, e))) {
		fclose(fp);
		return -1;
	}
	r->bom_checked = 1;
	rc = ch_csv_header(r, &rec, e);
	if (rc == 0) {
		p->hdr = r->own_hdr;    /* kept for the blocks */
		p->nhdr = rec.n;
		r->own_hdr = NULL;
		rc = p->ops->header(p->ctx, &rec, e);
	}
	ch_csv_close(r);
	fclose(fp);
	*used = off + k;
	return rc;
}

/* Hands buf[0..k) (whole records from line on) to the workers, waiting
 * for room in the queue and emitting what is ready meanwhile. */
static int
enqueue(struct par *p, const char *buf, size_t k, long line,
    struct ch_err *e)
{
	char *data = ch_malloc(k);
	int rc;

	memcpy(data, buf, k);
	pthread_mutex_lock(&p->mu);
	rc = emit_ready(p, 0, e);
	while (rc == 0 && p->tail - p->head == p->cap) {
		pthread_cond_wait(&p->cv, &p->mu);
		rc = emit_ready(p, 0, e);
	}
	if (rc == 0) {
		p->q[p->tail % p->cap] = (struct job){ .data = data, .len = k,
		    .line = line };
		p->tail++;
		pthread_cond_broadcast(&p->cv);
	} else
		free(data);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* Ends the run: the workers told to stop, what is left emitted (rc 0),
 * or dropped (rc not 0); text says bytes came after the header. */
static int
finish(struct par *p, int rc, int text, struct ch_err *e)
{
	pthread_mutex_lock(&p->mu);
	p->closed = 1;
	pthread_cond_broadcast(&p->cv);
	if (rc == 0)
		rc = emit_ready(p, 1, e);
	/* bytes after the header that gave no record (blank lines, or a
	 * reader at fault): never success */
	if (rc == 0 && text && p->rows == 0)
		rc = ch_errf(e, "%s: no data rows after the header", p->name);
	if (rc != 0)
		discard_all(p);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int
ch_csv_parallel(FILE *fp, const char *name, int jobs,
    const struct ch_csv_ops *ops, void *ctx, struct ch_err *e)
{
	struct par p = { .ops = ops, .ctx = ctx };
	pthread_t *tid;
	char *buf;
	size_t have = 0, cap = BLOCK + 1, n, k = 0;
	long line = 1;
	int i, nt = 0, rc = 0, eof = 0, header = 1;
	int text = 0;           /* bytes came after the header */

	p.name = strcmp(name, "-") == 0 ? "<stdin>" : name;
	if (jobs < 1)
		jobs = 1;
	p.cap = (size_t)jobs * 3;
	p.q = ch_calloc(p.cap, sizeof *p.q);
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	tid = ch_calloc((size_t)jobs, sizeof *tid);
	buf = ch_malloc(cap);

	while (rc == 0) {
		if (!eof && have < cap - 1) {
			n = fread(buf + have, 1, cap - 1 - have, fp);
			if (n == 0 && ferror(fp)) {
				rc = ch_errf(e, "read %s: %s", p.name, strerror(errno));
				break;
			}
			have += n;
			eof = have < cap - 1;
		}
		if (header) {
			rc = read_header(&p, buf, have, eof, &k, e);
			if (rc > 0) {   /* a header longer than the buffer */
				buf = ch_realloc(buf, cap *= 2);
				rc = 0;
				continue;
			}
			if (rc != 0)
				break;
			header = 0;
			for (i = 0; i < jobs; i++)
				if (pthread_create(&tid[i], NULL, worker, &p) == 0)
					nt++;
			if (nt == 0) {
				rc = ch_errf(e, "cannot start threads");
				break;
			}
		} else {
			k = cut(buf, have, eof);
			if (k == 0 && !eof) {   /* a record longer than the buffer */
				if (have == cap - 1)
					buf = ch_realloc(buf, cap *= 2);
				continue;
			}
			if (k == 0)
				k = have;   /* the last record, without a newline */
			if (k > 0) {
				text = 1;
				rc = enqueue(&p, buf, k, line, e);
			}
		}
		line += count_lines(buf, k);
		memmove(buf, buf + k, have - k);
		have -= k;
		if (eof && have == 0)
			break;
	}
	rc = finish(&p, rc, text, e);
	for (i = 0; i < nt; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
	free(tid);
	free(p.q);
	free(buf);
	ch_strv_free(p.hdr);
	return rc;
}
