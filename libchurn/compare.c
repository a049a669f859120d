/*
 * compare.c - champion against challenger (compare.h)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "metrics.h"
#include "outcomes.h"
#include "perf.h"
#include "predlog.h"

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

/* Draws l->n row indices into idx (the same draw serves both sides of a
 * pair). */
static void
draw(size_t n, struct ch_rng *rng, size_t *idx)
{
	size_t i;

	for (i = 0; i < n; i++)
		idx[i] = (size_t)ch_rng_below(rng, n);
}

static void
pick(const struct lab *l, const size_t *idx, double *p, uint8_t *y)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		p[i] = l->p[idx[i]];
		y[i] = l->y[idx[i]];
	}
}

/* 10 bins of the labelled rows: rows, mean probability, observed rate */
static json_t *
calibration(const struct lab *l)
{
	double ps[BINS] = {0}, pos[BINS] = {0}, cnt[BINS] = {0};
	json_t *a = json_array();
	size_t i;
	int b;

	for (i = 0; i < l->n; i++) {
		b = (int)(l->p[i] * BINS);
		b = b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
		cnt[b]++;
		ps[b] += l->p[i];
		pos[b] += l->y[i];
	}
	for (b = 0; b < BINS; b++)
		json_array_append_new(a, json_pack("{s:I,s:o,s:o}", "rows",
		    (json_int_t)cnt[b], "mean_predicted", num(cnt[b] ?
		    ps[b] / cnt[b] : NAN), "observed_rate", num(cnt[b] ?
		    pos[b] / cnt[b] : NAN)));
	return a;
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

static json_t *
version_json(const struct ch_cmp_side *s, const struct lab *l,
    const double *h, double auc, double *bauc, double ll, double *bll,
    double br, int boot)
{
	json_t *sc = json_array();
	double sum = 0;
	size_t i;

	for (i = 0; i < BINS; i++)
		json_array_append_new(sc, json_integer((json_int_t)h[i]));
	for (i = 0; i < s->n; i++)
		sum += s->p[i];
	return json_pack("{s:s,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
	    "version", s->version, "rows", (json_int_t)s->n, "labelled",
	    (json_int_t)l->n, "positives", (json_int_t)l->pos,
	    "mean_probability", num(s->n ? sum / (double)s->n : NAN),
	    "scores", sc, "roc_auc", num(auc), "roc_auc_ci", interval(bauc,
	    (size_t)boot), "log_loss", num(ll), "log_loss_ci", interval(bll,
	    (size_t)boot), "brier", num(br), "calibration", calibration(l));
}

static json_t *
compare(const struct ch_cmp_side *a, const struct ch_cmp_side *b, int boot,
    uint64_t seed, int paired)
{
	const struct ch_cmp_side *side[2] = { a, b };
	struct lab l[2];
	struct ch_rng rng;
	double h[2][BINS], auc[2], ll[2], br[2], *bauc[2], *bll[2], *dauc, *dll;
	double *rp, psi = 0, na, nb;
	uint8_t *ry;
	size_t *idx, maxn, i;
	json_t *versions = json_array(), *out;
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
	idx = ch_calloc(maxn + 1, sizeof *idx);
	for (k = 0; k < 2; k++) {
		bauc[k] = ch_calloc((size_t)boot + 1, sizeof **bauc);
		bll[k] = ch_calloc((size_t)boot + 1, sizeof **bll);
	}
	dauc = ch_calloc((size_t)boot + 1, sizeof *dauc);
	dll = ch_calloc((size_t)boot + 1, sizeof *dll);
	for (r = 0; r < boot; r++) {
		for (k = 0; k < 2; k++) {
			double unused;

			/* paired: one draw of customers for both sides */
			if (!paired || k == 0)
				draw(l[k].n, &rng, idx);
			pick(&l[k], idx, rp, ry);
			measure(rp, ry, l[k].n, &bauc[k][r], &bll[k][r], &unused);
		}
		dauc[r] = bauc[1][r] - bauc[0][r];
		dll[r] = bll[1][r] - bll[0][r];
	}
	for (k = 0; k < 2; k++)
		json_array_append_new(versions, version_json(side[k], &l[k],
		    h[k], auc[k], bauc[k], ll[k], bll[k], br[k], boot));
	na = (double)a->n, nb = (double)b->n;
	for (i = 0; i < BINS && na > 0 && nb > 0; i++) {
		double pa = fmax(h[0][i] / na, 1e-4), pb = fmax(h[1][i] / nb, 1e-4);
		psi += (pb - pa) * log(pb / pa);
	}
	out = json_pack("{s:o,s:b,s:o,s:o,s:o,s:o,s:o,s:i,s:f}", "versions",
	    versions, "paired", paired,
	    "psi", num(na > 0 && nb > 0 ? psi : NAN),
	    "roc_auc_diff", num(auc[1] - auc[0]),
	    "roc_auc_diff_ci", interval(dauc, (size_t)boot),
	    "log_loss_diff", num(ll[1] - ll[0]),
	    "log_loss_diff_ci", interval(dll, (size_t)boot),
	    "bootstrap", boot, "confidence", 0.95);
	for (k = 0; k < 2; k++) {
		free(l[k].p), free(l[k].y), free(bauc[k]), free(bll[k]);
	}
	free(dauc), free(dll), free(rp), free(ry), free(idx);
	return out;
}

json_t *
ch_compare(const struct ch_cmp_side *a, const struct ch_cmp_side *b,
    int boot, uint64_t seed)
{
	return compare(a, b, boot, seed, 0);
}

json_t *
ch_compare_paired(const struct ch_cmp_side *a, const struct ch_cmp_side *b,
    int boot, uint64_t seed)
{
	return a->n == b->n ? compare(a, b, boot, seed, 1) : NULL;
}

/* ---- the verdict ---- */

static const struct {
	const char *var;
	int is_long;
	double lo, hi;
} rule_env[] = {
	{ "CHURN_PROMOTE_MIN_ROWS", 1, 0, 1e12 },
	{ "CHURN_PROMOTE_MIN_LABELLED", 1, 0, 1e12 },
	{ "CHURN_PROMOTE_MARGIN", 0, 0, 1 },
};

int
ch_verdict_rule_fill(struct ch_verdict_rule *rule,
    char *(*get)(const char *), struct ch_err *e)
{
	long *l[] = { &rule->min_rows, &rule->min_labelled, NULL };
	const char *s;
	double v;
	size_t i;

	for (i = 0; i < sizeof rule_env / sizeof *rule_env; i++) {
		if (!(s = get(rule_env[i].var)) || !*s)
			continue;
		if (ch_parse_double(s, strlen(s), &v) != 0 || v < rule_env[i].lo ||
		    v > rule_env[i].hi || (rule_env[i].is_long && v != floor(v)))
			return ch_errf(e, "%s: '%s' is not a %s from %g to %g",
			    rule_env[i].var, s, rule_env[i].is_long ? "whole number" :
			    "number", rule_env[i].lo, rule_env[i].hi);
		if (rule_env[i].is_long)
			*l[i] = (long)v;
		else
			rule->margin = v;
	}
	return 0;
}

static long
jint(json_t *o, const char *k)
{
	return (long)json_integer_value(json_object_get(o, k));
}

void
ch_compare_verdict(json_t *cmp, const struct ch_verdict_rule *rule)
{
	json_t *va = json_array_get(json_object_get(cmp, "versions"), 0),
	    *vb = json_array_get(json_object_get(cmp, "versions"), 1),
	    *ci = json_object_get(cmp, "roc_auc_diff_ci");
	long rows = jint(vb, "rows"), la = jint(va, "labelled"),
	    lb = jint(vb, "labelled");
	double lo = json_number_value(json_array_get(ci, 0)),
	    hi = json_number_value(json_array_get(ci, 1));
	const char *v = "wait";
	char why[256];

	if (rows < rule->min_rows)
		snprintf(why, sizeof why, "the challenger has %ld rows, fewer "
		    "than %ld", rows, rule->min_rows);
	else if (la < rule->min_labelled || lb < rule->min_labelled)
		snprintf(why, sizeof why, "%ld and %ld labelled rows, fewer "
		    "than %ld each", la, lb, rule->min_labelled);
	else if (!json_is_array(ci))
		snprintf(why, sizeof why, "no interval of the ROC-AUC difference "
		    "(one class only)");
	else if (hi < -rule->margin) {
		v = "rollback";
		snprintf(why, sizeof why, "ROC-AUC difference interval [%.4f, "
		    "%.4f] ends below -%g", lo, hi, rule->margin);
	} else if (lo >= -rule->margin) {
		v = "promote";
		snprintf(why, sizeof why, "ROC-AUC difference interval [%.4f, "
		    "%.4f] starts at or above -%g", lo, hi, rule->margin);
	} else
		snprintf(why, sizeof why, "ROC-AUC difference interval [%.4f, "
		    "%.4f] holds -%g: still in the noise", lo, hi, rule->margin);
	json_object_set_new(cmp, "verdict", json_string(v));
	json_object_set_new(cmp, "verdict_reason", json_string(why));
	json_object_set_new(cmp, "rule", json_pack("{s:I,s:I,s:f}", "min_rows",
	    (json_int_t)rule->min_rows, "min_labelled",
	    (json_int_t)rule->min_labelled, "margin", rule->margin));
}

/* ---- from the registry ---- */

json_t *
ch_compare_registry(struct ch_registry *r, const struct ch_cmp_query *q,
    struct ch_err *e)
{
	long horizon = q->horizon_days > 0 ? q->horizon_days :
	    CH_PERF_HORIZON_DAYS;
	struct ch_outcome *o = NULL;
	struct ch_pred *p = NULL, *f = NULL;
	struct ch_perf_row *rows = NULL;
	struct ch_cmp_side a = { .version = q->champion },
	    b = { .version = q->challenger };
	uint8_t *y = NULL;
	size_t no = 0, np = 0, nf = 0, nj = 0, i;
	json_t *res = NULL;
	char since[21];

	if (ch_outcomes_read(r, &o, &no, e) < 0 ||
	    ch_predlog_read(r, q->since, 0, 0, &p, &np, e) < 0)
		goto out;
	/* the rows compared, still sorted by (id, time) for the join */
	f = ch_malloc((np ? np : 1) * sizeof *f);
	for (i = 0; i < np; i++)
		if (q->paired ? strcmp(p[i].version, q->champion) == 0 &&
		    p[i].shadow_version && strcmp(p[i].shadow_version,
		    q->challenger) == 0 : strcmp(p[i].version, q->champion) == 0 ||
		    strcmp(p[i].version, q->challenger) == 0)
			f[nf++] = p[i];
	nj = ch_perf_join(o, no, f, nf, horizon, &rows);
	y = ch_malloc(nf + 1);
	memset(y, 255, nf + 1);
	for (i = 0; i < nj; i++)
		y[rows[i].pred - f] = (uint8_t)(rows[i].y != 0);
	for (i = 0; i < nf; i++) {
		int yi = y[i] == 255 ? -1 : y[i];

		if (q->paired) {
			ch_cmp_add(&a, f[i].p, yi);
			ch_cmp_add(&b, f[i].shadow_p, yi);
		} else
			ch_cmp_add(strcmp(f[i].version, q->champion) == 0 ?
			    &a : &b, f[i].p, yi);
	}
	res = q->paired ? ch_compare_paired(&a, &b, q->boot, q->seed) :
	    ch_compare(&a, &b, q->boot, q->seed);
	if (q->since > 0)
		ch_iso8601(q->since, since);
	json_object_set_new(res, "mode", json_string(q->paired ? "shadow" :
	    "canary"));
	json_object_set_new(res, "since", q->since > 0 ? json_string(since) :
	    json_null());
	json_object_set_new(res, "horizon_days", json_integer(horizon));
	json_object_set_new(res, "outcomes", json_integer((json_int_t)no));
	json_object_set_new(res, "joined", json_integer((json_int_t)nj));
out:
	ch_cmp_free(&a);
	ch_cmp_free(&b);
	free(y);
	free(rows);
	free(f);
	ch_outcomes_free(o, no);
	ch_pred_free(p, np);
	return res;
}

int
ch_rollout_since(struct ch_registry *r, const struct ch_rollout *ro,
    time_t *since, struct ch_err *e)
{
	json_t *h = ch_registry_history(r, NULL, e), *x, *list;
	const char *t;
	size_t i;

	*since = 0;
	if (!h)
		return -1;
	list = json_object_get(h, "history");
	/* newest first: the latest run of events of this id and mode */
	for (i = json_array_size(list); i-- > 0; ) {
		x = json_array_get(list, i);
		if (strcmp(ch_jstr(x, "action", ""), "rollout") != 0)
			continue;
		if (json_integer_value(json_object_get(x, "rollout")) != ro->id ||
		    strcmp(ch_jstr(x, "mode", ""), ch_rollout_mode_name(ro->mode)))
			break;
		t = ch_jstr(x, "time", "");
		ch_time_parse(t, strlen(t), since);
	}
	json_decref(h);
	return 0;
}
