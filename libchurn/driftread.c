/* driftread.c - data into drift counts: CSV (threaded) or JSON lines
 * Counts rows in the model's codes and samples the prediction for
 * drift.c's report. */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "driftread.h"

#define LEVELS 40

/*
 * The prediction sample: a row whose code hash has t trailing zero bits
 * belongs to levels 0..t; level L holds about rows/2^L rows.  Histograms
 * are kept for every level from the lowest one still within the cap, so
 * that at the end the lowest level within the cap over all threads is
 * known exactly (see merge_sampler).
 */
struct sampler {
	int level;
	uint64_t cap;            /* 0: every row, level 0 */
	uint64_t n[LEVELS];
	uint64_t hist[LEVELS][256];
};

static uint64_t
codes_hash(const uint8_t *c, int n)
{
	uint64_t h = 1469598103934665603ull;
	int i;

	for (i = 0; i < n; i++)
		h = (h ^ c[i]) * 1099511628211ull;
	/* splitmix64 finaliser: FNV's low bits are weak */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
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
		if (t < s->level)
			return;
		for (L = s->level; L <= t; L++)
			s->n[L]++;
		while (s->n[s->level] > s->cap && s->level < LEVELS - 1)
			s->level++;
	} else
		s->n[0]++;
	memcpy(k->batch + (size_t)k->nbatch * (size_t)nf, k->codes, (size_t)nf);
	k->level[k->nbatch++] = (uint8_t)t;
	if (k->nbatch == BATCH)
		flush(k);
}

/* Puts the sample of threads k[0..n-1] into d->pred: the lowest level
 * within the cap over all of them (each thread's own level is at or
 * below it, so its counts there are complete). */
static void
merge_samplers(struct sampler *const *s, int n, struct ch_drift_side *d)
{
	uint64_t tot;
	int L = 0, i, c;

	if (n == 0 || !s[0])
		return;
	for (i = 0; i < n; i++)
		if (s[i]->level > L)
			L = s[i]->level;
	for (; L < LEVELS - 1 && s[0]->cap; L++) {
		for (tot = 0, i = 0; i < n; i++)
			tot += s[i]->n[L];
		if (tot <= s[0]->cap)
			break;
	}
	d->has_pred = 1;
	for (i = 0; i < n; i++)
		for (c = 0; c < 256; c++)
			d->pred[c] += s[i]->hist[L][c];
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
	if (ch_encode_record(k->r->schema, k->cols, rec, name, k->codes,
	    add_unseen, k, NULL, e) != 0)
		return -1;
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

static int
read_csv(const struct ch_drift_read *r, FILE *fp, const char *name,
    struct ch_drift_side *d, int level0, struct ch_err *e)
{
	static const struct ch_csv_ops ops = {
		.header = csv_header,
		.worker_new = csv_worker_new,
		.block = csv_block,
		.emit = csv_emit,
	};
	struct csvctx c = { .r = r, .name = name, .level0 = level0 };
	struct sampler **smp;
	int i, rc;

	pthread_mutex_init(&c.mu, NULL);
	rc = ch_csv_parallel(fp, name, r->jobs, &ops, &c, e);
	smp = ch_calloc((size_t)c.nw + 1, sizeof *smp);
	for (i = 0; i < c.nw; i++) {
		if (rc == 0)
			ch_drift_side_merge(d, &c.w[i]->side);
		smp[i] = c.w[i]->k.smp;
	}
	if (rc == 0)
		merge_samplers(smp, c.nw, d);
	for (i = 0; i < c.nw; i++) {
		counter_free(&c.w[i]->k);
		ch_drift_side_free(&c.w[i]->side);
		free(c.w[i]);
	}
	pthread_mutex_destroy(&c.mu);
	free(smp);
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

	if (ch_encode_json(k->r->schema, o, k->codes, add_unseen, k, NULL,
	    &why) != 0)
		return ch_errf(e, "%s:%ld: %s", name, line, why.msg);
	tally(k);
	return 0;
}

static int
read_json_lines(const struct ch_drift_read *r, FILE *fp, const char *name,
    struct ch_drift_side *d, int level0, struct ch_err *e)
{
	struct counter k;
	json_error_t je;
	char *line = NULL;
	size_t cap = 0, i;
	ssize_t n;
	long ln = 0;
	json_t *o;
	int rc = 0;

	counter_init(&k, r, NULL, d, level0);
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
		merge_samplers(&k.smp, 1, d);
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

int
ch_drift_read(const struct ch_drift_read *r, FILE *fp, const char *path,
    struct ch_drift_side *d, struct ch_err *e)
{
	const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
	int rc, level0 = 0, own = 0;

	if (!fp) {
		if (!(fp = fopen(path, "r")))
			return ch_errf(e, "open %s: %s", path, strerror(errno));
		own = 1;
	}
	if (r->model)
		level0 = start_level(fileno(fp), r->pred_sample);
	rc = r->json_lines ? read_json_lines(r, fp, name, d, level0, e) :
	    read_csv(r, fp, name, d, level0, e);
	if (own)
		fclose(fp);
	if (rc == 0 && d->rows == 0)
		rc = ch_errf(e, "%s: no rows", name);
	return rc;
}
