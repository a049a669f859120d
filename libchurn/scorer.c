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

struct ch_scorer {
	int ntrees, nfeat;
	struct ch_forest link;  /* learner, base, ntrees: mean or logistic */
	struct stree *t;
};

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
		for (i = 0; i < m; i++)
			acc[i] = 0;
		for (t = 0; t < s->ntrees; t++) {
			for (i = 0; i < m; i++)
				a[i] = (uint16_t)i;
			walk(&s->t[t], 0, x + b * nf, nf, a, d, m, acc);
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
	for (t = 0; t < s->ntrees; t++) {
		free(s->t[t].n);
		free(s->t[t].mask);
		free(s->t[t].lut);
		free(s->t[t].luts);
	}
	free(s->t);
	free(s);
}
