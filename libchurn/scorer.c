/* scorer.c - a forest laid out for fast batch scoring */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "scorer.h"

/* 16 bytes, so that large trees stay in cache */
struct snode {
	int32_t child[2];       /* [0] right, [1] left; a leaf: itself */
	uint16_t feat;
	uint8_t thr;            /* numeric: codes <= thr go left */
	uint8_t flags;          /* CAT: the mask decides; MISSL: missing left */
	uint32_t aux;           /* categorical: mask index; leaf: the value */
};

#define CAT 1
#define MISSL 2

struct stree {
	struct snode *n;
	uint8_t (*mask)[32];    /* [0] unused; bit c set: code c goes left */
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
		uint8_t (*mask)[32] = ch_calloc(tr->nbitsets + 1, 32);
		uint32_t nmask = 1;

		for (i = 0; i < tr->nnodes; i++) {
			const struct ch_node *o = &tr->nodes[i];

			if (o->feat < 0) {
				n[i].child[0] = n[i].child[1] = (int32_t)i;
				memcpy(&n[i].aux, &o->value, 4);
				continue;
			}
			n[i].feat = (uint16_t)o->feat;
			n[i].child[0] = o->right;
			n[i].child[1] = o->left;
			n[i].flags = o->missing_left ? MISSL : 0;
			if (o->categorical) {
				n[i].flags |= CAT;
				n[i].aux = nmask;
				memcpy(mask[nmask], tr->bitsets[o->arg], 32);
				mask[nmask][CH_MISSING >> 3] &= (uint8_t)~(1u << (CH_MISSING & 7));
				if (o->missing_left)
					mask[nmask][CH_MISSING >> 3] |= (uint8_t)(1u << (CH_MISSING & 7));
				nmask++;
			} else {
				n[i].thr = (uint8_t)o->arg;
			}
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
					const struct snode *q = &nd[k[r]];
					unsigned c = xb[r * nf + q->feat], l, lm, cat;
					int32_t to;

					cat = q->flags & CAT;
					l = (c <= q->thr) | ((c == CH_MISSING) & (q->flags >> 1));
					lm = (unsigned)mk[q->aux & -cat][c >> 3] >> (c & 7) & 1;
					l = (l & (cat - 1)) | (lm & -cat);
					to = q->child[l];
					k[r] = to;
					act[j] = (uint16_t)r;
					j += nd[to].child[0] != to;
				}
			}
			for (i = 0; i < m; i++) {
				float v;

				memcpy(&v, &nd[k[i]].aux, 4);
				acc[i] += v;
			}
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
