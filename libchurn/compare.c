/*
 * compare.c - champion against challenger (compare.h)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "metrics.h"

#define BINS 10

void
ch_cmp_add(struct ch_cmp_side *s, double p, int y)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->p = ch_reallocarray(s->p, s->cap, sizeof *s->p);
		s->y = ch_reallocarray(s->y, s->cap, sizeof *s->y);
	}
	s->p[s->n] = p;
	s->y[s->n++] = y == 0 || y == 1 ? (uint8_t)y : 255;
}

void
ch_cmp_free(struct ch_cmp_side *s)
{
	free(s->p);
	free(s->y);
	s->p = NULL;
	s->y = NULL;
	s->n = s->cap = 0;
}

/* The labelled rows of s. */
struct lab {
	double *p;
	uint8_t *y;
	size_t n, pos;
};

static void
labelled(const struct ch_cmp_side *s, struct lab *l)
{
	size_t i;

	l->p = ch_calloc(s->n + 1, sizeof *l->p);
	l->y = ch_calloc(s->n + 1, 1);
	l->n = l->pos = 0;
	for (i = 0; i < s->n; i++)
		if (s->y[i] != 255) {
			l->p[l->n] = s->p[i];
			l->pos += s->y[i];
			l->y[l->n++] = s->y[i];
		}
}

static void
measure(const double *p, const uint8_t *y, size_t n, double *auc,
    double *ll, double *brier)
{
	struct ch_metrics m;
	size_t i;
	double b = 0;

	*auc = *ll = *brier = NAN;
	if (n == 0 || ch_metrics_compute(p, y, n, 0.5, &m) != 0)
		return;
	*auc = m.roc_auc;
	*ll = m.log_loss;
	for (i = 0; i < n; i++)
		b += (p[i] - y[i]) * (p[i] - y[i]);
	*brier = b / (double)n;
}

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The 2.5 and 97.5 percentiles of the finite values of v[0..n). */
static json_t *
interval(double *v, size_t n)
{
	size_t k = 0, i;

	for (i = 0; i < n; i++)
		if (isfinite(v[i]))
			v[k++] = v[i];
	if (k < 2)
		return json_null();
	qsort(v, k, sizeof *v, by_value);
	return json_pack("[f,f]", v[(size_t)floor(0.025 * (double)(k - 1))],
	    v[(size_t)ceil(0.975 * (double)(k - 1))]);
}

static json_t *
num(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

static void
resample(const struct lab *l, struct ch_rng *rng, double *p, uint8_t *y)
{
	size_t i, j;

	for (i = 0; i < l->n; i++) {
		j = (size_t)ch_rng_below(rng, l->n);
		p[i] = l->p[j];
		y[i] = l->y[j];
	}
}

static void
hist(const struct ch_cmp_side *s, double *h)
{
	size_t i;
	int b;

	memset(h, 0, BINS * sizeof *h);
	for (i = 0; i < s->n; i++) {
		b = (int)(s->p[i] * BINS);
		h[b < 0 ? 0 : b >= BINS ? BINS - 1 : b]++;
	}
}

json_t *
ch_compare(const struct ch_cmp_side *a, const struct ch_cmp_side *b,
    int boot, uint64_t seed)
{
	const struct ch_cmp_side *side[2] = { a, b };
	struct lab l[2];
	struct ch_rng rng;
	double h[2][BINS], auc[2], ll[2], br[2], *bauc[2], *bll[2], *dauc, *dll;
	double *rp, psi = 0, na, nb;
	uint8_t *ry;
	json_t *versions = json_array(), *out;
	size_t i, maxn;
	int k, r;

	ch_rng_seed(&rng, seed);
	for (k = 0; k < 2; k++) {
		labelled(side[k], &l[k]);
		measure(l[k].p, l[k].y, l[k].n, &auc[k], &ll[k], &br[k]);
		hist(side[k], h[k]);
	}
	maxn = l[0].n > l[1].n ? l[0].n : l[1].n;
	rp = ch_calloc(maxn + 1, sizeof *rp);
	ry = ch_calloc(maxn + 1, 1);
	for (k = 0; k < 2; k++) {
		bauc[k] = ch_calloc((size_t)boot + 1, sizeof **bauc);
		bll[k] = ch_calloc((size_t)boot + 1, sizeof **bll);
	}
	dauc = ch_calloc((size_t)boot + 1, sizeof *dauc);
	dll = ch_calloc((size_t)boot + 1, sizeof *dll);
	for (r = 0; r < boot; r++) {
		for (k = 0; k < 2; k++) {
			double unused;

			resample(&l[k], &rng, rp, ry);
			measure(rp, ry, l[k].n, &bauc[k][r], &bll[k][r], &unused);
		}
		dauc[r] = bauc[1][r] - bauc[0][r];
		dll[r] = bll[1][r] - bll[0][r];
	}
	for (k = 0; k < 2; k++) {
		json_t *sc = json_array();
		double sum = 0;

		for (i = 0; i < BINS; i++)
			json_array_append_new(sc, json_integer((json_int_t)h[k][i]));
		for (i = 0; i < side[k]->n; i++)
			sum += side[k]->p[i];
		json_array_append_new(versions, json_pack("{s:s,s:I,s:I,s:I,s:o,"
		    "s:o,s:o,s:o,s:o,s:o,s:o}", "version", side[k]->version,
		    "rows", (json_int_t)side[k]->n, "labelled", (json_int_t)l[k].n,
		    "positives", (json_int_t)l[k].pos, "mean_probability",
		    num(side[k]->n ? sum / (double)side[k]->n : NAN), "scores", sc,
		    "roc_auc", num(auc[k]), "roc_auc_ci", interval(bauc[k],
		    (size_t)boot), "log_loss", num(ll[k]), "log_loss_ci",
		    interval(bll[k], (size_t)boot), "brier", num(br[k])));
	}
	na = (double)a->n, nb = (double)b->n;
	for (i = 0; i < BINS && na > 0 && nb > 0; i++) {
		double pa = fmax(h[0][i] / na, 1e-4), pb = fmax(h[1][i] / nb, 1e-4);
		psi += (pb - pa) * log(pb / pa);
	}
	out = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:i,s:f}", "versions", versions,
	    "psi", num(na > 0 && nb > 0 ? psi : NAN),
	    "roc_auc_diff", num(auc[1] - auc[0]),
	    "roc_auc_diff_ci", interval(dauc, (size_t)boot),
	    "log_loss_diff", num(ll[1] - ll[0]),
	    "log_loss_diff_ci", interval(dll, (size_t)boot),
	    "bootstrap", boot, "confidence", 0.95);
	for (k = 0; k < 2; k++) {
		free(l[k].p), free(l[k].y), free(bauc[k]), free(bll[k]);
	}
	free(dauc), free(dll), free(rp), free(ry);
	return out;
}
