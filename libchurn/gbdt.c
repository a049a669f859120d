/* gbdt.c - gradient-boosted trees on the forest's binned features
 *
 * Logistic loss, Newton leaves: each round computes every training row's
 * gradient g = p - y and hessian h = p (1 - p) and grows one tree on them,
 * best first (the leaf whose split gains most is split next) up to
 * max_leaves leaves, as scikit-learn's HistGradientBoosting and LightGBM
 * grow theirs.  A leaf's value is -lr G / (H + l2), stored as a float; the
 * raw scores are updated with the stored float, so training sees what the
 * scorer computes.
 *
 * Splits come from histograms of (G, H, rows) over the codes of every
 * feature (the last slot of a feature: missing).  The root's is built from
 * its rows; after a split, the smaller child's is built and the larger
 * one's is the parent's minus it.  Choices:
 *
 *  - gain: GL^2/(HL+l2) + GR^2/(HR+l2) - G^2/(H+l2), more than 1e-7;
 *    each side at least min_leaf rows and a hessian of 1e-3;
 *  - numeric: codes <= arg go left, arg half-way between the codes seen
 *    on either side (as the forest);
 *  - categorical: categories sorted by G / (H + 10), best prefix left;
 *    absent ones go right (a category unseen in training is missing);
 *  - missing values, when the node has some, are tried on both sides; when
 *    it has none they follow the side with more rows.
 *
 * With validation rows, boosting stops once patience rounds bring no lower
 * validation log-loss, and the trees up to the lowest are kept.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gbdt.h"
#include "schema.h"

#define CAT_SMOOTH 10.0
#define MIN_HESS 1e-3
#define MIN_GAIN 1e-7
#define SLACK 1e-9

/* Sums of one bin: floats, as LightGBM keeps them; half the memory
 * traffic of doubles, and a gradient sum needs no more than 24 bits.  The
 * row count too is a float (exact below 2^24 rows, which check_input
 * asks), so that a row adds to its bin in one four-lane add. */
struct slot {
	float g, h, n, pad;
};

/* A row's gradient, hessian, 1 and 0 as the histograms add them: lane by
 * lane, as scalar adds would (the same sums). */
typedef float gh4 __attribute__((vector_size(16)));

struct gsplit {
	int feat;
	double gain;
	int categorical;
	uint32_t arg;
	int mleft;
	uint8_t set[32];
	double gl, hl, nl;
};

/* A non-empty bin of one feature at one node. */
struct cbin {
	double key;             /* categorical: G / (H + CAT_SMOOTH) */
	int code;
	double g, h, n;
};

struct leaf {
	size_t lo, hi;          /* rows idx[lo, hi) */
	double g, h;
	int depth;
	uint32_t node;
	struct slot *hist;
	struct gsplit best;     /* best.feat < 0: cannot split */
};

struct gb {
	const struct ch_train_data *d;
	const struct ch_gbdt_params *p;
	int nfeat;
	uint8_t *X;             /* row-major codes of the training rows */
	uint16_t *S;            /* the same as histogram slots: off[f] + code,
	                           missing in the feature's last slot */
	uint32_t *off, nslots;
	double *grad, *hess;    /* [ntrain] */
	gh4 *gh;                /* [ntrain] the same as floats, 1, 0 */
	uint32_t *idx, *tmp;    /* [ntrain]: this round's rows first */
	uint32_t *rows;         /* [ntrain] the training rows */
	uint8_t *in;            /* [n] 1: in this round's sample */
	size_t ntrain, m;       /* training rows, rows of this round */
	double *imp;
	struct slot **pool;     /* [max_leaves] free histograms, npool of them:
	                           allocated once, not a malloc a leaf */
	int npool;
};

static double
score(double g, double h, double l2)
{
	return g * g / (h + l2);
}

static int
cmp_list(const void *a, const void *b)
{
	const struct cbin *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->code - y->code;
}

/* The split of feature f's codes at bin bi (missing left when bms) that
 * gained bg, with left sums bgl, bhl, bnl, written to best; list holds
 * the k non-empty bins in scan order (categorical), or is NULL (numeric:
 * the next non-empty code is looked up in hf). */
static void
take_split(const struct gb *s, const struct slot *hf, int nb, int f, int cat,
    int hasm, int bi, int bms, double bg, double bgl, double bhl, double bnl,
    double N, const struct cbin *list, struct gsplit *best)
{
	int i;

	best->feat = f;
	best->gain = bg;
	best->categorical = cat;
	best->gl = bgl, best->hl = bhl, best->nl = bnl;
	best->mleft = hasm ? bms : bnl >= N - bnl;
	memset(best->set, 0, sizeof best->set);
	best->arg = 0;
	if (cat) {
		for (i = 0; i <= bi; i++)
			best->set[list[i].code >> 3] |=
			    (uint8_t)(1u << (list[i].code & 7));
		return;
	}
	(void)s;
	/* bi is a code here: cut half-way to the next code seen */
	for (i = bi + 1; i < nb && hf[i].n == 0; i++)
		;
	best->arg = i == nb ? (uint32_t)nb - 1 :
	    (uint32_t)(bi + (i - bi - 1) / 2);
}

/*
 * Best split of a numeric feature f at leaf lf, straight from its
 * histogram in code order (empty bins skipped, as they add nothing): the
 * scan stops once the right side is below min_leaf rows for good.
 */
static void
eval_numeric(struct gb *s, const struct leaf *lf, int f, struct gsplit *best)
{
	const struct slot *hf = lf->hist + s->off[f];
	int nb = s->d->nbins[f], i, bi = -1, bms = 0;
	const struct slot *m = &hf[nb];
	int hasm = m->n > 0;
	double G = lf->g, H = lf->h, N = (double)(lf->hi - lf->lo);
	double l2 = s->p->l2, parent = score(G, H, l2), bg = best->gain;
	double GL = 0, HL = 0, NL = 0, bgl = 0, bhl = 0, bnl = 0;
	double minl = (double)s->p->min_leaf;
	double mg = m->g, mh = m->h, mn = m->n, need;
	int summed;

	/* The two scores summed without dividing (a/b + c/d = (ad + cb) / bd,
	 * b, d > 0) tell which bins may gain more than bg: the gain is
	 * computed as ever for those only, so the split is the one the
	 * divisions pick; the slack is far above either form's rounding. */
	need = (bg + parent) * (1 - SLACK);
	/* an empty bin is not skipped: it repeats the sums of the bin before
	 * it, which was tried on the same sums, so it cannot gain more (the
	 * test is strict); trying it costs less than a branch that guesses
	 * wrong.  Its g and h are left out all the same: after a subtraction
	 * they hold the rounding of the parent's sums, not rows. */
#define SUMS(i) do { \
		float in_ = hf[i].n != 0; \
		GL += hf[i].g * in_; \
		HL += hf[i].h * in_; \
		NL += hf[i].n; \
	} while (0)
	/* the bins before either side can hold min_leaf rows: sums only */
	for (i = 0; i < nb; i++) {
		SUMS(i);
		if (NL >= (hasm ? minl - mn : minl) || N - NL < minl)
			break;
	}
	for (summed = 1; i < nb; i++, summed = 0) {
		double gl, hl, nl, gr, hr, nr, gain, a, b;

		if (!summed)
			SUMS(i);
		if (N - NL < minl)
			break;  /* the right side only shrinks from here */
		gr = G - GL, hr = H - HL;
		a = HL + l2, b = hr + l2;
		if ((NL >= minl) & (HL >= MIN_HESS) & (hr >= MIN_HESS) &
		    (GL * GL * b + gr * gr * a > need * a * b)) {
			gain = score(GL, HL, l2) + score(gr, hr, l2) - parent;
			if (gain > bg)
				bg = gain, bi = i, bms = 0,
				bgl = GL, bhl = HL, bnl = NL,
				need = (bg + parent) * (1 - SLACK);
		}
		if (!hasm)
			continue;
		gl = GL + mg, hl = HL + mh, nl = NL + mn;
		gr = G - gl, hr = H - hl, nr = N - nl;
		a = hl + l2, b = hr + l2;
		if ((nl >= minl) & (nr >= minl) & (hl >= MIN_HESS) &
		    (hr >= MIN_HESS) & (gl * gl * b + gr * gr * a > need * a * b)) {
			gain = score(gl, hl, l2) + score(gr, hr, l2) - parent;
			if (gain > bg)
				bg = gain, bi = i, bms = 1, bgl = gl, bhl = hl,
				bnl = nl, need = (bg + parent) * (1 - SLACK);
		}
	}
#undef SUMS
	if (bi >= 0)
		take_split(s, hf, nb, f, 0, hasm, bi, bms, bg, bgl, bhl, bnl, N,
		    NULL, best);
}

/* Best split of feature f at leaf lf from its histogram. */
static void
eval_feature(struct gb *s, const struct leaf *lf, int f, struct gsplit *best)
{
	const struct slot *hf = lf->hist + s->off[f];
	struct cbin list[256];
	int nb = s->d->nbins[f], cat = s->d->categorical[f], k = 0, i, ms, bi = -1, bms = 0;
	const struct slot *m = &hf[nb];
	int hasm;
	double G = lf->g, H = lf->h, N = (double)(lf->hi - lf->lo);
	double l2 = s->p->l2, parent = score(G, H, l2), bg = best->gain;
	double gl, hl, nl, GL = 0, HL = 0, NL = 0, bgl = 0, bhl = 0, bnl = 0;
	double minl = (double)s->p->min_leaf;

	if (!cat) {
		eval_numeric(s, lf, f, best);
		return;
	}
	hasm = m->n > 0;
	for (i = 0; i < nb; i++) {
		if (hf[i].n <= 0)
			continue;
		list[k].code = i;
		list[k].g = hf[i].g;
		list[k].h = hf[i].h;
		list[k].n = hf[i].n;
		list[k].key = hf[i].g / (hf[i].h + CAT_SMOOTH);
		k++;
	}
	if (k == 0 || (k == 1 && !hasm))
		return;
	/* a few categories: insertion sort (cmp_list is a total order, so
	 * any sort gives this order) */
	for (i = 1; i < k; i++) {
		struct cbin t = list[i];

		for (ms = i; ms > 0 && cmp_list(&list[ms - 1], &t) > 0; ms--)
			list[ms] = list[ms - 1];
		list[ms] = t;
	}
	for (i = 0; i < k; i++) {
		GL += list[i].g;
		HL += list[i].h;
		NL += list[i].n;
		for (ms = 0; ms <= hasm; ms++) {
			double gr, hr, nr, gain;

			gl = GL + (ms ? m->g : 0);
			hl = HL + (ms ? m->h : 0);
			nl = NL + (ms ? m->n : 0);
			gr = G - gl, hr = H - hl, nr = N - nl;
			if (nl < minl || nr < minl || hl < MIN_HESS || hr < MIN_HESS)
				continue;
			gain = score(gl, hl, l2) + score(gr, hr, l2) - parent;
			if (gain > bg) {
				bg = gain, bi = i, bms = ms;
				bgl = gl, bhl = hl, bnl = nl;
			}
		}
	}
	if (bi >= 0)
		take_split(s, hf, nb, f, 1, hasm, bi, bms, bg, bgl, bhl, bnl, N,
		    list, best);
}

/* Whether a leaf of rows and depth could be split at all. */
static int
can_split(const struct gb *s, size_t rows, int depth)
{
	return !(s->p->max_depth > 0 && depth >= s->p->max_depth) &&
	    rows >= 2 * (size_t)s->p->min_leaf;
}

/* The best split of leaf lf over features [f0, f1) into best (feat -1:
 * none gains enough). */
static void
find_split(struct gb *s, const struct leaf *lf, int f0, int f1,
    struct gsplit *best)
{
	int f;

	best->feat = -1;
	best->gain = MIN_GAIN;
	if (!lf->hist || !can_split(s, lf->hi - lf->lo, lf->depth))
		return;
	for (f = f0; f < f1; f++)
		eval_feature(s, lf, f, best);
}

/* The first slot of feature f (nfeat: past the last). */
static size_t
slot_of(const struct gb *s, int f)
{
	return f < s->nfeat ? s->off[f] : s->nslots;
}

/* The slots of features [f0, f1) of h: the sums of rows idx[lo, hi). */
static void
hist_build(struct gb *s, struct slot *h, size_t lo, size_t hi, int f0, int f1)
{
	const size_t nf = (size_t)s->nfeat;
	size_t i, f;

	memset(h + slot_of(s, f0), 0, (slot_of(s, f1) - slot_of(s, f0)) * sizeof *h);
#define ADD_ROW(f) do { \
		struct slot *q_ = &h[x[f]]; \
		gh4 a_; \
		memcpy(&a_, q_, sizeof a_); \
		a_ += v; \
		memcpy(q_, &a_, sizeof a_); \
	} while (0)
	for (i = lo; i < hi; i++) {
		uint32_t r = s->idx[i];
		const uint16_t *x = s->S + (size_t)r * nf;
		gh4 v = s->gh[r];

		if (i + 8 < hi)
			__builtin_prefetch(s->S + (size_t)s->idx[i + 8] * nf);
		/* four features a turn: a feature's slots are its own, so
		 * the order within a row changes no sum */
		for (f = (size_t)f0; f + 4 <= (size_t)f1; f += 4) {
			ADD_ROW(f);
			ADD_ROW(f + 1);
			ADD_ROW(f + 2);
			ADD_ROW(f + 3);
		}
		for (; f < (size_t)f1; f++)
			ADD_ROW(f);
	}
#undef ADD_ROW
}

/* A histogram from the pool, allocated the first time (at most
 * max_leaves are held at once: one a leaf). */
static struct slot *
hist_get(struct gb *s)
{
	if (s->npool == 0)
		return ch_reallocarray(NULL, s->nslots, sizeof(struct slot));
	return s->pool[--s->npool];
}

static void
hist_put(struct gb *s, struct slot *h)
{
	if (h)
		s->pool[s->npool++] = h;
}

/* One step of growing, over features [f0, f1): the histogram slots of
 * build (rows idx[lo, hi)), those of into made into minus build (the
 * larger child: its parent's less the smaller one's), and the best splits
 * of the leaves eval[] over those features.  (Parted by features, two
 * threads could share a step; a crew that spun between steps cost more
 * CPU than it saved wall on a busy machine, and was left out.  Nor does a
 * thread lent to the shipped trees' run once the early-stopped run is
 * done pay (commit 1298f1e, reverted): the steps it shares are the last
 * fifth of the run, about 25 ms on the credit card set, each some 25 us
 * shared; on an idle two-core machine it gained no wall time (0.999x)
 * and cost 13 % more CPU.) */
struct part {
	struct gb *s;
	int f0, f1;
	struct slot *build, *into;
	size_t lo, hi;
	const struct leaf *eval[2];
	struct gsplit best[2];
};

static void
run_part(void *arg)
{
	struct part *t = arg;
	struct gb *s = t->s;
	size_t k, k1 = slot_of(s, t->f1);
	int i;

	if (t->build)
		hist_build(s, t->build, t->lo, t->hi, t->f0, t->f1);
	if (t->into)
		for (k = slot_of(s, t->f0); k < k1; k++) {
			gh4 a, b;

			memcpy(&a, &t->into[k], sizeof a);
			memcpy(&b, &t->build[k], sizeof b);
			a -= b;
			memcpy(&t->into[k], &a, sizeof a);
		}
	for (i = 0; i < 2; i++)
		if (t->eval[i])
			find_split(s, t->eval[i], t->f0, t->f1, &t->best[i]);
}

/* A step: the part of every feature. */
static void
step(struct gb *s, struct slot *build, size_t lo, size_t hi,
    struct slot *into, struct leaf *e0, struct leaf *e1)
{
	struct part pt = { s, 0, s->nfeat, build, into, lo, hi, { e0, e1 },
	    { { .feat = -1 }, { .feat = -1 } } };

	run_part(&pt);
	if (e0)
		e0->best = pt.best[0];
	if (e1)
		e1->best = pt.best[1];
}

struct tb {                     /* a tree being built */
	struct ch_node *nodes;
	uint32_t nnodes, cap;
	uint8_t (*bits)[32];
	uint32_t nbits;
};

static uint32_t
tb_node(struct tb *t)
{
	if (t->nnodes == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->nodes = ch_reallocarray(t->nodes, t->cap, sizeof *t->nodes);
	}
	memset(&t->nodes[t->nnodes], 0, sizeof *t->nodes);
	t->nodes[t->nnodes].feat = -1;
	return t->nnodes++;
}

static float
leaf_value(const struct gb *s, double g, double h)
{
	return (float)(-s->p->learning_rate * g / (h + s->p->l2 + 1e-12));
}

/* Raw score of one row (codes x, row-major) for tree t. */
static double
tree_value(const struct ch_tree *t, const uint8_t *x)
{
	int32_t i = 0;

	while (t->nodes[i].feat >= 0) {
		const struct ch_node *n = &t->nodes[i];
		unsigned c = x[n->feat];
		int l;

		if (c == CH_MISSING)
			l = n->missing_left;
		else if (n->categorical)
			l = t->bitsets[n->arg][c >> 3] >> (c & 7) & 1;
		else
			l = c <= n->arg;
		i = l ? n->left : n->right;
	}
	return (double)t->nodes[i].value;
}

/* Grows one tree on the current gradients; adds its leaves to raw[] of
 * the training rows and returns the tree. */
static void
grow(struct gb *s, struct ch_tree *out, double *raw)
{
	int maxl = s->p->max_leaves, nl = 1, i, bi;
	struct leaf *L = ch_calloc((size_t)maxl + 1, sizeof *L);
	struct tb t = { 0 };
	size_t r;

	L[0].lo = 0;
	L[0].hi = s->m;
	for (r = 0; r < s->m; r++) {
		L[0].g += s->grad[s->idx[r]];
		L[0].h += s->hess[s->idx[r]];
	}
	L[0].node = tb_node(&t);
	L[0].hist = hist_get(s);
	step(s, L[0].hist, 0, s->m, NULL, &L[0], NULL);
	while (nl < maxl) {
		struct leaf *p, a, b, *small, *large, *sl;
		struct gsplit *sp;
		uint8_t go[256];
		size_t lo, k, j;
		int c, last, need_l, need_s;

		for (bi = -1, i = 0; i < nl; i++)
			if (L[i].best.feat >= 0 &&
			    (bi < 0 || L[i].best.gain > L[bi].best.gain))
				bi = i;
		if (bi < 0)
			break;
		p = &L[bi];
		sp = &p->best;
		for (c = 0; c < 256; c++)
			go[c] = sp->categorical ? (uint8_t)(sp->set[c >> 3] >> (c & 7) & 1)
			    : (uint8_t)((uint32_t)c <= sp->arg);
		go[CH_MISSING] = (uint8_t)sp->mleft;
		/* partition: left rows first, order kept */
		{
			/* the feature's column: the rows ascend in idx, so its
			 * bytes are read in order (the row-major codes would
			 * cost a cache line a row) */
			const uint8_t *col = s->d->codes[sp->feat];

			/* both stores made, one kept: which side a row takes is
			 * a coin toss to the branch predictor */
			for (k = lo = p->lo, j = 0; k < p->hi; k++) {
				uint32_t row = s->idx[k];
				int l = go[col[row]];

				s->idx[lo] = row;
				s->tmp[j] = row;
				lo += (size_t)l;
				j += (size_t)!l;
			}
		}
		memcpy(s->idx + lo, s->tmp, j * sizeof *s->tmp);
		s->imp[sp->feat] += sp->gain;
		{
			struct ch_node *nd = &t.nodes[p->node];
			uint32_t ln = tb_node(&t), rn = tb_node(&t);

			nd = &t.nodes[p->node];
			nd->feat = sp->feat;
			nd->categorical = (uint8_t)sp->categorical;
			nd->missing_left = (uint8_t)sp->mleft;
			if (sp->categorical) {
				t.bits = ch_reallocarray(t.bits, t.nbits + 1, 32);
				memcpy(t.bits[t.nbits], sp->set, 32);
				nd->arg = t.nbits++;
			} else {
				nd->arg = sp->arg;
			}
			nd->left = (int32_t)ln;
			nd->right = (int32_t)rn;
			a = (struct leaf){ p->lo, lo, sp->gl, sp->hl, p->depth + 1, ln, NULL, { 0 } };
			b = (struct leaf){ lo, p->hi, p->g - sp->gl, p->h - sp->hl, p->depth + 1, rn, NULL, { 0 } };
		}
		/* histograms: the smaller child's built, the larger's
		 * subtracted; none after the last split, nor for children
		 * that cannot split (their splits are not looked for) */
		a.best.feat = b.best.feat = -1;
		small = a.hi - a.lo <= b.hi - b.lo ? &a : &b;
		large = small == &a ? &b : &a;
		last = nl + 1 >= maxl;
		need_l = !last && can_split(s, large->hi - large->lo, large->depth);
		need_s = !last && can_split(s, small->hi - small->lo, small->depth);
		if (need_l || need_s)
			small->hist = hist_get(s);
		if (need_l)
			large->hist = p->hist;
		else
			hist_put(s, p->hist);
		L[bi] = a;
		L[nl++] = b;
		sl = small == &a ? &L[bi] : &L[nl - 1];
		if (need_l || need_s)
			step(s, sl->hist, sl->lo, sl->hi, need_l ?
			    (sl == &L[bi] ? L[nl - 1].hist : L[bi].hist) : NULL,
			    &L[bi], &L[nl - 1]);
		if (sl->hist && !need_s) {
			hist_put(s, sl->hist);
			sl->hist = NULL;
		}
	}
	for (i = 0; i < nl; i++) {
		float v = leaf_value(s, L[i].g, L[i].h);

		t.nodes[L[i].node].value = v;
		for (r = L[i].lo; r < L[i].hi; r++)
			raw[s->idx[r]] += (double)v;
		hist_put(s, L[i].hist);
	}
	free(L);
	out->nnodes = t.nnodes;
	out->nodes = t.nodes;
	out->nbitsets = t.nbits;
	out->bitsets = t.bits;
	/* the training rows left out of this round's sample */
	if (s->m < s->ntrain)
		for (r = 0; r < s->ntrain; r++) {
			uint32_t row = s->rows[r];

			if (!s->in[row])
				raw[row] += tree_value(out, s->X + (size_t)row * s->nfeat);
		}
}

void
ch_gbdt_defaults(struct ch_gbdt_params *p)
{
	p->max_iter = 1000;
	p->learning_rate = 0.1;
	p->max_leaves = 15;
	p->max_depth = 0;
	p->min_leaf = 40;
	p->l2 = 0;
	p->patience = 20;
	p->subsample = 1;
	p->seed = 1;
	p->until = NULL;
}

static double
sigmoid(double x)
{
	return 1 / (1 + exp(-x));
}


static double
logloss(const double *raw, const uint8_t *y, const uint32_t *rows, size_t n)
{
	double s = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		double p = sigmoid(raw[rows[i]]);

		p = p < 1e-15 ? 1e-15 : p > 1 - 1e-15 ? 1 - 1e-15 : p;
		s -= y[rows[i]] ? log(p) : log(1 - p);
	}
	return n ? s / (double)n : NAN;
}

/* The inputs checked: rows, parameters, codes below their bin counts. */
static int
check_input(const struct ch_train_data *d, const struct ch_gbdt_params *p,
    size_t n, struct ch_err *e)
{
	size_t i;
	int f;

	if (!d || n == 0 || d->nfeat < 1)
		return ch_errf(e, "no training rows");
	if (n >= (size_t)1 << 24)    /* bin counts are floats */
		return ch_errf(e, "too many training rows for boosting (%zu)", n);
	if (p->max_iter < 1 || p->max_leaves < 2 || p->min_leaf < 1 ||
	    !(p->learning_rate > 0) || !(p->l2 >= 0) || p->max_depth < 0 ||
	    !(p->subsample > 0 && p->subsample <= 1))
		return ch_errf(e, "bad boosting parameters");
	for (f = 0; f < d->nfeat; f++) {
		if (d->nbins[f] < 1 || d->nbins[f] > CH_MAXBINS)
			return ch_errf(e, "feature %d: %d bins (1..%d allowed)",
			    f, d->nbins[f], CH_MAXBINS);
		for (i = 0; i < n; i++)
			if (d->codes[f][i] >= d->nbins[f] &&
			    d->codes[f][i] != CH_MISSING)
				return ch_errf(e, "feature %d: row %zu: code %u "
				    "is not below %d", f, i, d->codes[f][i],
				    d->nbins[f]);
	}
	return 0;
}

/* s's row-major codes X, slot offsets and slots S; -1 (nothing left
 * allocated) when the slots do not fit in 16 bits. */
static int
layout(struct gb *s, const struct ch_train_data *d, size_t n, struct ch_err *e)
{
	size_t i;
	int f;

	s->X = ch_reallocarray(NULL, n, (size_t)d->nfeat);
	for (f = 0; f < d->nfeat; f++)
		for (i = 0; i < n; i++)
			s->X[i * (size_t)d->nfeat + (size_t)f] = d->codes[f][i];
	s->off = ch_reallocarray(NULL, (size_t)d->nfeat, sizeof *s->off);
	for (f = 0; f < d->nfeat; f++) {
		s->off[f] = s->nslots;
		s->nslots += (uint32_t)d->nbins[f] + 1;
	}
	/* at most 255 features of 256 slots fit in 16 bits */
	if (s->nslots > UINT16_MAX) {
		free(s->X);
		free(s->off);
		return ch_errf(e, "too many features for boosting (%d)", d->nfeat);
	}
	s->S = ch_reallocarray(NULL, n, (size_t)d->nfeat * sizeof *s->S);
	for (i = 0; i < n; i++)
		for (f = 0; f < d->nfeat; f++) {
			unsigned c = s->X[i * (size_t)d->nfeat + (size_t)f];
			unsigned nb = (unsigned)d->nbins[f];

			s->S[i * (size_t)d->nfeat + (size_t)f] =
			    (uint16_t)(s->off[f] + (c < nb ? c : nb));
		}
	return 0;
}

/* The working arrays of s for n rows allocated. */
static void
alloc_work(struct gb *s, size_t n)
{
	s->grad = ch_reallocarray(NULL, n, sizeof *s->grad);
	s->hess = ch_reallocarray(NULL, n, sizeof *s->hess);
	s->gh = ch_reallocarray(NULL, n, sizeof *s->gh);
	s->idx = ch_reallocarray(NULL, n, sizeof *s->idx);
	s->tmp = ch_reallocarray(NULL, n, sizeof *s->tmp);
	s->rows = ch_reallocarray(NULL, n, sizeof *s->rows);
	s->in = ch_calloc(n, 1);
	s->pool = ch_reallocarray(NULL, (size_t)s->p->max_leaves, sizeof *s->pool);
	s->npool = 0;
}

/* Everything s holds freed. */
static void
free_work(struct gb *s)
{
	free(s->X);
	free(s->S);
	free(s->off);
	free(s->grad);
	free(s->hess);
	free(s->gh);
	free(s->idx);
	free(s->tmp);
	free(s->rows);
	free(s->in);
	free(s->imp);
	while (s->npool > 0)
		free(s->pool[--s->npool]);
	free(s->pool);
}

/* One boosting run's state beside the tree grower's. */
struct run {
	struct ch_forest *fo;
	double *raw;            /* [n] raw scores */
	uint32_t *vrows;        /* [nv] the validation rows */
	size_t nv;
	double *best_raw, best; /* raw scores and log-loss at best_it */
	int best_it;
	double *imp_rounds;     /* [max_iter][nfeat] importances after each */
	struct ch_rng rng;
};

/* Round it's gradients and hessians on this round's sample of rows. */
static void
round_rows(struct gb *s, struct run *r, const struct ch_gbdt_params *p)
{
	size_t i;

	/* this round's rows: all, or a seeded sample of them (the same
	 * sample whatever else runs: the RNG is this training's own) */
	s->m = 0;
	if (p->subsample >= 1) {        /* in[] is read for a sample only */
		memcpy(s->idx, s->rows, s->ntrain * sizeof *s->idx);
		s->m = s->ntrain;
	} else {
		for (i = 0; i < s->ntrain; i++) {
			uint32_t k = s->rows[i];

			s->in[k] = ch_rng_unit(&r->rng) < p->subsample;
			if (s->in[k])
				s->idx[s->m++] = k;
		}
	}
	for (i = 0; i < s->m; i++) {
		uint32_t k = s->idx[i];
		double q = sigmoid(r->raw[k]);

		s->grad[k] = q - (s->d->y[k] != 0);
		s->hess[k] = q * (1 - q);
		s->gh[k] = (gh4){ (float)s->grad[k], (float)s->hess[k], 1, 0 };
	}
}

/* The rounds grown until max_iter, the count p->until says, or patience
 * rounds without a lower validation loss. */
static void
boost(struct gb *s, struct run *r, const struct ch_gbdt_params *p)
{
	const struct ch_train_data *d = s->d;
	struct ch_forest *fo = r->fo;
	size_t i;
	int it, u;

	for (it = 0; it < p->max_iter; it++) {
		double ll;

		if (p->until && (u = atomic_load(p->until)) > 0 && it >= u)
			break;
		round_rows(s, r, p);
		grow(s, &fo->trees[it], r->raw);
		fo->ntrees = it + 1;
		if (r->imp_rounds)
			memcpy(r->imp_rounds + (size_t)it * d->nfeat, s->imp,
			    (size_t)d->nfeat * sizeof *s->imp);
		if (!r->nv)
			continue;
		for (i = 0; i < r->nv; i++) {
			uint32_t k = r->vrows[i];

			r->raw[k] += tree_value(&fo->trees[it], s->X + (size_t)k * s->nfeat);
		}
		ll = logloss(r->raw, d->y, r->vrows, r->nv);
		if (ll < r->best - 1e-12) {
			r->best = ll;
			r->best_it = it + 1;
			for (i = 0; i < r->nv; i++)
				r->best_raw[r->vrows[i]] = r->raw[r->vrows[i]];
		} else if (it + 1 - r->best_it >= p->patience) {
			break;
		}
	}
}

/* The trees of fo from the n-th on freed. */
static void
truncate_trees(struct ch_forest *fo, int n)
{
	int it;

	for (it = n; it < fo->ntrees; it++) {
		free(fo->trees[it].nodes);
		free(fo->trees[it].bitsets);
	}
	fo->ntrees = n;
}

/* The trees kept: up to the lowest validation loss, then (p->until) as
 * many as the count the caller sets, waited for. */
static void
keep_rounds(struct gb *s, struct run *r, const struct ch_gbdt_params *p)
{
	struct ch_forest *fo = r->fo;
	int u;

	if (r->nv) {
		/* keep the trees up to the lowest validation loss (one at least:
		 * a forest of none is not a model) */
		if (r->best_it < 1)
			r->best_it = 1;
		truncate_trees(fo, r->best_it);
	}
	if (p->until) {
		/* out of rounds before the count was known: wait for it */
		while ((u = atomic_load(p->until)) == 0) {
			struct timespec ts = { 0, 1000000 };

			nanosleep(&ts, NULL);
		}
		if (u > fo->ntrees)
			u = fo->ntrees;
		truncate_trees(fo, u);
		memcpy(s->imp, r->imp_rounds + (size_t)(u - 1) * s->nfeat,
		    (size_t)s->nfeat * sizeof *s->imp);
	}
}

/* st filled from the run: rounds, importances, validation loss and
 * probabilities (NaN off the validation rows). */
static void
fill_stats(const struct gb *s, const struct run *r, size_t n,
    struct ch_gbdt_stats *st)
{
	double sum;
	size_t i;
	int f;

	st->iterations = r->fo->ntrees;
	st->importance = ch_calloc((size_t)s->nfeat, sizeof *st->importance);
	for (sum = 0, f = 0; f < s->nfeat; f++)
		sum += s->imp[f];
	for (f = 0; f < s->nfeat; f++)
		st->importance[f] = sum > 0 ? s->imp[f] / sum : 0;
	st->valid_logloss = r->nv ? r->best : NAN;
	st->valid_prob = ch_reallocarray(NULL, n, sizeof *st->valid_prob);
	for (i = 0; i < n; i++)
		st->valid_prob[i] = NAN;
	for (i = 0; i < r->nv; i++)
		st->valid_prob[r->vrows[i]] = sigmoid(r->best_raw[r->vrows[i]]);
}

int
ch_gbdt_train(const struct ch_train_data *d, const struct ch_gbdt_params *p,
    const uint8_t *valid, struct ch_forest **out, struct ch_gbdt_stats *st,
    struct ch_err *e)
{
	struct gb s;
	struct run r;
	struct ch_forest *fo;
	size_t n = d ? d->n : 0, i, pos = 0;
	double base;

	*out = NULL;
	if (st)
		memset(st, 0, sizeof *st);
	if (check_input(d, p, n, e) != 0)
		return -1;
	memset(&s, 0, sizeof s);
	memset(&r, 0, sizeof r);
	r.best = INFINITY;
	s.d = d;
	s.p = p;
	s.nfeat = d->nfeat;
	if (layout(&s, d, n, e) != 0)
		return -1;
	alloc_work(&s, n);
	ch_rng_seed(&r.rng, p->seed ^ 0x9b05ab7ee5ull);
	r.vrows = ch_reallocarray(NULL, n, sizeof *r.vrows);
	s.imp = ch_calloc((size_t)d->nfeat, sizeof *s.imp);
	r.raw = ch_reallocarray(NULL, n, sizeof *r.raw);
	for (i = 0; i < n; i++) {
		if (valid && valid[i]) {
			r.vrows[r.nv++] = (uint32_t)i;
		} else {
			s.rows[s.ntrain++] = (uint32_t)i;
			pos += d->y[i] != 0;
		}
	}
	if (s.ntrain == 0) {
		ch_errf(e, "no training rows outside the validation rows");
		free(r.raw);
		free(r.vrows);
		free_work(&s);
		return -1;
	}
	/* the log-odds of the training rows, shrunk off 0 and 1 */
	base = log(((double)pos + 0.5) / ((double)(s.ntrain - pos) + 0.5));
	for (i = 0; i < n; i++)
		r.raw[i] = base;
	fo = r.fo = ch_calloc(1, sizeof *fo);
	fo->nfeat = d->nfeat;
	fo->learner = CH_LEARN_GBDT;
	fo->base = base;
	fo->trees = ch_calloc((size_t)p->max_iter, sizeof *fo->trees);
	if (r.nv) {
		r.best_raw = ch_reallocarray(NULL, n, sizeof *r.best_raw);
		r.best = logloss(r.raw, d->y, r.vrows, r.nv);
		memcpy(r.best_raw, r.raw, n * sizeof *r.raw);
	}
	if (p->until)
		r.imp_rounds = ch_calloc((size_t)p->max_iter * (size_t)d->nfeat,
		    sizeof *r.imp_rounds);
	boost(&s, &r, p);
	keep_rounds(&s, &r, p);
	free(r.imp_rounds);
	if (st)
		fill_stats(&s, &r, n, st);
	*out = fo;
	free(r.best_raw);
	free(r.raw);
	free(r.vrows);
	free_work(&s);
	return 0;
}

void
ch_gbdt_stats_free(struct ch_gbdt_stats *s)
{
	if (!s)
		return;
	free(s->importance);
	free(s->valid_prob);
	s->importance = NULL;
	s->valid_prob = NULL;
}
