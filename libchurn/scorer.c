/* scorer.c - a forest laid out for fast batch scoring */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "scorer.h"

struct snode {
	uint8_t mask[32];       /* bit c set: code c goes left */
	int32_t child[2];       /* [0] right, [1] left; a leaf: itself */
	int32_t feat;
	float value;
};

struct stree {
	struct snode *n;
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
	int t, c;

	s->ntrees = f->ntrees;
	s->nfeat = f->nfeat;
	s->t = ch_calloc((size_t)f->ntrees, sizeof *s->t);
	for (t = 0; t < f->ntrees; t++) {
		const struct ch_tree *tr = &f->trees[t];
		struct snode *n = ch_calloc(tr->nnodes, sizeof *n);

		for (i = 0; i < tr->nnodes; i++) {
			const struct ch_node *o = &tr->nodes[i];

			n[i].value = o->value;
			if (o->feat < 0) {
				n[i].child[0] = n[i].child[1] = (int32_t)i;
				continue;
			}
			n[i].feat = o->feat;
			n[i].child[0] = o->right;
			n[i].child[1] = o->left;
			if (o->categorical)
				memcpy(n[i].mask, tr->bitsets[o->arg], 32);
			else
				for (c = 0; c <= (int)o->arg && c < CH_MISSING; c++)
					n[i].mask[c >> 3] |= (uint8_t)(1u << (c & 7));
			n[i].mask[CH_MISSING >> 3] &= (uint8_t)~(1u << (CH_MISSING & 7));
			if (o->missing_left)
				n[i].mask[CH_MISSING >> 3] |= (uint8_t)(1u << (CH_MISSING & 7));
		}
		s->t[t].n = n;
		s->t[t].depth = depth(tr, 0);
	}
	return s;
}

#define BLOCK 128

void
ch_scorer_run(const struct ch_scorer *s, const uint8_t *x, size_t n,
    double *p)
{
	size_t nf = (size_t)s->nfeat, b, m, i;
	double acc[BLOCK];
	int32_t k[BLOCK];
	int t, d;

	for (b = 0; b < n; b += BLOCK) {
		const uint8_t *xb = x + b * nf;

		m = n - b < BLOCK ? n - b : BLOCK;
		for (i = 0; i < m; i++)
			acc[i] = 0;
		for (t = 0; t < s->ntrees; t++) {
			const struct snode *nd = s->t[t].n;

			for (i = 0; i < m; i++)
				k[i] = 0;
			/* every row takes depth steps: a leaf steps to itself, so
			 * the walks of a block run side by side without branches */
			for (d = 0; d < s->t[t].depth; d++)
				for (i = 0; i < m; i++) {
					const struct snode *q = &nd[k[i]];
					unsigned c = xb[i * nf + (size_t)q->feat];

					k[i] = q->child[q->mask[c >> 3] >> (c & 7) & 1];
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
	for (t = 0; t < s->ntrees; t++)
		free(s->t[t].n);
	free(s->t);
	free(s);
}
