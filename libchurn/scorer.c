/* scorer.c - a forest laid out for fast batch scoring */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "scorer.h"

/*
 * Nodes and their masks are kept apart (16 + 32 bytes a node): a step
 * reads the node for the feature and children, and one bit of its mask,
 * whatever the kind of split.
 */
struct snode {
	int32_t child[2];       /* [0] right, [1] left; a leaf: itself */
	uint32_t feat;
	float value;            /* leaves */
};

struct stree {
	struct snode *n;
	uint8_t (*mask)[32];    /* per node: bit c set, code c goes left */
	int32_t *lut;           /* per node: index in luts, or -1 */
	uint8_t (*luts)[256];   /* the top levels' masks a byte a code */
	int depth;              /* longest root-to-leaf path */
};

/* Nodes this near the root see most rows of a block: a byte per code
 * saves the bit arithmetic of every row that passes. */
#define LUT_DEPTH 3

static void
add_luts(struct stree *t, int32_t k, int d, int32_t *nlut)
{
	int c;

	if (d > LUT_DEPTH || t->n[k].child[0] == k)
		return;
	t->lut[k] = (*nlut)++;
	for (c = 0; c < 256; c++)
		t->luts[t->lut[k]][c] = t->mask[k][c >> 3] >> (c & 7) & 1;
	add_luts(t, t->n[k].child[0], d + 1, nlut);
	add_luts(t, t->n[k].child[1], d + 1, nlut);
}

/*
 * QuickScorer (Lucchese et al., SIGIR 2015) on codes: when every tree has
 * at most 64 leaves, a tree's leaves are bits of a word in left-to-right
 * order, and each node on which a row goes right clears the bits of its
 * left subtree; the leftmost bit left is the row's leaf.  A code decides
 * every node of its feature, so the words a code clears are folded at load
 * time into one row of words a feature and code class (codes no node tells
 * apart share a class); features with few classes share a table of rows,
 * one a combination of their classes.  A row is scored by ANDing one row
 * of words a table, then one count of trailing zeros a tree.
 */
#define QS_GROUP 4              /* features a table at most */
#define QS_COMBOS 64            /* rows of a table of several features */

struct qtab {
	int n;                  /* features */
	int feat[QS_GROUP];
	uint32_t off[QS_GROUP][256];    /* a code's part of the row offset */
	uint64_t *words;        /* rows of stride words, one a tree */
};

struct qs {
	int ntab;
	struct qtab *tab;
	size_t stride;          /* words a row: trees, padded to 8 */
	float (*leaf)[64];      /* per tree: leaf values, left to right */
};

struct ch_scorer {
	int ntrees, nfeat;
	struct ch_forest link;  /* learner, base, ntrees: mean or logistic */
	struct stree *t;
	struct qs *qs;          /* or NULL: a tree has more than 64 leaves */
};

/* Numbers the leaves under k from *next on, left first; gives the bits of
 * the leaves under k and fills under[] for each node. */
static uint64_t
number_leaves(const struct ch_tree *t, int32_t k, int *next, uint64_t *under,
    float *leaf)
{
	const struct ch_node *o = &t->nodes[k];

	if (o->feat < 0) {
		leaf[*next] = o->value;
		under[k] = (uint64_t)1 << (*next)++;
	} else
		under[k] = number_leaves(t, o->left, next, under, leaf) |
		    number_leaves(t, o->right, next, under, leaf);
	return under[k];
}

/* A feature's classes: cls[code], ncls rows of nt words. */
struct fclass {
	uint8_t cls[256];
	size_t ncls;
	uint64_t *rows;
};

/* Codes of byfeat (256 rows of nt words) into classes: a code shares the
 * class of an earlier code with the same words (checked against the last
 * few classes). */
static void
classify(const uint64_t *byfeat, size_t nt, struct fclass *fc)
{
	size_t k, w;
	int c;

	fc->rows = ch_malloc(256 * nt * sizeof *fc->rows);
	fc->ncls = 0;
	for (c = 0; c < 256; c++) {
		const uint64_t *v = byfeat + (size_t)c * nt;

		for (k = fc->ncls, w = 0; k > 0 && w < 8; k--, w++)
			if (memcmp(fc->rows + (k - 1) * nt, v, nt * sizeof *v) == 0)
				break;
		if (k > 0 && w < 8) {
			fc->cls[c] = (uint8_t)(k - 1);
			continue;
		}
		memcpy(fc->rows + fc->ncls * nt, v, nt * sizeof *v);
		fc->cls[c] = (uint8_t)fc->ncls++;
	}
	fc->rows = ch_reallocarray(fc->rows, fc->ncls, nt * sizeof *fc->rows);
}

/* Table g from features fs[0..n): a row for each combination of their
 * classes (the first feature's class varying fastest). */
static void
make_table(struct qtab *g, const int *fs, int n, const struct fclass *fc,
    size_t nt)
{
	size_t combos = 1, mult, i, r, d, w;
	int k, c;

	g->n = n;
	for (k = 0; k < n; k++)
		combos *= fc[fs[k]].ncls;
	g->words = ch_reallocarray(NULL, combos * nt, sizeof *g->words);
	for (mult = 1, k = 0; k < n; k++) {
		g->feat[k] = fs[k];
		for (c = 0; c < 256; c++)
			g->off[k][c] = (uint32_t)(fc[fs[k]].cls[c] * mult * nt);
		mult *= fc[fs[k]].ncls;
	}
	for (i = 0; i < combos; i++) {
		uint64_t *dst = g->words + i * nt;

		for (w = 0; w < nt; w++)
			dst[w] = ~(uint64_t)0;
		for (r = i, k = 0; k < n; k++) {
			d = r % fc[fs[k]].ncls;
			r /= fc[fs[k]].ncls;
			for (w = 0; w < nt; w++)
				dst[w] &= fc[fs[k]].rows[d * nt + w];
		}
	}
}

static struct qs *
qs_new(const struct ch_forest *f, const struct stree *st)
{
	/* rows of words padded to whole vectors of 8 */
	size_t nt = ((size_t)f->ntrees + 7) & ~(size_t)7, combos = 1;
	struct qs *q;
	struct fclass *fc;
	uint64_t *under, *byfeat;
	uint8_t *used;
	int t, ft, c, next, group[QS_GROUP], ng = 0;
	uint32_t i;

	for (t = 0; t < f->ntrees; t++)
		if (f->trees[t].nnodes > 127)   /* more than 64 leaves */
			return NULL;
	q = ch_calloc(1, sizeof *q);
	q->stride = nt;
	q->leaf = ch_calloc(nt ? nt : 1, sizeof *q->leaf);
	q->tab = ch_calloc((size_t)f->nfeat, sizeof *q->tab);
	/* the words of one feature at a time, for each code, of every tree
	 * (all ones: no node of the feature clears a leaf), in one buffer
	 * used again for each feature (a few hundred KB that stay in cache,
	 * not a buffer a feature) */
	under = ch_reallocarray(NULL, (size_t)f->ntrees * 127, sizeof *under);
	for (t = 0; t < f->ntrees; t++) {
		next = 0;
		number_leaves(&f->trees[t], 0, &next, under + (size_t)t * 127,
		    q->leaf[t]);
	}
	byfeat = ch_reallocarray(NULL, 256 * nt, sizeof *byfeat);
	fc = ch_calloc((size_t)f->nfeat, sizeof *fc);
	used = ch_calloc((size_t)f->nfeat, 1);
	for (t = 0; t < f->ntrees; t++)
		for (i = 0; i < f->trees[t].nnodes; i++)
			if (f->trees[t].nodes[i].feat >= 0)
				used[f->trees[t].nodes[i].feat] = 1;
	for (ft = 0; ft < f->nfeat; ft++) {
		if (!used[ft])
			continue;
		memset(byfeat, 0xff, 256 * nt * sizeof *byfeat);
		for (t = 0; t < f->ntrees; t++) {
			const struct ch_tree *tr = &f->trees[t];

			for (i = 0; i < tr->nnodes; i++) {
				if (tr->nodes[i].feat != ft)
					continue;
				for (c = 0; c < 256; c++)
					if (!(st[t].mask[i][c >> 3] >> (c & 7) & 1))
						byfeat[(size_t)c * nt + (size_t)t] &=
						    ~under[(size_t)t * 127 +
						    (size_t)tr->nodes[i].left];
			}
		}
		classify(byfeat, nt, &fc[ft]);
	}
	/* features in order, into tables of at most QS_COMBOS rows (a feature
	 * of more classes alone) */
	for (ft = 0; ft <= f->nfeat; ft++) {
		if (ft < f->nfeat && !used[ft])
			continue;
		if (ng > 0 && (ft == f->nfeat || ng == QS_GROUP ||
		    combos * fc[ft].ncls > QS_COMBOS)) {
			make_table(&q->tab[q->ntab++], group, ng, fc, nt);
			ng = 0;
			combos = 1;
		}
		if (ft < f->nfeat) {
			group[ng++] = ft;
			combos *= fc[ft].ncls;
		}
	}
	for (ft = 0; ft < f->nfeat; ft++)
		free(fc[ft].rows);
	free(fc);
	free(used);
	free(byfeat);
	free(under);
	return q;
}

static void
qs_free(struct qs *q)
{
	int i;

	if (!q)
		return;
	for (i = 0; i < q->ntab; i++)
		free(q->tab[i].words);
	free(q->tab);
	free(q->leaf);
	free(q);
}

typedef uint64_t qs_vec __attribute__((vector_size(64)));
typedef uint64_t qs_uvec __attribute__((vector_size(64), aligned(8)));

#define QS_ROWS 8

/* one copy of qs_run a vector width, chosen when the program starts */
#if defined(__x86_64__) && defined(__GNUC__)
#define QS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define QS_CLONES
#endif

/* QuickScorer: the sums of n rows, trees in order (as walk sums them).
 * Trees go 32 at a time, their words in four vectors kept in registers
 * while each table's row is ANDed in;
 * QS_ROWS rows at a time, so that their sums (each a chain of additions
 * in tree order) advance side by side. */
QS_CLONES
static void
qs_run(const struct ch_scorer *s, const uint8_t *x, size_t n, double *acc)
{
	const struct qs *q = s->qs;
	const struct qtab *g;
	size_t nt = (size_t)s->ntrees;
	size_t nf = (size_t)s->nfeat, i, j, k, t, t0, m, off;
	qs_vec v[4], w[QS_ROWS][4];
	const qs_uvec *r;
	const uint8_t *row;
	double sum[QS_ROWS];
	int f, h;

	for (i = 0; i < n; i += QS_ROWS) {
		k = n - i < QS_ROWS ? n - i : QS_ROWS;
		for (j = 0; j < k; j++)
			sum[j] = 0;
		for (t0 = 0; t0 < nt; t0 += 32) {
			m = nt - t0 < 32 ? nt - t0 : 32;
			for (j = 0; j < k; j++) {
				row = x + (i + j) * nf;
				v[0] = v[1] = v[2] = v[3] = ~(qs_vec){ 0 };
				for (f = 0; f < q->ntab; f++) {
					g = &q->tab[f];
					off = g->off[0][row[g->feat[0]]];
					for (h = 1; h < g->n; h++)
						off += g->off[h][row[g->feat[h]]];
					r = (const qs_uvec *)(g->words + off + t0);
					v[0] &= r[0];
					if (m > 8)
						v[1] &= r[1];
					if (m > 16)
						v[2] &= r[2];
					if (m > 24)
						v[3] &= r[3];
				}
				memcpy(w[j], v, sizeof v);
			}
			for (t = 0; t < m; t++)
				for (j = 0; j < k; j++)
					sum[j] += q->leaf[t0 + t][__builtin_ctzll(
					    ((const uint64_t *)w[j])[t])];
		}
		for (j = 0; j < k; j++)
			acc[i + j] = sum[j];
	}
}

static int
depth(const struct ch_tree *t, int32_t k)
{
	int l, r;

	if (t->nodes[k].feat < 0)
		return 0;
	l = depth(t, t->nodes[k].left);
	r = depth(t, t->nodes[k].right);
	return 1 + (l > r ? l : r);
}

struct ch_scorer *
ch_scorer_new(const struct ch_forest *f)
{
	struct ch_scorer *s = ch_calloc(1, sizeof *s);
	uint32_t i;
	int t;

	s->ntrees = f->ntrees;
	s->nfeat = f->nfeat;
	s->link = (struct ch_forest){ .nfeat = f->nfeat, .ntrees = f->ntrees,
	    .learner = f->learner, .base = f->base };
	s->t = ch_calloc((size_t)f->ntrees, sizeof *s->t);
	for (t = 0; t < f->ntrees; t++) {
		const struct ch_tree *tr = &f->trees[t];
		struct snode *n = ch_calloc(tr->nnodes, sizeof *n);
		uint8_t (*mask)[32] = ch_calloc(tr->nnodes, 32);
		int c;

		for (i = 0; i < tr->nnodes; i++) {
			const struct ch_node *o = &tr->nodes[i];

			n[i].value = o->value;
			if (o->feat < 0) {
				n[i].child[0] = n[i].child[1] = (int32_t)i;
				continue;
			}
			n[i].feat = (uint32_t)o->feat;
			n[i].child[0] = o->right;
			n[i].child[1] = o->left;
			if (o->categorical)
				memcpy(mask[i], tr->bitsets[o->arg], 32);
			else
				for (c = 0; c <= (int)o->arg && c < CH_MISSING; c++)
					mask[i][c >> 3] |= (uint8_t)(1u << (c & 7));
			mask[i][CH_MISSING >> 3] &= (uint8_t)~(1u << (CH_MISSING & 7));
			if (o->missing_left)
				mask[i][CH_MISSING >> 3] |= (uint8_t)(1u << (CH_MISSING & 7));
		}
		s->t[t].n = n;
		s->t[t].mask = mask;
		s->t[t].lut = ch_malloc(tr->nnodes * sizeof *s->t[t].lut);
		memset(s->t[t].lut, 0xff, tr->nnodes * sizeof *s->t[t].lut);
		s->t[t].luts = ch_malloc(((1u << (LUT_DEPTH + 1)) - 1) * 256);
		{
			int32_t nlut = 0;

			add_luts(&s->t[t], 0, 0, &nlut);
		}
		s->t[t].depth = depth(tr, 0);
	}
	s->qs = qs_new(f, s->t);
	return s;
}

#define BLOCK 1024

/*
 * Rows go down a tree together, a node at a time: at each node the rows
 * that reached it are split into those going left and right (each row
 * written to both ends of dst, one end kept: no branch), and each side goes
 * on with its part of the two buffers.  A node's feature and mask stay put
 * while its rows stream past.
 */
static void
walk(const struct stree *t, int32_t k, const uint8_t *x, size_t nf,
    uint16_t *src, uint16_t *dst, size_t n, double *acc)
{
	const struct snode *q;
	const uint8_t *mask;
	size_t i, lo, hi;
	unsigned c, l;
	uint16_t r, *tmp;

	for (;;) {
		q = &t->n[k];
		if (q->child[0] == k) {
			for (i = 0; i < n; i++)
				acc[src[i]] += q->value;
			return;
		}
		if (t->lut[k] >= 0) {
			const uint8_t *lut = t->luts[t->lut[k]];

			for (i = lo = 0, hi = n - 1; i < n; i++) {
				r = src[i];
				l = lut[x[(size_t)r * nf + q->feat]];
				dst[lo] = r;
				dst[hi] = r;
				lo += l;
				hi -= !l;
			}
		} else {
			mask = t->mask[k];
			for (i = lo = 0, hi = n - 1; i < n; i++) {
				r = src[i];
				c = x[(size_t)r * nf + q->feat];
				l = mask[c >> 3] >> (c & 7) & 1;
				dst[lo] = r;
				dst[hi] = r;
				lo += l;
				hi -= !l;
			}
		}
		/* left: dst[0, lo), recursively, with src as scratch; then on to
		 * the right: dst[lo, n), with the rest of src as scratch */
		if (lo > 0)
			walk(t, q->child[1], x, nf, dst, src, lo, acc);
		if (lo == n)
			return;
		k = q->child[0];
		tmp = src;
		src = dst + lo;
		dst = tmp + lo;
		n -= lo;
	}
}

/* One row (a request churn-serve scores): straight down each tree, with
 * none of walk's partitioning, which costs more than the row's steps; the
 * same leaves summed in the same order as walk's. */
static double
walk_one(const struct ch_scorer *s, const uint8_t *x)
{
	double acc = 0;
	int t;

	for (t = 0; t < s->ntrees; t++) {
		const struct stree *tr = &s->t[t];
		int32_t k = 0;
		unsigned c;

		while (tr->n[k].child[0] != k) {
			c = x[tr->n[k].feat];
			k = tr->n[k].child[tr->mask[k][c >> 3] >> (c & 7) & 1];
		}
		acc += tr->n[k].value;
	}
	return acc;
}

void
ch_scorer_run(const struct ch_scorer *s, const uint8_t *x, size_t n,
    double *p)
{
	size_t nf = (size_t)s->nfeat, b, m, i;
	double acc[BLOCK];
	uint16_t a[BLOCK], d[BLOCK];
	int t;

	if (n == 1) {
		p[0] = ch_forest_link(&s->link, walk_one(s, x));
		return;
	}
	for (b = 0; b < n; b += BLOCK) {
		m = n - b < BLOCK ? n - b : BLOCK;
		if (s->qs) {
			qs_run(s, x + b * nf, m, acc);
		} else {
			for (i = 0; i < m; i++)
				acc[i] = 0;
			for (t = 0; t < s->ntrees; t++) {
				for (i = 0; i < m; i++)
					a[i] = (uint16_t)i;
				walk(&s->t[t], 0, x + b * nf, nf, a, d, m, acc);
			}
		}
		for (i = 0; i < m; i++)
			p[b + i] = ch_forest_link(&s->link, acc[i]);
	}
}

void
ch_scorer_free(struct ch_scorer *s)
{
	int t;

	if (!s)
		return;
	qs_free(s->qs);
	for (t = 0; t < s->ntrees; t++) {
		free(s->t[t].n);
		free(s->t[t].mask);
		free(s->t[t].lut);
		free(s->t[t].luts);
	}
	free(s->t);
	free(s);
}
