/* metrics.c - binary classification metrics */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

struct scored {
	double p;
	uint8_t y;
};

/* descending by score */
static int
cmp_desc(const void *a, const void *b)
{
	double x = ((const struct scored *)a)->p;
	double y = ((const struct scored *)b)->p;

	return (x < y) - (x > y);
}

/*
 * ROC-AUC and average precision from the rows sorted by score, walked one
 * group of tied scores at a time: a group is one threshold, so ties count
 * one half in the AUC (the trapezoid over a tied group) and move precision
 * and recall in one step, as scikit-learn's roc_auc_score and
 * average_precision_score do.
 */
static void
ranking(const double *p, const uint8_t *y, size_t n, double *auc, double *ap)
{
	struct scored *s = ch_reallocarray(NULL, n, sizeof *s);
	size_t i, j, P = 0, N, tp = 0, fp = 0;
	double area = 0, sum = 0;

	for (i = 0; i < n; i++) {
		s[i].p = p[i];
		s[i].y = y[i] != 0;
		P += s[i].y;
	}
	N = n - P;
	qsort(s, n, sizeof *s, cmp_desc);
	for (i = 0; i < n; i = j) {
		size_t gtp = 0, gfp = 0;

		for (j = i; j < n && s[j].p == s[i].p; j++) {
			gtp += s[j].y;
			gfp += !s[j].y;
		}
		if (j == i)     /* NaN never equals itself: a group of one */
			gtp = s[j].y, gfp = !s[j].y, j++;
		/* negatives of this group beat the positives seen before it
		 * and tie (one half) with those of the group */
		area += gfp * (tp + gtp / 2.0);
		tp += gtp;
		fp += gfp;
		if (gtp)
			sum += (double)gtp / P * ((double)tp / (tp + fp));
	}
	/* area counts pairs (negative, positive) with the positive ranked
	 * above; a pair is correct when the positive scores higher */
	*auc = P && N ? area / ((double)P * N) : NAN;
	*ap = P ? sum : NAN;
	free(s);
}

int
ch_metrics_compute(const double *p, const uint8_t *y, size_t n,
    double threshold, struct ch_metrics *m)
{
	size_t i;
	double ll = 0;

	memset(m, 0, sizeof *m);
	if (n == 0)
		return -1;
	m->n = n;
	m->threshold = threshold;
	for (i = 0; i < n; i++) {
		int pos = p[i] >= threshold, yi = y[i] != 0;
		double q = p[i];

		m->tp += pos && yi;
		m->fp += pos && !yi;
		m->tn += !pos && !yi;
		m->fn += !pos && yi;
		if (q < 1e-15)
			q = 1e-15;
		else if (q > 1 - 1e-15)
			q = 1 - 1e-15;
		ll -= yi ? log(q) : log1p(-q);
	}
	m->log_loss = ll / n;
	m->accuracy = (double)(m->tp + m->tn) / n;
	m->precision = m->tp + m->fp ? (double)m->tp / (m->tp + m->fp) : 0;
	m->recall = m->tp + m->fn ? (double)m->tp / (m->tp + m->fn) : 0;
	m->f1 = m->tp ? 2.0 * m->tp / (2.0 * m->tp + m->fp + m->fn) : 0;
	ranking(p, y, n, &m->roc_auc, &m->pr_auc);
	return 0;
}

static json_t *
real_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

json_t *
ch_metrics_to_json(const struct ch_metrics *m)
{
	json_t *o = json_object(), *c = json_object();

	json_object_set_new(o, "rows", json_integer((json_int_t)m->n));
	json_object_set_new(o, "roc_auc", real_or_null(m->roc_auc));
	json_object_set_new(o, "pr_auc", real_or_null(m->pr_auc));
	json_object_set_new(o, "accuracy", real_or_null(m->accuracy));
	json_object_set_new(o, "precision", real_or_null(m->precision));
	json_object_set_new(o, "recall", real_or_null(m->recall));
	json_object_set_new(o, "f1", real_or_null(m->f1));
	json_object_set_new(o, "log_loss", real_or_null(m->log_loss));
	json_object_set_new(o, "threshold", real_or_null(m->threshold));
	json_object_set_new(c, "tp", json_integer((json_int_t)m->tp));
	json_object_set_new(c, "fp", json_integer((json_int_t)m->fp));
	json_object_set_new(c, "tn", json_integer((json_int_t)m->tn));
	json_object_set_new(c, "fn", json_integer((json_int_t)m->fn));
	json_object_set_new(o, "confusion", c);
	return o;
}
