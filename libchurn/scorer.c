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
	int depth;              /* longest root-to-leaf path */
};

struct ch_scorer {
	int ntrees, nfeat;
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
		s->t[t].depth = depth(tr, 0);
	}
	return s;
}

#define BLOCK 256

void
ch_scorer_run(const struct ch_scorer *s, const uint8_t *x, size_t n,
    double *p)
{
	size_t nf = (size_t)s->nfeat, b, m, i, j, na;
	double acc[BLOCK];
	int32_t k[BLOCK];
	uint16_t act[BLOCK];
	int t;

	for (b = 0; b < n; b += BLOCK) {
		const uint8_t *xb = x + b * nf;

		m = n - b < BLOCK ? n - b : BLOCK;
		for (i = 0; i < m; i++)
			acc[i] = 0;
		for (t = 0; t < s->ntrees; t++) {
			const struct snode *nd = s->t[t].n;
			const uint8_t (*mk)[32] = (const uint8_t (*)[32])s->t[t].mask;

			for (i = 0; i < m; i++) {
				k[i] = 0;
				act[i] = (uint16_t)i;
			}
			/* the rows of a block walk side by side, a level at a time;
			 * a row leaves the active list when it reaches a leaf (whose
			 * children are itself), without a branch */
			for (na = nd[0].child[0] == 0 ? 0 : m; na > 0; na = j) {
				for (i = j = 0; i < na; i++) {
					size_t r = act[i];
					int32_t at = k[r], to;
					unsigned c = xb[r * nf + nd[at].feat];

					to = nd[at].child[mk[at][c >> 3] >> (c & 7) & 1];
					k[r] = to;
					act[j] = (uint16_t)r;
					j += nd[to].child[0] != to;
				}
			}
			for (i = 0; i < m; i++)
				acc[i] += nd[k[i]].value;
		}
		for (i = 0; i < m; i++)
			p[b + i] = s->ntrees ? acc[i] / s->ntrees : NAN;
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
	}
	free(s->t);
	free(s);
}
