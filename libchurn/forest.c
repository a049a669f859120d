/* forest.c - random forest of Gini CART trees on binned features
 *
 * Training works on one-byte codes.  Tree t draws a bootstrap sample of n
 * rows from an RNG seeded by (seed, t), kept as per-row counts; every count
 * in the Gini computation is the bootstrap count times the class weight
 * (n / (2 n_class) on the whole training set for class_weight=balanced).
 * Trees grow depth first; a node finds its split from class histograms
 * over the codes of each feature:
 *
 *  - a large node (at least BIG distinct in-bag rows) keeps a histogram of
 *    every feature; the smaller child's is built while the rows are
 *    partitioned, reading each row's codes row-major (one cache line for all
 *    features), and the larger child's is the parent's minus it (the
 *    subtraction trick);
 *  - a node below BIG rows copies its rows' codes into a block of the
 *    worker's (localise): its whole subtree is grown before anything else
 *    and works in cache from there, counting per candidate feature only the
 *    codes its rows touch (cheaper than clearing and subtracting whole
 *    histograms for a node of a few dozen rows).
 *
 * Both give the same list of non-empty bins, so the split found does not
 * depend on the way it was counted.  Choices, as in scikit-learn unless
 * said otherwise:
 *
 *  - mtry features are drawn per node without replacement; when none of
 *    them gives a valid split, drawing goes on until one does or all have
 *    been tried;
 *  - a split is valid when each side holds at least min_leaf rows counted
 *    with their bootstrap multiplicity (sklearn's min_samples_leaf counts
 *    distinct rows, so ours is the looser rule for the same number) and it
 *    decreases the weighted impurity by more than 1e-10 of the node's weight;
 *  - numeric: codes <= arg go left; between the last code seen on the left
 *    and the first seen on the right, arg cuts half-way (as sklearn puts
 *    its threshold between two values);
 *  - categorical: categories sorted by weighted positive rate, best prefix
 *    (optimal for two classes); categories absent at the node go right;
 *  - missing values, when the node has some, are tried on both sides; when
 *    it has none they follow the heavier child;
 *  - leaf value: weighted fraction of positives.
 *
 * Out-of-bag rows travel down each tree with the in-bag rows, so their
 * predictions cost a partition per level rather than a walk per row; their
 * sums are fixed point, so any split of trees between workers gives the
 * same result.  Workers take tree indices from an atomic counter and write
 * only that tree's slots: the forest is the same whatever jobs is.
 *
 * Why one file over 800 lines: the grower is one piece (the shared and
 * per-worker state, histograms, split search, partition with out-of-bag
 * rows, tree assembly) whose parts all read the same private structures;
 * split across files they would need an internal header exposing all of
 * them for no reader's gain.  The walk over finished trees (predict,
 * check, free; about 160 lines) is shared with gbdt.c and stays beside the
 * node layout it reads.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "forest.h"
#include "schema.h"

/* A node with at least this many distinct in-bag rows keeps a histogram of
 * all its features (see the comment at the top). */
#ifndef BIG
#define BIG 2048
#endif

/* Rows ahead to prefetch when reading rows scattered over the data. */
#define PREFETCH 16

/* Trees walked side by side in ch_forest_predict. */
#define WAYS 4

/* OOB sums are kept in fixed point (2^-32) so that adding the trees in any
 * order, in any worker, gives the same result. */
#define OOB_ONE 4294967296.0

/* An in-bag row: index, and its bootstrap count and class as count<<1|y. */
struct ent {
	uint32_t row;
	uint32_t cy;
};

/* An out-of-bag row: index, and its place in the local block. */
struct oent {
	uint32_t row;
	uint32_t loc;
};

/* A non-empty bin of one feature at one node: class counts (bootstrap
 * multiplicity, no class weight). */
struct bin {
	uint32_t c[2];
	double key;     /* categorical: weighted positive rate, for sorting */
	int code;
};

struct split {
	int feat;
	double gain;
	int categorical;
	uint32_t arg;           /* numeric: last code going left */
	int mleft;
	uint8_t set[32];        /* categorical: codes going left */
	uint32_t lc[2], rc[2];  /* class counts of the children */
};

/* A node waiting to be grown. */
struct item {
	size_t lo, hi;          /* in-bag entries */
	size_t olo, ohi;        /* out-of-bag rows */
	int depth;
	int32_t parent;         /* -1 for the root */
	int left;               /* this is the parent's left child */
	uint32_t c[2];          /* class counts */
	int local;              /* rows copied to the worker's blocks */
	uint32_t *hist;         /* 2 * nslots counts, or NULL */
};

struct shared {
	const struct ch_train_data *d;
	const struct ch_forest_params *p;
	size_t n;
	int nfeat;
	int mtry;
	uint32_t min_leaf;
	double cw[2];           /* class weights */
	uint8_t *X;             /* row-major copy of the codes [n][nfeat] */
	uint32_t *off;          /* [nfeat] first histogram slot of a feature */
	uint32_t nslots;        /* sum of nbins + 1 (the last: missing) */
	struct ch_forest *f;
	double *imp;            /* [trees][nfeat] impurity decrease */
	int want_oob;
	struct oobacc **acc;    /* [threads] each worker's sums, or NULL */
	atomic_int nacc;
	atomic_int next, done;
	void (*progress)(int, int, void *);
	void *arg;
};

/* Out-of-bag predictions of one row: sum in fixed point, trees. */
struct oobacc {
	uint64_t sum;
	uint64_t cnt;
};

struct work {
	struct shared *s;
	struct oobacc *acc;     /* [n] or NULL */
	struct ch_rng rng;
	uint32_t *cnt;          /* [n] bootstrap counts */
	struct ent *in, *tmp;   /* [n] */
	struct oent *oob, *otmp; /* [n] */
	uint8_t *blk;           /* [BIG][nfeat] codes of a small subtree */
	uint8_t *oblk;          /* [noblk][nfeat] same for its out-of-bag rows */
	size_t noblk;
	int *feats;             /* [nfeat] permutation for drawing features */
	double *imp;            /* this tree's row of s->imp */

	struct ch_node *nodes;
	uint32_t nnodes, capnodes;
	uint8_t (*bits)[32];
	uint32_t nbits, capbits;
	uint32_t *bitmap;       /* open addressing: set index + 1, or 0 */
	uint32_t capmap;        /* a power of two, over twice nbits */

	struct item *stack;
	size_t nstack, capstack;
	uint32_t **pool;        /* free histogram buffers */
	size_t npool, cappool;

	uint32_t sh[256][2];    /* small-node histogram, zero between uses */
	struct bin list[256];
};

/* Uniform integer in [0, n), unbiased: Lemire's multiply-and-reject,
 * which spares ch_rng_below's division on each of the n bootstrap draws. */
static inline uint64_t
below(struct ch_rng *r, uint64_t n)
{
	__uint128_t m = (__uint128_t)ch_rng_next(r) * n;

	if ((uint64_t)m < n) {
		uint64_t lim = -n % n;

		while ((uint64_t)m < lim)
			m = (__uint128_t)ch_rng_next(r) * n;
	}
	return (uint64_t)(m >> 64);
}

static double
proxy(const double cw[2], uint32_t c0, uint32_t c1)
{
	double w0 = cw[0] * c0, w1 = cw[1] * c1, w = w0 + w1;

	/* sum of w_c^2 / w: the Gini decrease is the children's minus the
	 * parent's (in weight units) */
	return w > 0 ? (w0 * w0 + w1 * w1) / w : 0;
}

static int
cmp_key(const void *a, const void *b)
{
	const struct bin *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->code - y->code;
}

/*
 * Scans the k non-empty bins b (numeric: in code order) of feature f, with
 * m the missing rows, t the node's class counts.  Missing rows, when the
 * node has some, are tried on either side.  min_leaf counts rows with their
 * bootstrap multiplicity (sklearn's min_samples_leaf counts distinct rows;
 * we count what the Gini sees, so that a leaf of three copies of one row
 * weighs three).  Updates best when a split beats it.
 */
static void
eval_feature(const struct shared *s, int f, struct bin *b, int k,
    const uint32_t m[2], const uint32_t t[2], double pproxy,
    struct split *best)
{
	const double *cw = s->cw;
	int cat = s->d->categorical[f], hasm = m[0] + m[1] > 0;
	int i, ms, bi = -1, bms = 0;
	uint32_t l[2] = { 0, 0 }, L[2], R[2], bl[2] = { 0, 0 }, br[2] = { 0, 0 };
	double g, bg = best->gain;

	if (k == 0 || (k == 1 && !hasm))
		return;
	if (cat) {
		for (i = 0; i < k; i++) {
			double w0 = cw[0] * b[i].c[0], w1 = cw[1] * b[i].c[1];

			b[i].key = w1 / (w0 + w1);
		}
		qsort(b, k, sizeof *b, cmp_key);
	}
	for (i = 0; i < k; i++) {
		l[0] += b[i].c[0];
		l[1] += b[i].c[1];
		for (ms = 0; ms <= hasm; ms++) {
			L[0] = l[0] + (ms ? m[0] : 0);
			L[1] = l[1] + (ms ? m[1] : 0);
			R[0] = t[0] - L[0];
			R[1] = t[1] - L[1];
			if ((uint64_t)L[0] + L[1] < s->min_leaf ||
			    (uint64_t)R[0] + R[1] < s->min_leaf)
				continue;
			g = proxy(cw, L[0], L[1]) + proxy(cw, R[0], R[1]) - pproxy;
			if (g > bg) {
				bg = g;
				bi = i;
				bms = ms;
				memcpy(bl, L, sizeof bl);
				memcpy(br, R, sizeof br);
			}
		}
	}
	if (bi < 0)
		return;
	best->feat = f;
	best->gain = bg;
	best->categorical = cat;
	memcpy(best->lc, bl, sizeof bl);
	memcpy(best->rc, br, sizeof br);
	if (hasm)
		best->mleft = bms;
	else    /* none seen here: send missing where most weight went */
		best->mleft = cw[0] * bl[0] + cw[1] * bl[1] >=
		    cw[0] * br[0] + cw[1] * br[1];
	if (cat) {
		memset(best->set, 0, sizeof best->set);
		for (i = 0; i <= bi; i++)
			best->set[b[i].code >> 3] |= 1u << (b[i].code & 7);
		best->arg = 0;
	} else if (bi == k - 1) {
		/* every present code left, missing right */
		best->arg = s->d->nbins[f] - 1;
	} else {
		/* codes between the last one seen left and the first seen
		 * right are empty here: cut in the middle, as sklearn puts its
		 * threshold half-way between two values */
		best->arg = b[bi].code + (b[bi + 1].code - b[bi].code - 1) / 2;
	}
}

/* Non-empty bins of feature f from a node histogram. */
static int
bins_from_hist(const struct shared *s, const uint32_t *h, int f,
    struct bin *b, uint32_t m[2])
{
	int c, k = 0, nb = s->d->nbins[f];
	const uint32_t *hf = h + 2 * (size_t)s->off[f];

	for (c = 0; c < nb; c++) {
		if (hf[2 * c] | hf[2 * c + 1]) {
			b[k].c[0] = hf[2 * c];
			b[k].c[1] = hf[2 * c + 1];
			b[k].code = c;
			k++;
		}
	}
	m[0] = hf[2 * nb];
	m[1] = hf[2 * nb + 1];
	return k;
}

/* Non-empty bins of feature f counted from the node's rows (small node). */
static int
bins_from_rows(struct work *w, int f, const struct item *it, struct bin *b,
    uint32_t m[2])
{
	/* small nodes come here, and their rows are in the block */
	const size_t stride = it->local ? (size_t)w->s->nfeat : 1;
	const uint8_t *col = it->local ? w->blk + f : w->s->d->codes[f];
	uint64_t seen[4] = { 0, 0, 0, 0 };
	size_t i;
	int k = 0, wd;

	for (i = it->lo; i < it->hi; i++) {
		unsigned c = col[w->in[i].row * stride];
		uint32_t cy = w->in[i].cy;

		w->sh[c][cy & 1] += cy >> 1;
		seen[c >> 6] |= (uint64_t)1 << (c & 63);
	}
	m[0] = w->sh[CH_MISSING][0];
	m[1] = w->sh[CH_MISSING][1];
	w->sh[CH_MISSING][0] = w->sh[CH_MISSING][1] = 0;
	seen[CH_MISSING >> 6] &= ~((uint64_t)1 << (CH_MISSING & 63));
	for (wd = 0; wd < 4; wd++) {
		while (seen[wd]) {
			int c = wd * 64 + __builtin_ctzll(seen[wd]);

			seen[wd] &= seen[wd] - 1;
			b[k].c[0] = w->sh[c][0];
			b[k].c[1] = w->sh[c][1];
			b[k].code = c;
			w->sh[c][0] = w->sh[c][1] = 0;
			k++;
		}
	}
	return k;
}

/*
 * Draws candidate features without replacement, mtry of them; when none of
 * them gives a valid split, keeps drawing until one does or every feature
 * has been tried (as sklearn goes on past constant features).
 */
static int
find_split(struct work *w, const struct item *it, struct split *best)
{
	const struct shared *s = w->s;
	int nf = s->nfeat, k, j, f, nbin;
	uint32_t m[2];
	double W = s->cw[0] * it->c[0] + s->cw[1] * it->c[1];
	double pproxy = proxy(s->cw, it->c[0], it->c[1]);

	best->feat = -1;
	best->gain = 1e-10 * W;  /* a split must decrease impurity */
	for (k = 0; k < nf; k++) {
		if (k >= s->mtry && best->feat >= 0)
			break;
		j = k + (int)below(&w->rng, (uint64_t)(nf - k));
		f = w->feats[j];
		w->feats[j] = w->feats[k];
		w->feats[k] = f;
		if (it->hist)
			nbin = bins_from_hist(s, it->hist, f, w->list, m);
		else
			nbin = bins_from_rows(w, f, it, w->list, m);
		eval_feature(s, f, w->list, nbin, m, it->c, pproxy, best);
	}
	return best->feat >= 0;
}

static uint32_t *
hist_get(struct work *w)
{
	if (w->npool)
		return w->pool[--w->npool];
	return ch_malloc(2 * (size_t)w->s->nslots * sizeof(uint32_t));
}

static void
hist_put(struct work *w, uint32_t *h)
{
	if (!h)
		return;
	if (w->npool == w->cappool) {
		w->cappool = w->cappool ? 2 * w->cappool : 16;
		w->pool = ch_reallocarray(w->pool, w->cappool, sizeof *w->pool);
	}
	w->pool[w->npool++] = h;
}

/* Histogram of every feature over entries [lo, hi), read row-major. */
static void
hist_build(const struct work *w, uint32_t *h, size_t lo, size_t hi)
{
	const struct shared *s = w->s;
	const int nf = s->nfeat;
	const int *nbins = s->d->nbins;
	const uint32_t *off = s->off;
	size_t i;
	int f;

	memset(h, 0, 2 * (size_t)s->nslots * sizeof *h);
	for (i = lo; i < hi; i++) {
		const uint8_t *x = s->X + (size_t)w->in[i].row * nf;
		uint32_t cy = w->in[i].cy, y = cy & 1, c = cy >> 1;

		if (i + PREFETCH < hi)
			__builtin_prefetch(s->X +
			    (size_t)w->in[i + PREFETCH].row * nf);
		for (f = 0; f < nf; f++) {
			uint32_t code = x[f], nb = (uint32_t)nbins[f];
			uint32_t slot = off[f] + (code < nb ? code : nb);

			h[2 * slot + y] += c;
		}
	}
}

/* Whether a node could be split at all (else it is a leaf right away). */
static int
splittable(const struct shared *s, const struct item *it)
{
	if (s->p->max_depth > 0 && it->depth >= s->p->max_depth)
		return 0;
	if (it->c[0] == 0 || it->c[1] == 0)
		return 0;
	if ((uint64_t)it->c[0] + it->c[1] < 2 * (uint64_t)s->min_leaf)
		return 0;
	return it->hi - it->lo >= 2;
}

static int
wants_hist(const struct shared *s, const struct item *it)
{
	return it->hi - it->lo >= BIG && splittable(s, it);
}

/* One row of nf codes copied: a few fixed-size moves the compiler inlines
 * (overlapping when nf is not their size), not a call per row. */
static inline void
copy_row(uint8_t *dst, const uint8_t *src, size_t nf)
{
	size_t i;

	if (nf >= 16 && nf <= 32) {
		memcpy(dst, src, 16);
		memcpy(dst + nf - 16, src + nf - 16, 16);
	} else if (nf >= 8 && nf < 16) {
		memcpy(dst, src, 8);
		memcpy(dst + nf - 8, src + nf - 8, 8);
	} else if (nf < 8) {
		for (i = 0; i < nf; i++)
			dst[i] = src[i];
	} else {
		memcpy(dst, src, nf);
	}
}

/*
 * Copies the codes of a small node's rows into the worker's blocks: the
 * whole subtree below it is grown before anything else (depth first), and
 * reads its codes from there, in cache, rather than from all over the
 * columns.  In-bag entries then hold their place in the block.
 */
static void
localise(struct work *w, struct item *it)
{
	const struct shared *s = w->s;
	const size_t nf = (size_t)s->nfeat;
	size_t i, k, no = it->ohi - it->olo;

	for (i = it->lo, k = 0; i < it->hi; i++, k++) {
		copy_row(w->blk + k * nf, s->X + (size_t)w->in[i].row * nf, nf);
		w->in[i].row = (uint32_t)k;
	}
	if (no > w->noblk) {
		w->noblk = no + no / 2;
		w->oblk = ch_reallocarray(w->oblk, w->noblk, nf);
	}
	for (i = it->olo, k = 0; i < it->ohi; i++, k++) {
		copy_row(w->oblk + k * nf, s->X + (size_t)w->oob[i].row * nf, nf);
		w->oob[i].loc = (uint32_t)k;
	}
	it->local = 1;
}

static uint32_t
new_node(struct work *w)
{
	if (w->nnodes == w->capnodes) {
		w->capnodes = w->capnodes ? 2 * w->capnodes : 256;
		w->nodes = ch_reallocarray(w->nodes, w->capnodes,
		    sizeof *w->nodes);
	}
	memset(&w->nodes[w->nnodes], 0, sizeof *w->nodes);
	return w->nnodes++;
}

static void
push(struct work *w, const struct item *it)
{
	if (w->nstack == w->capstack) {
		w->capstack = w->capstack ? 2 * w->capstack : 64;
		w->stack = ch_reallocarray(w->stack, w->capstack,
		    sizeof *w->stack);
	}
	w->stack[w->nstack++] = *it;
}

static void
make_leaf(struct work *w, uint32_t id, const struct item *it)
{
	const struct shared *s = w->s;
	struct ch_node *nd = &w->nodes[id];
	double w0 = s->cw[0] * it->c[0], w1 = s->cw[1] * it->c[1];
	uint64_t fx;
	size_t i;

	nd->feat = -1;
	nd->left = nd->right = -1;
	nd->value = w0 + w1 > 0 ? (float)(w1 / (w0 + w1)) : 0.0f;
	fx = (uint64_t)((double)nd->value * OOB_ONE + 0.5);
	for (i = it->olo; i < it->ohi; i++) {
		struct oobacc *a = &w->acc[w->oob[i].row];

		a->sum += fx;
		a->cnt++;
	}
	hist_put(w, it->hist);
}

static uint32_t
set_hash(const uint8_t set[32])
{
	uint64_t h = 0, v;
	int i;

	for (i = 0; i < 32; i += 8) {
		memcpy(&v, set + i, 8);
		h = (h ^ v) * 0x9E3779B97F4A7C15ull;
	}
	return (uint32_t)(h >> 32);
}

/* Index of a category set in the tree's pool, added when new: the same few
 * sets come back again and again (a feature of three categories has six),
 * and 32 bytes a split would weigh more than the nodes. */
static uint32_t
intern_set(struct work *w, const uint8_t set[32])
{
	uint32_t i, j, mask;

	if (2 * (w->nbits + 1) > w->capmap) {
		w->capmap = w->capmap ? 2 * w->capmap : 64;
		free(w->bitmap);
		w->bitmap = ch_calloc(w->capmap, sizeof *w->bitmap);
		mask = w->capmap - 1;
		for (j = 0; j < w->nbits; j++) {
			for (i = set_hash(w->bits[j]) & mask; w->bitmap[i];
			    i = (i + 1) & mask)
				;
			w->bitmap[i] = j + 1;
		}
	}
	mask = w->capmap - 1;
	for (i = set_hash(set) & mask; w->bitmap[i]; i = (i + 1) & mask)
		if (memcmp(w->bits[w->bitmap[i] - 1], set, 32) == 0)
			return w->bitmap[i] - 1;
	if (w->nbits == w->capbits) {
		w->capbits = w->capbits ? 2 * w->capbits : 16;
		w->bits = ch_reallocarray(w->bits, w->capbits, sizeof *w->bits);
	}
	memcpy(w->bits[w->nbits], set, 32);
	w->bitmap[i] = w->nbits + 1;
	return w->nbits++;
}

/* Splits node id: partitions its rows (stably, so rows stay in order and
 * the column reads stay local), and pushes the two children. */
static void
split_node(struct work *w, uint32_t id, const struct item *it,
    const struct split *sp)
{
	const struct shared *s = w->s;
	const uint8_t *col = s->d->codes[sp->feat], *ocol = col;
	size_t stride = 1;
	struct ch_node *nd = &w->nodes[id];
	uint8_t go[256];
	size_t i, a, b;
	struct item L, R;
	uint32_t *h = NULL;
	int c, hl;

	nd->feat = sp->feat;
	nd->categorical = (uint8_t)sp->categorical;
	nd->missing_left = (uint8_t)sp->mleft;
	if (sp->categorical) {
		nd->arg = intern_set(w, sp->set);
		for (c = 0; c < 256; c++)
			go[c] = sp->set[c >> 3] >> (c & 7) & 1;
	} else {
		nd->arg = sp->arg;
		for (c = 0; c < 256; c++)
			go[c] = (uint32_t)c <= sp->arg;
	}
	go[CH_MISSING] = (uint8_t)sp->mleft;
	w->imp[sp->feat] += sp->gain;

	/* The smaller child (by bootstrap count) gets its histogram built
	 * while partitioning, from the same cache line as the decision; the
	 * larger one's is the parent's minus it.  Only worth it when a child
	 * can be large enough to keep one. */
	hl = sp->lc[0] + sp->lc[1] <= sp->rc[0] + sp->rc[1];
	if (it->hist && (uint64_t)sp->lc[0] + sp->lc[1] < BIG &&
	    (uint64_t)sp->rc[0] + sp->rc[1] < BIG) {
		hist_put(w, it->hist);
	} else if (it->hist) {
		h = hist_get(w);
		memset(h, 0, 2 * (size_t)s->nslots * sizeof *h);
	}
	if (it->local) {
		col = w->blk + sp->feat;
		ocol = w->oblk + sp->feat;
		stride = (size_t)s->nfeat;
	}
	if (h) {
		const int nf = s->nfeat, *nbins = s->d->nbins;
		const uint32_t *off = s->off;

		for (i = a = it->lo, b = 0; i < it->hi; i++) {
			struct ent e = w->in[i];
			const uint8_t *x = s->X + (size_t)e.row * nf;
			int l = go[x[sp->feat]], f;

			if (i + PREFETCH < it->hi)
				__builtin_prefetch(s->X +
				    (size_t)w->in[i + PREFETCH].row * nf);
			if (l == hl) {
				uint32_t y = e.cy & 1, cnt = e.cy >> 1;

				for (f = 0; f < nf; f++) {
					uint32_t code = x[f];
					uint32_t nb = (uint32_t)nbins[f];

					h[2 * (off[f] + (code < nb ? code : nb))
					    + y] += cnt;
				}
			}
			if (l)
				w->in[a++] = e;
			else
				w->tmp[b++] = e;
		}
	} else {
		for (i = a = it->lo, b = 0; i < it->hi; i++) {
			struct ent e = w->in[i];

			if (go[col[e.row * stride]])
				w->in[a++] = e;
			else
				w->tmp[b++] = e;
		}
	}
	memcpy(w->in + a, w->tmp, b * sizeof *w->tmp);
	L = R = *it;
	L.hi = R.lo = a;
	for (i = a = it->olo, b = 0; i < it->ohi; i++) {
		struct oent r = w->oob[i];

		if (!it->local && i + PREFETCH < it->ohi)
			__builtin_prefetch(col + w->oob[i + PREFETCH].row);
		if (go[ocol[(it->local ? r.loc : r.row) * stride]])
			w->oob[a++] = r;
		else
			w->otmp[b++] = r;
	}
	memcpy(w->oob + a, w->otmp, b * sizeof *w->otmp);
	L.ohi = R.olo = a;
	L.depth = R.depth = it->depth + 1;
	L.parent = R.parent = (int32_t)id;
	L.left = 1;
	R.left = 0;
	memcpy(L.c, sp->lc, sizeof L.c);
	memcpy(R.c, sp->rc, sizeof R.c);
	L.hist = R.hist = NULL;

	if (h) {
		struct item *built = hl ? &L : &R, *other = hl ? &R : &L;
		uint32_t *p = it->hist;

		if (wants_hist(s, other)) {
			size_t j, ns = 2 * (size_t)s->nslots;

			for (j = 0; j < ns; j++)
				p[j] -= h[j];
			other->hist = p;
		} else {
			hist_put(w, p);
		}
		if (wants_hist(s, built))
			built->hist = h;
		else
			hist_put(w, h);
	}
	/* right first: the left child is grown next and sits right after
	 * its parent, which keeps prediction walks local */
	push(w, &R);
	push(w, &L);
}

static void
grow_tree(struct work *w, int t)
{
	struct shared *s = w->s;
	const struct ch_train_data *d = s->d;
	size_t n = s->n, i, nin = 0, noob = 0, draws = n;
	struct item it;
	struct split sp;
	struct ch_tree *tr;
	int f;

	ch_rng_seed(&w->rng, s->p->seed * 0x9E3779B97F4A7C15ull + (uint64_t)t);
	memset(w->cnt, 0, n * sizeof *w->cnt);
	if (s->p->max_samples && s->p->max_samples < n)
		draws = s->p->max_samples;
	for (i = 0; i < draws; i++)
		w->cnt[below(&w->rng, n)]++;
	memset(&it, 0, sizeof it);
	for (i = 0; i < n; i++) {
		if (w->cnt[i]) {
			w->in[nin].row = (uint32_t)i;
			w->in[nin].cy = w->cnt[i] << 1 | (d->y[i] != 0);
			it.c[d->y[i] != 0] += w->cnt[i];
			nin++;
		} else if (s->want_oob &&       /* only when asked for */
		    (s->p->oob_every <= 1 || i % s->p->oob_every == 0)) {
			w->oob[noob].row = (uint32_t)i;
			w->oob[noob++].loc = 0;
		}
	}
	for (f = 0; f < s->nfeat; f++)
		w->feats[f] = f;
	w->imp = s->imp + (size_t)t * s->nfeat;
	w->nnodes = w->nbits = 0;
	if (w->bitmap)
		memset(w->bitmap, 0, w->capmap * sizeof *w->bitmap);
	w->nstack = 0;

	it.lo = 0;
	it.hi = nin;
	it.olo = 0;
	it.ohi = noob;
	it.parent = -1;
	if (wants_hist(s, &it)) {
		it.hist = hist_get(w);
		hist_build(w, it.hist, 0, nin);
	}
	push(w, &it);
	while (w->nstack) {
		uint32_t id;

		it = w->stack[--w->nstack];
		if (!it.local && it.hi - it.lo < BIG && splittable(s, &it))
			localise(w, &it);
		id = new_node(w);
		if (it.parent >= 0) {
			if (it.left)
				w->nodes[it.parent].left = (int32_t)id;
			else
				w->nodes[it.parent].right = (int32_t)id;
		}
		if (splittable(s, &it) && find_split(w, &it, &sp))
			split_node(w, id, &it, &sp);
		else
			make_leaf(w, id, &it);
	}

	tr = &s->f->trees[t];
	tr->nnodes = w->nnodes;
	tr->nodes = ch_reallocarray(NULL, w->nnodes, sizeof *tr->nodes);
	memcpy(tr->nodes, w->nodes, w->nnodes * sizeof *tr->nodes);
	tr->nbitsets = w->nbits;
	tr->bitsets = NULL;
	if (w->nbits) {
		tr->bitsets = ch_reallocarray(NULL, w->nbits, 32);
		memcpy(tr->bitsets, w->bits, (size_t)w->nbits * 32);
	}
}

static void *
worker(void *arg)
{
	struct shared *s = arg;
	struct work *w = ch_calloc(1, sizeof *w);
	size_t n = s->n;
	int t, done;

	w->s = s;
	w->cnt = ch_reallocarray(NULL, n, sizeof *w->cnt);
	w->in = ch_reallocarray(NULL, n, sizeof *w->in);
	w->tmp = ch_reallocarray(NULL, n, sizeof *w->tmp);
	w->oob = ch_reallocarray(NULL, n, sizeof *w->oob);
	w->otmp = ch_reallocarray(NULL, n, sizeof *w->otmp);
	w->feats = ch_reallocarray(NULL, (size_t)s->nfeat, sizeof *w->feats);
	w->blk = ch_reallocarray(NULL, BIG, (size_t)s->nfeat);
	if (s->want_oob) {
		w->acc = ch_calloc(n, sizeof *w->acc);
		s->acc[atomic_fetch_add(&s->nacc, 1)] = w->acc;
	}
	while ((t = atomic_fetch_add(&s->next, 1)) < s->p->trees) {
		grow_tree(w, t);
		done = atomic_fetch_add(&s->done, 1) + 1;
		if (s->progress)
			s->progress(done, s->p->trees, s->arg);
	}
	while (w->npool)
		free(w->pool[--w->npool]);
	free(w->pool);
	free(w->stack);
	free(w->nodes);
	free(w->bits);
	free(w->bitmap);
	free(w->feats);
	free(w->blk);
	free(w->oblk);
	free(w->otmp);
	free(w->oob);
	free(w->tmp);
	free(w->in);
	free(w->cnt);
	free(w);
	return NULL;
}

static int
check_input(const struct ch_train_data *d, const struct ch_forest_params *p,
    struct ch_err *e)
{
	size_t i;
	int f;

	if (!d || !p)
		return ch_errf(e, "no training data");
	if (d->n == 0)
		return ch_errf(e, "no training rows");
	if (d->n >= UINT32_MAX / 2)
		return ch_errf(e, "too many training rows (%zu)", d->n);
	if (d->nfeat < 1)
		return ch_errf(e, "no features to train on");
	if (p->trees < 1)
		return ch_errf(e, "number of trees must be at least 1, not %d",
		    p->trees);
	if (p->max_depth < 0)
		return ch_errf(e, "max depth must be 0 or more, not %d",
		    p->max_depth);
	if (p->min_leaf < 1)
		return ch_errf(e, "min leaf must be at least 1, not %d",
		    p->min_leaf);
	if (p->jobs < 1)
		return ch_errf(e, "jobs must be at least 1, not %d", p->jobs);
	if (p->mf == CH_MF_COUNT && !(p->mf_value >= 1))
		return ch_errf(e, "max features must be at least 1, not %g",
		    p->mf_value);
	if (p->mf == CH_MF_FRACTION && !(p->mf_value > 0 && p->mf_value <= 1))
		return ch_errf(e, "max features fraction must be in (0, 1], "
		    "not %g", p->mf_value);
	for (f = 0; f < d->nfeat; f++) {
		const uint8_t *col = d->codes[f];
		int nb = d->nbins[f];

		if (nb < 1 || nb > CH_MAXBINS)
			return ch_errf(e, "feature %d: %d bins (1..%d allowed)",
			    f, nb, CH_MAXBINS);
		for (i = 0; i < d->n; i++)
			if (col[i] >= nb && col[i] != CH_MISSING)
				return ch_errf(e, "feature %d: row %zu: code %u "
				    "is not below %d", f, i, col[i], nb);
	}
	for (i = 0; i < d->n; i++)
		if (d->y[i] > 1)
			return ch_errf(e, "row %zu: label %u is not 0 or 1", i,
			    d->y[i]);
	return 0;
}

static int
mtry_of(const struct ch_forest_params *p, int nf)
{
	int m;

	switch (p->mf) {
	case CH_MF_SQRT:
		m = (int)floor(sqrt((double)nf));
		break;
	case CH_MF_LOG2:
		m = (int)floor(log2((double)nf));
		break;
	case CH_MF_COUNT:
		m = p->mf_value > nf ? nf : (int)p->mf_value;
		break;
	case CH_MF_FRACTION:
		m = (int)(p->mf_value * nf);
		break;
	default:
		m = nf;
	}
	return m < 1 ? 1 : m > nf ? nf : m;
}

/* s set up for training d with p: class weights, row-major codes X,
 * slot offsets, the forest and importances allocated. */
static void
setup(struct shared *s, const struct ch_train_data *d,
    const struct ch_forest_params *p)
{
	size_t n = d->n, i, pos[2] = { 0, 0 };
	int f;

	memset(s, 0, sizeof *s);
	s->d = d;
	s->p = p;
	s->n = n;
	s->nfeat = d->nfeat;
	s->mtry = mtry_of(p, d->nfeat);
	s->min_leaf = (uint32_t)p->min_leaf;
	for (i = 0; i < n; i++)
		pos[d->y[i]]++;
	s->cw[0] = s->cw[1] = 1;
	if (p->balanced && pos[0] && pos[1]) {
		s->cw[0] = (double)n / (2.0 * pos[0]);
		s->cw[1] = (double)n / (2.0 * pos[1]);
	}
	s->X = ch_reallocarray(NULL, n, (size_t)d->nfeat);
	for (f = 0; f < d->nfeat; f++) {
		const uint8_t *col = d->codes[f];

		for (i = 0; i < n; i++)
			s->X[i * d->nfeat + f] = col[i];
	}
	s->off = ch_reallocarray(NULL, (size_t)d->nfeat, sizeof *s->off);
	for (f = 0; f < d->nfeat; f++) {
		s->off[f] = s->nslots;
		s->nslots += (uint32_t)d->nbins[f] + 1;
	}
	s->f = ch_calloc(1, sizeof *s->f);
	s->f->nfeat = d->nfeat;
	s->f->ntrees = p->trees;
	s->f->trees = ch_calloc((size_t)p->trees, sizeof *s->f->trees);
	s->imp = ch_calloc((size_t)p->trees * d->nfeat, sizeof *s->imp);
}

/* The trees grown by up to p->jobs threads, the calling one included. */
static void
grow_all(struct shared *s, const struct ch_forest_params *p)
{
	pthread_t *th;
	int t, nth, started = 0;

	nth = p->jobs < p->trees ? p->jobs : p->trees;
	th = ch_calloc((size_t)nth, sizeof *th);
	s->acc = ch_calloc((size_t)nth, sizeof *s->acc);
	/* the calling thread works too; a thread that fails to start only
	 * leaves more trees to the others */
	for (t = 1; t < nth; t++)
		if (pthread_create(&th[started], NULL, worker, s) == 0)
			started++;
	worker(s);
	for (t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	free(th);
}

/* stats filled from the grown trees: mean normalised importances and
 * out-of-bag probabilities (NaN for a row in every bag). */
static void
fill_stats(const struct shared *s, const struct ch_forest_params *p,
    struct ch_forest_stats *stats)
{
	const struct ch_train_data *d = s->d;
	size_t n = s->n, i;
	int f, t, used = 0, nacc;

	stats->importance = ch_calloc((size_t)d->nfeat,
	    sizeof *stats->importance);
	for (t = 0; t < p->trees; t++) {
		double *r = s->imp + (size_t)t * d->nfeat, sum = 0;

		for (f = 0; f < d->nfeat; f++)
			sum += r[f];
		if (!(sum > 0))
			continue;   /* a lone leaf, as sklearn skips it */
		for (f = 0; f < d->nfeat; f++)
			stats->importance[f] += r[f] / sum;
		used++;
	}
	if (used)
		for (f = 0; f < d->nfeat; f++)
			stats->importance[f] /= used;
	stats->oob_prob = ch_reallocarray(NULL, n,
	    sizeof *stats->oob_prob);
	stats->oob_n = 0;
	nacc = atomic_load(&s->nacc);
	for (i = 0; i < n; i++) {
		uint64_t sum = 0, c = 0;

		for (t = 0; t < nacc; t++) {
			sum += s->acc[t][i].sum;
			c += s->acc[t][i].cnt;
		}
		if (c) {
			stats->oob_prob[i] = (double)sum / OOB_ONE / c;
			stats->oob_n++;
		} else {
			stats->oob_prob[i] = NAN;
		}
	}
}

int
ch_forest_train(const struct ch_train_data *d,
    const struct ch_forest_params *p, struct ch_forest **out,
    struct ch_forest_stats *stats,
    void (*progress)(int done, int total, void *arg), void *arg,
    struct ch_err *e)
{
	struct shared s;
	int t;

	*out = NULL;
	if (stats)
		memset(stats, 0, sizeof *stats);
	if (check_input(d, p, e) < 0)
		return -1;
	setup(&s, d, p);
	s.want_oob = stats != NULL;
	atomic_init(&s.nacc, 0);
	atomic_init(&s.next, 0);
	atomic_init(&s.done, 0);
	s.progress = progress;
	s.arg = arg;
	grow_all(&s, p);
	if (stats)
		fill_stats(&s, p, stats);
	for (t = 0; t < atomic_load(&s.nacc); t++)
		free(s.acc[t]);
	free(s.acc);
	free(s.imp);
	free(s.off);
	free(s.X);
	*out = s.f;
	return 0;
}

/* One step down from node i of a tree (a leaf stays where it is), without
 * data-dependent branches: which way a row goes is a coin toss to the
 * branch predictor, so masks beat ifs here. */
static inline int32_t
step(const struct ch_node *nodes, const uint8_t (*sets)[32], int32_t i,
    const uint8_t *x)
{
	const struct ch_node *nd = &nodes[i];
	int32_t leaf = nd->feat >> 31;   /* -1 for a leaf, else 0 */
	uint32_t c = x[nd->feat & ~leaf], arg = nd->arg;
	uint32_t cat = 0u - (uint32_t)nd->categorical;
	uint32_t miss = 0u - (uint32_t)(c == CH_MISSING);
	/* a numeric node reads set 0 and ignores it */
	uint32_t l = sets[arg & cat][c >> 3] >> (c & 7) & 1;
	int32_t next;

	l = (l & cat) | ((uint32_t)(c <= arg) & ~cat);
	l = (nd->missing_left & miss) | (l & ~miss);
	next = nd->right + ((nd->left - nd->right) & -(int32_t)l);
	return (i & leaf) | (next & ~leaf);
}

/*
 * Walks WAYS trees at a time: the walks are chains of dependent loads, and
 * interleaving independent chains lets the processor overlap them.  Trees
 * are summed in order, so the result does not depend on the grouping.
 */
double
ch_forest_predict(const struct ch_forest *f, const uint8_t *x)
{
	static const uint8_t none[1][32];
	const struct ch_tree *tr = f->trees;
	const uint8_t (*sets[WAYS])[32];
	double sum = 0;
	int32_t at[WAYS];
	int t, k, g;

	for (t = 0; t < f->ntrees; t += g) {
		g = f->ntrees - t < WAYS ? f->ntrees - t : WAYS;
		for (k = 0; k < WAYS; k++) {
			const struct ch_tree *u = &tr[t + (k < g ? k : 0)];

			sets[k] = u->nbitsets ?
			    (const uint8_t (*)[32])u->bitsets : none;
			at[k] = 0;
		}
		for (;;) {
			int more = 0;

			for (k = 0; k < WAYS; k++) {
				const struct ch_node *nodes =
				    tr[t + (k < g ? k : 0)].nodes;

				at[k] = step(nodes, sets[k], at[k], x);
				more |= nodes[at[k]].feat >= 0;
			}
			if (!more)
				break;
		}
		for (k = 0; k < g; k++)
			sum += tr[t + k].nodes[at[k]].value;
	}
	return ch_forest_link(f, sum);
}

double
ch_forest_link(const struct ch_forest *f, double sum)
{
	if (f->learner == CH_LEARN_GBDT)
		return 1 / (1 + exp(-(f->base + sum)));
	return f->ntrees ? sum / f->ntrees : NAN;
}

int
ch_forest_check(const struct ch_forest *f, struct ch_err *e)
{
	int t;
	uint32_t i;

	if (!f)
		return ch_errf(e, "no forest");
	if (f->learner == CH_LEARN_GBDT && !isfinite(f->base))
		return ch_errf(e, "boosted trees: base score not finite");
	if (f->nfeat < 1 || f->ntrees < 1 || !f->trees)
		return ch_errf(e, "forest of %d trees over %d features",
		    f->ntrees, f->nfeat);
	for (t = 0; t < f->ntrees; t++) {
		const struct ch_tree *tr = &f->trees[t];

		if (tr->nnodes < 1 || !tr->nodes)
			return ch_errf(e, "tree %d: no nodes", t);
		if (tr->nnodes > INT32_MAX)
			return ch_errf(e, "tree %d: %u nodes", t, tr->nnodes);
		if (tr->nbitsets && !tr->bitsets)
			return ch_errf(e, "tree %d: category sets missing", t);
		for (i = 0; i < tr->nnodes; i++) {
			const struct ch_node *nd = &tr->nodes[i];

			if (nd->feat == -1) {
				if (f->learner == CH_LEARN_GBDT ?
				    !isfinite(nd->value) :
				    !isfinite(nd->value) || nd->value < 0 ||
				    nd->value > 1)
					return ch_errf(e, "tree %d: node %u: "
					    "leaf value %g not in [0, 1]", t, i,
					    (double)nd->value);
				continue;
			}
			if (nd->feat < 0 || nd->feat >= f->nfeat)
				return ch_errf(e, "tree %d: node %u: feature %d "
				    "out of range (%d features)", t, i,
				    nd->feat, f->nfeat);
			/* children after their parent: no cycle can form */
			if (nd->left <= (int32_t)i ||
			    (uint32_t)nd->left >= tr->nnodes ||
			    nd->right <= (int32_t)i ||
			    (uint32_t)nd->right >= tr->nnodes)
				return ch_errf(e, "tree %d: node %u: children "
				    "%d and %d not in (%u, %u)", t, i, nd->left,
				    nd->right, i, tr->nnodes);
			if (nd->categorical > 1 || nd->missing_left > 1)
				return ch_errf(e, "tree %d: node %u: bad flags",
				    t, i);
			if (nd->categorical && nd->arg >= tr->nbitsets)
				return ch_errf(e, "tree %d: node %u: category "
				    "set %u out of range (%u sets)", t, i,
				    nd->arg, tr->nbitsets);
			if (!nd->categorical && nd->arg > CH_MAXBINS - 1)
				return ch_errf(e, "tree %d: node %u: threshold "
				    "%u out of range", t, i, nd->arg);
		}
	}
	return 0;
}

void
ch_forest_free(struct ch_forest *f)
{
	int t;

	if (!f)
		return;
	for (t = 0; f->trees && t < f->ntrees; t++) {
		free(f->trees[t].nodes);
		free(f->trees[t].bitsets);
	}
	free(f->trees);
	free(f);
}

void
ch_forest_stats_free(struct ch_forest_stats *s)
{
	if (!s)
		return;
	free(s->importance);
	free(s->oob_prob);
	s->importance = NULL;
	s->oob_prob = NULL;
	s->oob_n = 0;
}
