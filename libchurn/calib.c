/* calib.c - probability calibration: Platt scaling and isotonic regression */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"

#define EPS 1e-15
/* isotonic outputs are kept off 0 and 1: a probability of exactly 0 makes
 * the log-loss of one surprise infinite */
#define ISO_CLIP 1e-4

static const char *const names[] = { "none", "platt", "isotonic" };

const char *
ch_calib_name(enum ch_calib_method m)
{
	return (unsigned)m < 3 ? names[m] : NULL;
}

int
ch_calib_parse(const char *s, enum ch_calib_method *m)
{
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(s, names[i]) == 0) {
			*m = (enum ch_calib_method)i;
			return 0;
		}
	return -1;
}

static double
clip(double p)
{
	return p < EPS ? EPS : p > 1 - EPS ? 1 - EPS : p;
}

static double
logit(double p)
{
	p = clip(p);
	return log(p / (1 - p));
}

/* Platt: Newton's method on (a, b) for the log-loss of
 * logistic(a z + b), z = logit(p), with Platt's target smoothing. */
static void
fit_platt(struct ch_calib *c, const double *p, const uint8_t *y, size_t n)
{
	double a = 1, b = 0, np = 0, nn = 0, tp, tn;
	size_t i;
	int it;

	for (i = 0; i < n; i++)
		if (!isnan(p[i]))
			y[i] ? np++ : nn++;
	tp = (np + 1) / (np + 2);
	tn = 1 / (nn + 2);
	for (it = 0; it < 50; it++) {
		double ga = 0, gb = 0, haa = 1e-9, hab = 0, hbb = 1e-9, det, da, db;

		for (i = 0; i < n; i++) {
			double z, q, t, w;

			if (isnan(p[i]))
				continue;
			z = logit(p[i]);
			q = 1 / (1 + exp(-(a * z + b)));
			t = y[i] ? tp : tn;
			w = q * (1 - q);
			ga += (q - t) * z;
			gb += q - t;
			haa += w * z * z;
			hab += w * z;
			hbb += w;
		}
		det = haa * hbb - hab * hab;
		if (!(fabs(det) > 1e-12))
			break;
		da = (hbb * ga - hab * gb) / det;
		db = (haa * gb - hab * ga) / det;
		a -= da;
		b -= db;
		if (fabs(da) + fabs(db) < 1e-10)
			break;
	}
	c->a = a;
	c->b = b;
}

struct pt {
	double p;
	uint8_t y;
};

static int
cmp_pt(const void *a, const void *b)
{
	const struct pt *x = a, *y = b;

	return x->p < y->p ? -1 : x->p > y->p;
}

/* Isotonic: pool adjacent violators over the rows sorted by p; each block
 * gives two points (its smallest and largest p) at its mean. */
static void
fit_isotonic(struct ch_calib *c, const double *p, const uint8_t *y, size_t n)
{
	struct pt *r = ch_reallocarray(NULL, n ? n : 1, sizeof *r);
	double *sum, *w, *lo, *hi;
	size_t m = 0, i, k = 0;

	for (i = 0; i < n; i++)
		if (!isnan(p[i]))
			r[m].p = p[i], r[m++].y = y[i];
	qsort(r, m, sizeof *r, cmp_pt);
	sum = ch_reallocarray(NULL, m ? m : 1, sizeof *sum);
	w = ch_reallocarray(NULL, m ? m : 1, sizeof *w);
	lo = ch_reallocarray(NULL, m ? m : 1, sizeof *lo);
	hi = ch_reallocarray(NULL, m ? m : 1, sizeof *hi);
	for (i = 0; i < m; i++) {
		/* ties in p form one block from the start */
		if (k > 0 && r[i].p == hi[k - 1]) {
			sum[k - 1] += r[i].y;
			w[k - 1] += 1;
		} else {
			sum[k] = r[i].y, w[k] = 1, lo[k] = hi[k] = r[i].p;
			k++;
		}
		while (k > 1 && sum[k - 2] / w[k - 2] >= sum[k - 1] / w[k - 1]) {
			sum[k - 2] += sum[k - 1];
			w[k - 2] += w[k - 1];
			hi[k - 2] = hi[k - 1];
			k--;
		}
	}
	c->n = 0;
	c->x = ch_reallocarray(NULL, 2 * k + 1, sizeof *c->x);
	c->y = ch_reallocarray(NULL, 2 * k + 1, sizeof *c->y);
	for (i = 0; i < k; i++) {
		double v = sum[i] / w[i];

		v = v < ISO_CLIP ? ISO_CLIP : v > 1 - ISO_CLIP ? 1 - ISO_CLIP : v;
		c->x[c->n] = lo[i], c->y[c->n++] = v;
		if (hi[i] > lo[i])
			c->x[c->n] = hi[i], c->y[c->n++] = v;
	}
	if (c->n == 0) {
		c->x[0] = 0.5;
		c->y[0] = 0.5;
		c->n = 1;
	}
	free(r);
	free(sum);
	free(w);
	free(lo);
	free(hi);
}

void
ch_calib_fit(struct ch_calib *c, enum ch_calib_method m, const double *p,
    const uint8_t *y, size_t n)
{
	memset(c, 0, sizeof *c);
	c->method = m;
	if (m == CH_CALIB_PLATT)
		fit_platt(c, p, y, n);
	else if (m == CH_CALIB_ISOTONIC)
		fit_isotonic(c, p, y, n);
}

double
ch_calib_apply(const struct ch_calib *c, double p)
{
	int lo, hi, mid;

	if (isnan(p))
		return p;
	switch (c->method) {
	case CH_CALIB_PLATT:
		return 1 / (1 + exp(-(c->a * logit(p) + c->b)));
	case CH_CALIB_ISOTONIC:
		if (p <= c->x[0])
			return c->y[0];
		if (p >= c->x[c->n - 1])
			return c->y[c->n - 1];
		lo = 0, hi = c->n - 1;  /* x[lo] < p < x[hi] */
		while (hi - lo > 1) {
			mid = (lo + hi) / 2;
			if (c->x[mid] <= p)
				lo = mid;
			else
				hi = mid;
		}
		if (c->x[hi] == c->x[lo])
			return c->y[hi];
		return c->y[lo] + (c->y[hi] - c->y[lo]) * (p - c->x[lo]) /
		    (c->x[hi] - c->x[lo]);
	default:
		return p;
	}
}

double
ch_logloss(const double *p, const uint8_t *y, size_t n)
{
	double s = 0;
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (isnan(p[i]))
			continue;
		s -= y[i] ? log(clip(p[i])) : log(1 - clip(p[i]));
		k++;
	}
	return k ? s / (double)k : NAN;
}

double
ch_brier(const double *p, const uint8_t *y, size_t n)
{
	double s = 0;
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (isnan(p[i]))
			continue;
		s += (p[i] - y[i]) * (p[i] - y[i]);
		k++;
	}
	return k ? s / (double)k : NAN;
}

double
ch_calib_cv_logloss(enum ch_calib_method m, const double *p,
    const uint8_t *y, size_t n, int k, uint64_t seed)
{
	int *fold = ch_reallocarray(NULL, n ? n : 1, sizeof *fold);
	double *q = ch_reallocarray(NULL, n ? n : 1, sizeof *q);
	double *tp = ch_reallocarray(NULL, n ? n : 1, sizeof *tp), ll;
	size_t i, j, *ord = ch_reallocarray(NULL, n ? n : 1, sizeof *ord), t;
	struct ch_rng r;
	struct ch_calib c;
	int f;

	ch_rng_seed(&r, seed ^ 0xca11b4a7e5ull);
	for (i = 0; i < n; i++)
		ord[i] = i;
	for (i = n; i > 1; i--) {
		j = (size_t)ch_rng_below(&r, i);
		t = ord[i - 1], ord[i - 1] = ord[j], ord[j] = t;
	}
	for (i = 0; i < n; i++)
		fold[ord[i]] = (int)(i % (size_t)k);
	for (f = 0; f < k; f++) {
		for (i = 0; i < n; i++)
			tp[i] = fold[i] == f ? NAN : p[i];
		ch_calib_fit(&c, m, tp, y, n);
		for (i = 0; i < n; i++)
			if (fold[i] == f)
				q[i] = ch_calib_apply(&c, p[i]);
		ch_calib_free(&c);
	}
	ll = ch_logloss(q, y, n);
	free(fold);
	free(q);
	free(tp);
	free(ord);
	return ll;
}

json_t *
ch_calib_to_json(const struct ch_calib *c)
{
	json_t *x, *y;
	int i;

	switch (c->method) {
	case CH_CALIB_PLATT:
		return json_pack("{s:s, s:f, s:f}", "method", "platt",
		    "a", c->a, "b", c->b);
	case CH_CALIB_ISOTONIC:
		x = json_array();
		y = json_array();
		for (i = 0; i < c->n; i++) {
			json_array_append_new(x, json_real(c->x[i]));
			json_array_append_new(y, json_real(c->y[i]));
		}
		return json_pack("{s:s, s:o, s:o}", "method", "isotonic",
		    "x", x, "y", y);
	default:
		return NULL;
	}
}

int
ch_calib_from_json(const json_t *j, struct ch_calib *c, struct ch_err *e)
{
	const char *m;
	const json_t *x, *y;
	size_t i, n;

	memset(c, 0, sizeof *c);
	if (!j || json_is_null(j))
		return 0;
	m = json_string_value(json_object_get(j, "method"));
	if (!m || ch_calib_parse(m, &c->method) != 0)
		return ch_errf(e, "calibration: unknown method");
	if (c->method == CH_CALIB_PLATT) {
		if (!json_is_number(json_object_get(j, "a")) ||
		    !json_is_number(json_object_get(j, "b")))
			return ch_errf(e, "calibration: platt without a and b");
		c->a = json_number_value(json_object_get(j, "a"));
		c->b = json_number_value(json_object_get(j, "b"));
		if (!isfinite(c->a) || !isfinite(c->b))
			return ch_errf(e, "calibration: platt a, b not finite");
	} else if (c->method == CH_CALIB_ISOTONIC) {
		x = json_object_get(j, "x");
		y = json_object_get(j, "y");
		n = json_array_size(x);
		if (!json_is_array(x) || !json_is_array(y) || n == 0 ||
		    n != json_array_size(y) || n > 10000000)
			return ch_errf(e, "calibration: isotonic x and y");
		c->x = ch_reallocarray(NULL, n, sizeof *c->x);
		c->y = ch_reallocarray(NULL, n, sizeof *c->y);
		c->n = (int)n;
		for (i = 0; i < n; i++) {
			c->x[i] = json_number_value(json_array_get(x, i));
			c->y[i] = json_number_value(json_array_get(y, i));
			if (!json_is_number(json_array_get(x, i)) ||
			    !json_is_number(json_array_get(y, i)) ||
			    !(c->y[i] >= 0 && c->y[i] <= 1) ||
			    (i > 0 && !(c->x[i] >= c->x[i - 1]))) {
				ch_calib_free(c);
				return ch_errf(e, "calibration: isotonic point %zu", i);
			}
		}
	}
	return 0;
}

void
ch_calib_free(struct ch_calib *c)
{
	free(c->x);
	free(c->y);
	c->x = c->y = NULL;
	c->n = 0;
}
