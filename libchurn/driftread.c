/* driftread.c - data into drift counts: CSV (threaded) or JSON lines
 * Counts rows in the model's codes (unquoted files straight from the
 * text, on threads by byte range) and samples the prediction for
 * drift.c's report. */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "driftread.h"

#define LEVELS CH_DRIFT_LEVELS

/*
 * The prediction sample: a row whose code hash has t trailing zero bits
 * belongs to levels 0..t; level L holds about rows/2^L rows.  Every level's
 * row count is kept (n), and histograms for every level from the lowest
 * one still within the cap (level), so that at the end the lowest level
 * within the cap over all threads and shards is known exactly (settle).
 */
#define sampler ch_drift_sample
static uint64_t
codes_hash(const uint8_t *c, int n)
{
	uint64_t h = 1469598103934665603ull;
	int i;

	for (i = 0; i < n; i++)
		h = (h ^ c[i]) * 1099511628211ull;
	return ch_mix64(h);	/* FNV's low bits are weak */
}

#define BATCH 512          /* rows scored together (trees stay in cache) */
/* Counting context of one reader thread. */
struct counter {
	const struct ch_drift_read *r;
	const struct ch_cols *cols;
	struct ch_drift_side *d;
	uint8_t *codes;
	uint8_t *unseen;         /* [nfeat] the row's value is an unseen category */
	struct ch_feature pf;    /* bins of the churn probability */
	struct sampler *smp;
	uint8_t *batch;          /* [BATCH][nfeat] rows to score */
	uint8_t level[BATCH];    /* their hash levels */
	double prob[BATCH];
	int nbatch;
};

static void
counter_init(struct counter *k, const struct ch_drift_read *r,
    const struct ch_cols *cols, struct ch_drift_side *d, int level0)
{
	const struct ch_schema *s = r->schema;

	memset(k, 0, sizeof *k);
	k->r = r;
	k->cols = cols;
	k->d = d;
	k->codes = ch_calloc((size_t)s->nfeat, 1);
	k->unseen = ch_calloc((size_t)s->nfeat, 1);
	if (r->model && r->model->pred_ref.nbins > 1 &&
	    r->model->pred_ref.nbins <= CH_MISSING) {
		k->pf.type = CH_NUMERIC;
		k->pf.nbins = r->model->pred_ref.nbins;
		k->pf.edges = r->model->pred_ref.edges;
		k->smp = ch_calloc(1, sizeof *k->smp);
		k->smp->cap = r->pred_sample;
		k->smp->level = r->pred_sample ? level0 : 0;
		k->batch = ch_malloc((size_t)BATCH * (size_t)s->nfeat);
	}
}

static void
counter_free(struct counter *k)
{
	free(k->codes);
	free(k->unseen);
	free(k->smp);
	free(k->batch);
}

/* Scores the rows waiting in the batch. */
static void
flush(struct counter *k)
{
	struct sampler *s = k->smp;
	int i, L;
	uint8_t c;

	if (!k->nbatch)
		return;
	ch_model_predict_batch(k->r->model, k->batch, (size_t)k->nbatch,
	    k->prob, 1);
	for (i = 0; i < k->nbatch; i++) {
		c = ch_bin_numeric(&k->pf, k->prob[i]);
		/* levels below s->level were given up meanwhile */
		for (L = s->level; L <= k->level[i]; L++)
			s->hist[L][c]++;
	}
	k->nbatch = 0;
}

/* Queues the current row for scoring when it belongs to the sample. */
static void
score(struct counter *k)
{
	struct sampler *s = k->smp;
	int t = 0, L, nf = k->r->schema->nfeat;
	uint64_t h;

	if (s->cap) {
		h = codes_hash(k->codes, nf);
		t = h ? __builtin_ctzll(h) : 63;
		if (t >= LEVELS)
			t = LEVELS - 1;
		for (L = 0; L <= t; L++)
			s->n[L]++;
		if (t < s->level)
			return;
		while (s->n[s->level] > s->cap && s->level < LEVELS - 1)
			s->level++;
	} else
		s->n[0]++;
	memcpy(k->batch + (size_t)k->nbatch * (size_t)nf, k->codes, (size_t)nf);
	k->level[k->nbatch++] = (uint8_t)t;
	if (k->nbatch == BATCH)
		flush(k);
}

void
ch_drift_sample_merge(struct ch_drift_sample *a, const struct ch_drift_sample *b)
{
	int L, c;

	/* each histogram is complete from its own level up */
	if (b->level > a->level)
		a->level = b->level;
	for (L = 0; L < LEVELS; L++) {
		a->n[L] += b->n[L];
		if (L >= a->level)
			for (c = 0; c < 256; c++)
				a->hist[L][c] += b->hist[L][c];
	}
}

/* The level the sample settles at: the lowest whose rows fit the cap. */
static int
settle_level(const struct sampler *s)
{
	int L = 0;

	while (s->cap && L < LEVELS - 1 && s->n[L] > s->cap)
		L++;
	return L;
}

/* Takes the settled sample of s (or keeps it) into *to. */
static void
take_sample(struct sampler **to, struct sampler **s)
{
	if (!*s)
		return;
	if (!*to) {
		*to = *s;
		*s = NULL;
	} else
		ch_drift_sample_merge(*to, *s);
}

/* An unseen category: kept by name, not counted among the codes. */
static void
add_unseen(void *arg, int f, const char *s, size_t len)
{
	struct counter *k = arg;

	ch_drift_side_add_unseen(k->d, f, s, len, 1);
	k->unseen[f] = 1;
}

/* Counts the row encoded in k->codes. */
static void
tally(struct counter *k)
{
	int f;

	for (f = 0; f < k->r->schema->nfeat; f++) {
		if (k->unseen[f])
			k->unseen[f] = 0;
		else
			k->d->counts[f][k->codes[f]]++;
	}
	if (k->smp)
		score(k);
	k->d->rows++;
}

static int
count_record(struct counter *k, const struct ch_record *rec, const char *name,
    struct ch_err *e)
{
	int rc = ch_encode_record(k->r->schema, k->cols, rec, name, k->codes,
	    add_unseen, k, NULL, e);

	if (rc < 0)
		return -1;
	if (rc > 0)
		ch_drift_side_not_number(k->d, 1, rec->line, e->msg);
	tally(k);
	return 0;
}

/* Counts the records of one block. */
static int
count_csv(struct counter *k, struct ch_csv *csv, struct ch_err *e)
{
	struct ch_record rec;
	int rc;

	while ((rc = ch_csv_next(csv, &rec, e)) > 0)
		if (count_record(k, &rec, ch_csv_name(csv), e) != 0)
			return -1;
	if (k->smp)
		flush(k);
	return rc;
}

/*
 * CSV is parsed in blocks of whole records by ch_csv_parallel's threads,
 * each counting into a side of its own; the sides are added up at the
 * end (counts do not care about order).
 */
struct worker {
	struct counter k;
	struct ch_drift_side side;
};

struct csvctx {
	const struct ch_drift_read *r;
	const char *name;
	int level0;
	struct ch_cols cols;
	pthread_mutex_t mu;
	struct worker **w;
	int nw;
};

static int
csv_header(void *ctx, const struct ch_record *hdr, struct ch_err *e)
{
	struct csvctx *c = ctx;

	return ch_schema_map_header(c->r->schema, hdr->field, hdr->n, &c->cols,
	    c->name, e);
}

static void *
csv_worker_new(void *ctx)
{
	struct csvctx *c = ctx;
	struct worker *w = ch_calloc(1, sizeof *w);

	ch_drift_side_init(&w->side, c->r->schema);
	counter_init(&w->k, c->r, &c->cols, &w->side, c->level0);
	pthread_mutex_lock(&c->mu);
	c->w = ch_reallocarray(c->w, (size_t)c->nw + 1, sizeof *c->w);
	c->w[c->nw++] = w;
	pthread_mutex_unlock(&c->mu);
	return w;
}

static int
csv_block(void *worker, struct ch_csv *r, void **result, struct ch_err *e)
{
	*result = NULL;
	return count_csv(&((struct worker *)worker)->k, r, e);
}

static int
csv_emit(void *ctx, void *result, struct ch_err *e)
{
	(void)ctx;
	(void)result;
	(void)e;
	return 0;
}

/*
 * The fast path for a regular file without a quote, a NUL or a lone CR
 * after the header (nearly every export): threads take blocks of the file
 * by byte range, each counting the lines that start in its block, straight
 * from the text into codes (no records, no libcsv).  A line is split at
 * commas, spaces and tabs trimmed from both ends of each field, as libcsv
 * does, and only the model's columns are encoded (ch_encode_cell, the one
 * encoder).  Counts add up whatever the blocks, so the result is the
 * reader's.  Anything else (a quote, a NUL, a CR not ending a line, a
 * ragged row, a number that is not one, no rows, a header the full reader
 * would refuse) gives the whole file back to the full reader, which says
 * what it says today: this path never fails and never writes a message.
 */
#define FAST_BLOCK ((off_t)4 << 20)     /* bytes a thread takes at a time */
#define FAST_CHUNK ((size_t)1 << 20)    /* read at a time */
#define FAST_LINE  ((size_t)64 << 20)   /* a longer line: the full reader */

struct fast {
	const struct ch_drift_read *r;
	int fd;
	off_t body, size;               /* data rows: [body, size) */
	int *colfeat;                   /* [ncols] feature of a column, or -1 */
	size_t ncols;
	int level0;
	uint16_t (*cat)[256];           /* [nfeat] categorical: fast_cat's table */
	int *num;                       /* [nfeat] numeric: its cache, or -1 */
	int nnum;
	atomic_llong next;              /* next block to take */
	atomic_int bail;                /* give the file to the full reader */
};

/* a numeric feature's cache: text of 1 to 8 bytes (no NUL in it, so the
 * zero-padded bytes are the key; 0 is an empty slot) -> its code */
#define NUMCACHE_BITS 12
struct numcache {
	uint64_t key[1 << NUMCACHE_BITS];
	uint8_t code[1 << NUMCACHE_BITS];
};

struct fastworker {
	struct fast *x;
	struct counter k;
	struct ch_drift_side side;
	char *buf;
	size_t cap;
	int cr;                         /* a CR seen: lines may end in CRLF */
	struct numcache *nc;            /* [x->nnum] */
};

#define SPACE(c) ((c) == ' ' || (c) == '\t')

/*
 * A categorical feature's categories by a hash of a text's length and its
 * first and last bytes: the code + 1 of the one category there, 0 none,
 * 0xFFFF several.  Categories spelt like a missing value are left out.  A
 * hit still compares the whole text, and a miss asks ch_encode_cell, so
 * the code is always the encoder's.
 */
static unsigned
cat_hash(const char *s, size_t len)
{
	return (unsigned)(len * 7 + (unsigned char)s[0] * 3 +
	    (unsigned char)s[len - 1]) & 255;
}

static void
fast_cat_init(uint16_t *t, const struct ch_feature *f)
{
	unsigned h;
	int k;

	memset(t, 0, 256 * sizeof *t);
	for (k = 0; k < f->nbins; k++) {
		if (f->catlen[k] == 0 || ch_is_missing(f->cats[k], f->catlen[k]))
			continue;
		h = cat_hash(f->cats[k], f->catlen[k]);
		t[h] = t[h] ? 0xFFFF : (uint16_t)(k + 1);
	}
}

/* ch_encode_cell of feature f, through its table or cache first */
static int
fast_cell(struct fastworker *w, int f, const char *s, size_t len,
    uint8_t *code)
{
	const struct ch_feature *ft = &w->x->r->schema->f[f];
	struct numcache *c;
	uint64_t key = 0;
	unsigned h;
	int k, rc;

	if (len == 0)
		return ch_encode_cell(ft, s, len, code);
	if (w->x->cat) {
		k = w->x->cat[f][cat_hash(s, len)];
		if (k && k != 0xFFFF && ft->catlen[k - 1] == len &&
		    memcmp(ft->cats[k - 1], s, len) == 0) {
			*code = (uint8_t)(k - 1);
			return 0;
		}
	}
	if (w->x->num[f] < 0 || len > 8)
		return ch_encode_cell(ft, s, len, code);
	c = &w->nc[w->x->num[f]];
	memcpy(&key, s, len);
	h = (unsigned)((key * 0x9E3779B97F4A7C15ull) >> (64 - NUMCACHE_BITS));
	if (c->key[h] == key) {
		*code = c->code[h];
		return 0;
	}
	if ((rc = ch_encode_cell(ft, s, len, code)) == 0) {
		c->key[h] = key;
		c->code[h] = *code;
	}
	return rc;
}

/* Counts the line s[0..n) (its LF not included).  Returns 0, or -1 for a
 * line the fast path leaves to the full reader. */
static int
fast_line(struct fastworker *w, const char *s, size_t n)
{
	const char *p = s, *end = s + n, *c, *a, *b;
	size_t col = 0;
	int f, rc;

	if (w->cr) {
		if (n && s[n - 1] == '\r')
			end--, n--;
		if (memchr(s, '\r', n))
			return -1;
	}
	for (a = s; a < end && SPACE(*a); a++)
		;
	if (a == end)
		return 0;               /* blank: no record, as libcsv */
	for (;; p = c + 1) {
		if (!(c = memchr(p, ',', (size_t)(end - p))))
			c = end;
		if (col >= w->x->ncols)
			return -1;
		if ((f = w->x->colfeat[col++]) >= 0) {
			for (a = p; a < c && SPACE(*a); a++)
				;
			for (b = c; b > a && SPACE(b[-1]); b--)
				;
			rc = fast_cell(w, f, a, (size_t)(b - a), &w->k.codes[f]);
			if (rc < 0)
				return -1;
			if (rc > 0)
				add_unseen(&w->k, f, a, (size_t)(b - a));
		}
		if (c == end)
			break;
	}
	if (col != w->x->ncols)
		return -1;
	tally(&w->k);
	return 0;
}

/* Reads at off into w->buf after its first `keep` bytes, up to the
 * block's end `stop` (past it, what the last line needs); the bytes read
 * (0 at the end of the file), or -1. */
static ssize_t
fast_fill(struct fastworker *w, size_t keep, off_t off, off_t stop)
{
	size_t want = w->cap - keep;
	ssize_t n;

	if (off >= w->x->size)
		return 0;
	if ((off_t)want > w->x->size - off)
		want = (size_t)(w->x->size - off);
	if (stop - off > 4096 && (off_t)want > stop - off)
		want = (size_t)(stop - off);
	else if (stop - off <= 4096 && want > 4096)
		want = 4096;
	while ((n = pread(w->x->fd, w->buf + keep, want, off)) < 0 &&
	    errno == EINTR)
		;
	if (n < 0)
		return -1;
	if (memchr(w->buf + keep, '"', (size_t)n) ||
	    memchr(w->buf + keep, '\0', (size_t)n))
		return -1;
	if (!w->cr && memchr(w->buf + keep, '\r', (size_t)n))
		w->cr = 1;
	return n;
}

/* Counts the lines that start in [start, stop).  Returns 0 or -1. */
static int
fast_block(struct fastworker *w, off_t start, off_t stop)
{
	off_t off = start > w->x->body ? start - 1 : start; /* file offset of buf */
	size_t have = 0, i = 0;
	ssize_t n;
	char *nl;
	int skip = start > w->x->body;  /* the line under way is the last block's */

	for (;;) {
		if ((n = fast_fill(w, have, off + (off_t)have, stop)) < 0)
			return -1;
		have += (size_t)n;
		while (i < have) {
			nl = memchr(w->buf + i, '\n', have - i);
			if (!nl && n > 0)
				break;          /* read on */
			if (!skip && off + (off_t)i >= stop)
				return 0;
			if (!skip && fast_line(w, w->buf + i, nl ?
			    (size_t)(nl - w->buf) - i : have - i) != 0)
				return -1;
			skip = 0;
			if (!nl)
				return 0;       /* the last line, without a LF */
			i = (size_t)(nl - w->buf) + 1;
		}
		if (n == 0)
			return 0;
		/* keep the unfinished line, grow for a long one */
		memmove(w->buf, w->buf + i, have - i);
		off += (off_t)i;
		have -= i;
		i = 0;
		if (have == w->cap) {
			if (w->cap >= FAST_LINE)
				return -1;
			w->cap *= 2;
			w->buf = ch_realloc(w->buf, w->cap);
		}
	}
}

static void *
fast_thread(void *arg)
{
	struct fastworker *w = arg;
	struct fast *x = w->x;
	long long b;
	off_t start;

	while (!atomic_load(&x->bail)) {
		b = atomic_fetch_add(&x->next, 1);
		start = x->body + (off_t)b * FAST_BLOCK;
		if (start >= x->size)
			break;
		if (fast_block(w, start, start + FAST_BLOCK < x->size ?
		    start + FAST_BLOCK : x->size) != 0)
			atomic_store(&x->bail, 1);
	}
	if (w->k.smp && !atomic_load(&x->bail))
		flush(&w->k);
	return NULL;
}

/* Splits the header line s[0..n) as libcsv would (no quote in it) into
 * names; how many, or 0 when the full reader should read it. */
static size_t
fast_header(char *s, size_t n, char ***names)
{
	char *p = s, *end = s + n, *c, *a, *b;
	size_t k = 0, i, j;

	if (n && s[n - 1] == '\r')
		end--, n--;
	if (memchr(s, '"', n) || memchr(s, '\0', n) || memchr(s, '\r', n))
		return 0;
	for (a = s; a < end && SPACE(*a); a++)
		;
	if (a == end)
		return 0;
	*names = NULL;
	for (;; p = c + 1) {
		if (!(c = memchr(p, ',', (size_t)(end - p))))
			c = end;
		for (a = p; a < c && SPACE(*a); a++)
			;
		for (b = c; b > a && SPACE(b[-1]); b--)
			;
		*b = '\0';
		*names = ch_reallocarray(*names, k + 1, sizeof **names);
		(*names)[k++] = a;
		if (c == end)
			break;
	}
	for (i = 0; i < k; i++)
		for (j = 0; j < i; j++)
			if (strcmp((*names)[i], (*names)[j]) == 0) {
				free(*names);
				return 0;       /* "appears twice", from the reader */
			}
	return k;
}

/* Maps the header at x->body; 0 with x->body past it and x->colfeat set,
 * or -1. */
static int
fast_map(struct fast *x, const char *name)
{
	char head[65536], *nl, **names;
	struct ch_cols cols = { 0 };
	struct ch_err e;
	size_t n, i, skip = 0;
	ssize_t got;
	int f, rc = -1;

	if ((got = pread(x->fd, head, sizeof head - 1, x->body)) <= 0)
		return -1;
	if (got >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0)
		skip = 3;
	if (!(nl = memchr(head + skip, '\n', (size_t)got - skip)))
		return -1;
	if (!(n = fast_header(head + skip, (size_t)(nl - head) - skip, &names)))
		return -1;
	if (ch_schema_map_header(x->r->schema, names, n, &cols, name, &e) == 0) {
		x->ncols = n;
		x->colfeat = ch_malloc(n * sizeof *x->colfeat);
		for (i = 0; i < n; i++)
			x->colfeat[i] = -1;
		for (f = 0; f < x->r->schema->nfeat; f++)
			x->colfeat[cols.col[f]] = f;
		x->body += nl + 1 - head;
		rc = 0;
	}
	ch_cols_free(&cols);
	free(names);
	return rc;
}

/* The fast path: 1 when the file was counted into p, 0 when the full
 * reader must read it (nothing added to p). */
static int
read_fast(const struct ch_drift_read *r, FILE *fp, const char *name,
    struct ch_drift_profile *p, int level0)
{
	struct fast x = { .r = r, .fd = fileno(fp), .level0 = level0 };
	struct fastworker *w;
	pthread_t *tid;
	struct stat st;
	int i, nt, ok = 1, *started;
	size_t rows = 0;

	if (fstat(x.fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (x.body = ftello(fp)) < 0 || x.body >= st.st_size)
		return 0;
	x.size = st.st_size;
	if (fast_map(&x, name) != 0)
		return 0;
	atomic_init(&x.next, 0);
	atomic_init(&x.bail, 0);
	x.cat = ch_calloc((size_t)r->schema->nfeat, sizeof *x.cat);
	x.num = ch_calloc((size_t)r->schema->nfeat, sizeof *x.num);
	for (i = 0; i < r->schema->nfeat; i++) {
		x.num[i] = r->schema->f[i].type == CH_NUMERIC ? x.nnum++ : -1;
		if (r->schema->f[i].type == CH_CATEGORICAL)
			fast_cat_init(x.cat[i], &r->schema->f[i]);
	}
	nt = r->jobs < 1 ? 1 : r->jobs;
	if ((off_t)nt > (x.size - x.body) / FAST_BLOCK + 1)
		nt = (int)((x.size - x.body) / FAST_BLOCK + 1);
	w = ch_calloc((size_t)nt, sizeof *w);
	tid = ch_calloc((size_t)nt, sizeof *tid);
	started = ch_calloc((size_t)nt, sizeof *started);
	for (i = 0; i < nt; i++) {
		w[i].x = &x;
		w[i].cap = FAST_CHUNK;
		w[i].buf = ch_malloc(w[i].cap);
		w[i].nc = ch_calloc((size_t)x.nnum + 1, sizeof *w[i].nc);
		ch_drift_side_init(&w[i].side, r->schema);
		counter_init(&w[i].k, r, NULL, &w[i].side, level0);
	}
	/* a thread that does not start leaves its blocks to the others */
	for (i = 1; i < nt; i++)
		started[i] = pthread_create(&tid[i], NULL, fast_thread, &w[i]) == 0;
	fast_thread(&w[0]);
	for (i = 1; i < nt; i++)
		if (started[i])
			pthread_join(tid[i], NULL);
	for (i = 0; i < nt; i++)
		rows += w[i].side.rows;
	if (atomic_load(&x.bail) || rows == 0)
		ok = 0;
	for (i = 0; i < nt; i++) {
		if (ok) {
			ch_drift_side_merge(&p->side, &w[i].side);
			take_sample(&p->smp, &w[i].k.smp);
		}
		counter_free(&w[i].k);
		ch_drift_side_free(&w[i].side);
		free(w[i].buf);
		free(w[i].nc);
	}
	free(w);
	free(tid);
	free(started);
	free(x.colfeat);
	free(x.cat);
	free(x.num);
	return ok;
}

static int
read_csv(const struct ch_drift_read *r, FILE *fp, const char *name,
    struct ch_drift_profile *p, int level0, struct ch_err *e)
{
	static const struct ch_csv_ops ops = {
		.header = csv_header,
		.worker_new = csv_worker_new,
		.block = csv_block,
		.emit = csv_emit,
	};
	struct csvctx c = { .r = r, .name = name, .level0 = level0 };
	int i, rc;

	if (read_fast(r, fp, name, p, level0))
		return 0;
	pthread_mutex_init(&c.mu, NULL);
	rc = ch_csv_parallel(fp, name, r->jobs, &ops, &c, e);
	for (i = 0; i < c.nw && rc == 0; i++) {
		ch_drift_side_merge(&p->side, &c.w[i]->side);
		take_sample(&p->smp, &c.w[i]->k.smp);
	}
	for (i = 0; i < c.nw; i++) {
		counter_free(&c.w[i]->k);
		ch_drift_side_free(&c.w[i]->side);
		free(c.w[i]);
	}
	pthread_mutex_destroy(&c.mu);
	free(c.w);
	ch_cols_free(&c.cols);
	return rc;
}

/* JSON lines: one object a line, a key for every feature */
static int
count_json(struct counter *k, json_t *o, const char *name, long line,
    struct ch_err *e)
{
	struct ch_err why;
	char msg[sizeof why.msg + 64];
	int rc = ch_encode_json(k->r->schema, o, k->codes, add_unseen, k, NULL,
	    &why);

	if (rc < 0)
		return ch_errf(e, "%s:%ld: %s", name, line, why.msg);
	if (rc > 0) {
		snprintf(msg, sizeof msg, "%s:%ld: %s", name, line, why.msg);
		ch_drift_side_not_number(k->d, 1, line, msg);
	}
	tally(k);
	return 0;
}

static int
read_json_lines(const struct ch_drift_read *r, FILE *fp, const char *name,
    struct ch_drift_profile *p, int level0, struct ch_err *e)
{
	struct counter k;
	json_error_t je;
	char *line = NULL;
	size_t cap = 0, i;
	ssize_t n;
	long ln = 0;
	json_t *o;
	int rc = 0;

	counter_init(&k, r, NULL, &p->side, level0);
	while ((n = getline(&line, &cap, fp)) > 0) {
		ln++;
		for (i = 0; i < (size_t)n && strchr(" \t\r\n", line[i]); i++)
			;
		if (i == (size_t)n)
			continue;
		if (!(o = json_loadb(line, (size_t)n, JSON_DECODE_ANY, &je))) {
			rc = ch_errf(e, "%s:%ld: %s", name, ln, je.text);
			break;
		}
		rc = count_json(&k, o, name, ln, e);
		json_decref(o);
		if (rc)
			break;
	}
	if (rc == 0 && ferror(fp))
		rc = ch_errf(e, "read %s: %s", name, strerror(errno));
	if (rc == 0 && k.smp)
		flush(&k);
	if (rc == 0)
		take_sample(&p->smp, &k.smp);
	counter_free(&k);
	free(line);
	return rc;
}

/*
 * The sample level to start at for a regular file: the lowest whose
 * expected rows (the file's size over the mean line length of its first
 * 64 KiB) fit the cap, so that rows are scored once rather than at every
 * level on the way up.  0 when the size is unknown.
 */
static int
start_level(int fd, uint64_t cap)
{
	char buf[65536];
	struct stat st;
	uint64_t est;
	ssize_t n, i, nl = 0;
	int L = 0;

	if (cap == 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (n = pread(fd, buf, sizeof buf, 0)) <= 0)
		return 0;
	for (i = 0; i < n; i++)
		nl += buf[i] == '\n';
	if (nl == 0)
		return 0;
	est = (uint64_t)st.st_size * (uint64_t)nl / (uint64_t)n;
	while (L < LEVELS - 1 && (est >> L) > cap)
		L++;
	return L;
}

void
ch_drift_profile_init(struct ch_drift_profile *p, const struct ch_schema *s)
{
	ch_drift_side_init(&p->side, s);
	p->smp = NULL;
	p->loaded = 0;
}

void
ch_drift_profile_free(struct ch_drift_profile *p)
{
	ch_drift_side_free(&p->side);
	free(p->smp);
	p->smp = NULL;
}

static int
read_once(const struct ch_drift_read *r, FILE *fp, const char *name,
    struct ch_drift_profile *p, int level0, struct ch_err *e)
{
	return r->json_lines ? read_json_lines(r, fp, name, p, level0, e) :
	    read_csv(r, fp, name, p, level0, e);
}

int
ch_drift_read_profile(const struct ch_drift_read *r, FILE *fp,
    const char *path, struct ch_drift_profile *p, struct ch_err *e)
{
	const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
	struct ch_drift_profile t;
	int rc, level0 = 0, own = 0, L;
	off_t at;

	if (!fp) {
		if (!(fp = fopen(path, "r")))
			return ch_errf(e, "open %s: %s", path, strerror(errno));
		own = 1;
	}
	if (r->model)
		level0 = start_level(fileno(fp), r->pred_sample);
	at = level0 ? ftello(fp) : 0;
	ch_drift_profile_init(&t, r->schema);
	rc = read_once(r, fp, name, &t, level0, e);
	if (rc == 0 && t.smp && (L = settle_level(t.smp)) < t.smp->level) {
		/* the start level overshot: the levels below it have no
		 * histogram, so read again from the settled one (a regular
		 * file, so it seeks) */
		ch_drift_profile_free(&t);
		ch_drift_profile_init(&t, r->schema);
		if (fseeko(fp, at, SEEK_SET) != 0)
			rc = ch_errf(e, "seek %s: %s", name, strerror(errno));
		else
			rc = read_once(r, fp, name, &t, L, e);
	}
	if (own)
		fclose(fp);
	if (rc == 0 && t.side.rows == 0 && !r->allow_empty)
		rc = ch_errf(e, "%s: no rows", name);
	if (rc == 0) {
		ch_drift_side_merge(&p->side, &t.side);
		take_sample(&p->smp, &t.smp);
	}
	ch_drift_profile_free(&t);
	return rc;
}

int
ch_drift_profile_settle(struct ch_drift_profile *p, struct ch_err *e)
{
	int L, c;

	if (!p->smp)
		return 0;
	L = settle_level(p->smp);
	if (L < p->smp->level)
		return ch_errf(e, "the prediction sample settles at level %d, "
		    "below the %d its counts start at", L, p->smp->level);
	p->side.has_pred = 1;
	for (c = 0; c < 256; c++)
		p->side.pred[c] += p->smp->hist[L][c];
	return 0;
}

int
ch_drift_read(const struct ch_drift_read *r, FILE *fp, const char *path,
    struct ch_drift_side *d, struct ch_err *e)
{
	struct ch_drift_profile p;
	int rc;

	ch_drift_profile_init(&p, r->schema);
	rc = ch_drift_read_profile(r, fp, path, &p, e);
	if (rc == 0)
		rc = ch_drift_profile_settle(&p, e);
	if (rc == 0)
		ch_drift_side_merge(d, &p.side);
	ch_drift_profile_free(&p);
	return rc;
}

/* profile files: the counts of one shard, merged by churn-drift */

#define PROFILE_FORMAT 1

static json_t *
counts_json(const uint64_t *c, int n)
{
	json_t *a = json_array();
	int i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)c[i]));
	return a;
}

json_t *
ch_drift_profile_json(const struct ch_drift_profile *p,
    const struct ch_model *m, struct ch_err *e)
{
	const struct ch_schema *s = m->schema;
	json_t *j = json_object(), *feats = json_array(), *o, *u, *pr, *h;
	const struct ch_drift_sample *smp = p->smp;
	size_t i, n, len;
	const char *key;
	int f, L, top, nb;

	json_object_set_new(j, "churn_drift_profile", json_integer(PROFILE_FORMAT));
	json_object_set_new(j, "model_version", json_string(m->version));
	json_object_set_new(j, "rows", json_integer((json_int_t)p->side.rows));
	json_object_set_new(j, "features", feats);
	if (p->side.not_num)
		json_object_set_new(j, "not_numbers", json_pack("{s:I, s:I, s:s}",
		    "rows", (json_int_t)p->side.not_num,
		    "first_line", (json_int_t)p->side.not_num_line,
		    "first", p->side.not_num_msg));
	for (f = 0; f < s->nfeat; f++) {
		o = json_object();
		json_array_append_new(feats, o);
		json_object_set_new(o, "name", json_string(s->f[f].name));
		json_object_set_new(o, "counts", counts_json(p->side.counts[f],
		    s->f[f].nbins < CH_MISSING ? s->f[f].nbins : CH_MISSING));
		json_object_set_new(o, "missing",
		    json_integer((json_int_t)p->side.counts[f][CH_MISSING]));
		if (!p->side.extra[f])
			continue;
		u = json_array();
		json_object_set_new(o, "unseen", u);
		n = ch_strmap_count(p->side.extra[f]);
		for (i = 0; i < n; i++) {
			key = ch_strmap_key(p->side.extra[f], i, &len);
			if (!(h = json_stringn(key, len))) {
				json_decref(j);
				return ch_errf(e, "column '%s': an unseen value is "
				    "not UTF-8, which a profile cannot hold",
				    s->f[f].name), NULL;
			}
			json_array_append_new(u, json_pack("[o,I]", h,
			    (json_int_t)p->side.extra_n[f][i]));
		}
		json_object_set_new(o, "unseen_other",
		    json_integer((json_int_t)p->side.extra_other[f]));
	}
	if (!smp) {
		json_object_set_new(j, "prediction", json_null());
		return j;
	}
	nb = m->pred_ref.nbins;
	for (top = LEVELS - 1; top > 0 && smp->n[top] == 0; top--)
		;
	L = settle_level(smp);
	pr = json_object();
	json_object_set_new(pr, "sample", json_integer((json_int_t)smp->cap));
	json_object_set_new(pr, "level", json_integer(L));
	json_object_set_new(pr, "rows", counts_json(smp->n, top + 1));
	h = json_array();
	for (; L <= top; L++)
		json_array_append_new(h, counts_json(smp->hist[L], nb));
	json_object_set_new(pr, "counts", h);
	json_object_set_new(j, "prediction", pr);
	return j;
}

/* Adds the JSON array a of n counts to c. */
static int
add_counts(uint64_t *c, json_t *a, size_t n, const char *name,
    const char *what, struct ch_err *e)
{
	json_t *v;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) != n)
		return ch_errf(e, "%s: %s: not an array of %zu counts", name,
		    what, n);
	json_array_foreach(a, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return ch_errf(e, "%s: %s: not a count", name, what);
		c[i] += (uint64_t)json_integer_value(v);
	}
	return 0;
}

static int
load_unseen(struct ch_drift_side *d, int f, json_t *u, const char *name,
    const char *feat, struct ch_err *e)
{
	json_t *v;
	size_t i;

	if (!json_is_array(u))
		return ch_errf(e, "%s: feature '%s': 'unseen' is not an array",
		    name, feat);
	json_array_foreach(u, i, v) {
		json_t *k = json_array_get(v, 0), *n = json_array_get(v, 1);

		if (json_array_size(v) != 2 || !json_is_string(k) ||
		    !json_is_integer(n) || json_integer_value(n) < 0)
			return ch_errf(e, "%s: feature '%s': unseen value %zu is "
			    "not [name, count]", name, feat, i);
		ch_drift_side_add_unseen(d, f, json_string_value(k),
		    json_string_length(k), (uint64_t)json_integer_value(n));
	}
	return 0;
}

static int
load_prediction(struct ch_drift_profile *p, json_t *pr,
    const struct ch_model *m, const char *name, struct ch_err *e)
{
	struct ch_drift_sample *s = ch_calloc(1, sizeof *s);
	json_t *rows = json_object_get(pr, "rows");
	json_t *cap = json_object_get(pr, "sample");
	json_t *lv = json_object_get(pr, "level");
	json_t *h = json_object_get(pr, "counts"), *v;
	size_t i, nrows = json_array_size(rows);
	char what[64];

	if (!json_is_integer(cap) || json_integer_value(cap) < 0 ||
	    !json_is_integer(lv) || json_integer_value(lv) < 0 ||
	    json_integer_value(lv) >= LEVELS || nrows < 1 || nrows > LEVELS ||
	    !json_is_array(h) || (json_integer_value(lv) < (json_int_t)nrows &&
	    json_array_size(h) != nrows - (size_t)json_integer_value(lv)))
		goto bad;
	s->cap = (uint64_t)json_integer_value(cap);
	s->level = (int)json_integer_value(lv);
	if (add_counts(s->n, rows, nrows, name, "prediction.rows", e) != 0)
		goto fail;
	json_array_foreach(h, i, v) {
		snprintf(what, sizeof what, "prediction.counts[%zu]", i);
		if (add_counts(s->hist[(size_t)s->level + i], v,
		    (size_t)m->pred_ref.nbins, name, what, e) != 0)
			goto fail;
	}
	if (p->smp && p->smp->cap != s->cap) {
		ch_errf(e, "%s: a prediction sample of %llu rows, the profiles "
		    "before it %llu (give each shard the same --predict-sample)",
		    name, (unsigned long long)s->cap,
		    (unsigned long long)p->smp->cap);
		goto fail;
	}
	take_sample(&p->smp, &s);
	free(s);
	return 0;
bad:
	ch_errf(e, "%s: 'prediction' is not a prediction sample", name);
fail:
	free(s);
	return -1;
}

int
ch_drift_profile_load(struct ch_drift_profile *p, json_t *j, const char *name,
    const struct ch_model *m, struct ch_err *e)
{
	const struct ch_schema *s = m->schema;
	json_t *feats = json_object_get(j, "features"), *o, *v, *pr, *nn;
	json_t *ver = json_object_get(j, "model_version");
	int f, nb;

	if (!json_is_object(j) || json_integer_value(json_object_get(j,
	    "churn_drift_profile")) != PROFILE_FORMAT)
		return ch_errf(e, "%s: not a churn-drift profile (format %d)",
		    name, PROFILE_FORMAT);
	if (!json_is_string(ver) || strcmp(json_string_value(ver),
	    m->version) != 0)
		return ch_errf(e, "%s: a profile of model %s, not of %s", name,
		    json_is_string(ver) ? json_string_value(ver) : "(none)",
		    m->version);
	v = json_object_get(j, "rows");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return ch_errf(e, "%s: 'rows' is not a count", name);
	if (!json_is_array(feats) || (int)json_array_size(feats) != s->nfeat)
		return ch_errf(e, "%s: 'features' does not hold the model's %d "
		    "features", name, s->nfeat);
	pr = json_object_get(j, "prediction");
	if (p->loaded && (p->smp != NULL) != json_is_object(pr))
		return ch_errf(e, "%s: %s a prediction sample and the profiles "
		    "before it %s (give each shard the same --no-prediction)",
		    name, json_is_object(pr) ? "has" : "lacks",
		    p->smp ? "have" : "do not");
	p->side.rows += (size_t)json_integer_value(v);
	if ((nn = json_object_get(j, "not_numbers"))) {
		v = json_object_get(nn, "rows");
		if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
		    !json_is_integer(json_object_get(nn, "first_line")) ||
		    !json_is_string(json_object_get(nn, "first")))
			return ch_errf(e, "%s: 'not_numbers' is not {rows, "
			    "first_line, first}", name);
		ch_drift_side_not_number(&p->side, (uint64_t)json_integer_value(v),
		    (long)json_integer_value(json_object_get(nn, "first_line")),
		    json_string_value(json_object_get(nn, "first")));
	}
	for (f = 0; f < s->nfeat; f++) {
		o = json_array_get(feats, (size_t)f);
		if (!json_is_object(o) || !json_is_string(json_object_get(o,
		    "name")) || strcmp(json_string_value(json_object_get(o,
		    "name")), s->f[f].name) != 0)
			return ch_errf(e, "%s: feature %d is not '%s'", name,
			    f + 1, s->f[f].name);
		nb = s->f[f].nbins < CH_MISSING ? s->f[f].nbins : CH_MISSING;
		if (add_counts(p->side.counts[f], json_object_get(o, "counts"),
		    (size_t)nb, name, s->f[f].name, e) != 0)
			return -1;
		v = json_object_get(o, "missing");
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return ch_errf(e, "%s: feature '%s': 'missing' is not a "
			    "count", name, s->f[f].name);
		p->side.counts[f][CH_MISSING] += (uint64_t)json_integer_value(v);
		if (!p->side.extra[f])
			continue;
		if (load_unseen(&p->side, f, json_object_get(o, "unseen"), name,
		    s->f[f].name, e) != 0)
			return -1;
		v = json_object_get(o, "unseen_other");
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return ch_errf(e, "%s: feature '%s': 'unseen_other' is "
			    "not a count", name, s->f[f].name);
		p->side.extra_other[f] += (uint64_t)json_integer_value(v);
	}
	if (json_is_object(pr) && load_prediction(p, pr, m, name, e) != 0)
		return -1;
	p->loaded++;
	return 0;
}
