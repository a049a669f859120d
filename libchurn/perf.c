/* perf.c - live performance (perf.h) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "perf.h"

static const char *const by_name[] = {
	[CH_PERF_DAY] = "day", [CH_PERF_WEEK] = "week",
	[CH_PERF_MONTH] = "month", [CH_PERF_ALL] = "all",
};

int
ch_perf_by_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof by_name / sizeof by_name[0]; i++)
		if (strcmp(s, by_name[i]) == 0)
			return (int)i;
	return -1;
}

const char *
ch_perf_by_name(enum ch_perf_by by)
{
	return by_name[by];
}

/* Index of the first prediction > (id, t), in preds sorted by (id, t). */
static size_t
upper(const struct ch_pred *preds, size_t np, const char *id, time_t t)
{
	size_t lo = 0, hi = np;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(preds[mid].id, id);

		if (c < 0 || (c == 0 && preds[mid].time <= t))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t
ch_perf_join(const struct ch_outcome *o, size_t no,
    const struct ch_pred *preds, size_t np, long horizon_days,
    struct ch_perf_row **out)
{
	struct ch_perf_row *v = ch_malloc((no ? no : 1) * sizeof *v);
	time_t h = (time_t)(horizon_days > 0 ? horizon_days :
	    CH_PERF_HORIZON_DAYS) * 86400;
	size_t i, n = 0, k;

	for (i = 0; i < no; i++) {
		k = upper(preds, np, o[i].id, o[i].time);
		if (k == 0 || strcmp(preds[k - 1].id, o[i].id) != 0)
			continue;
		k--;
		if (preds[k].time < o[i].time - h)
			continue;
		v[n].id = o[i].id;
		v[n].version = preds[k].version;
		v[n].pred = &preds[k];
		v[n].pred_time = preds[k].time;
		v[n].outcome_time = o[i].time;
		v[n].p = preds[k].p;
		v[n].y = o[i].outcome;
		n++;
	}
	*out = v;
	return n;
}

static void
period_of(time_t t, enum ch_perf_by by, char out[16])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	switch (by) {
	case CH_PERF_DAY: strftime(out, 16, "%Y-%m-%d", &tm); break;
	case CH_PERF_WEEK: strftime(out, 16, "%G-W%V", &tm); break;
	case CH_PERF_MONTH: strftime(out, 16, "%Y-%m", &tm); break;
	default: strcpy(out, "all"); break;
	}
}

struct grow {
	const struct ch_perf_row *r;
	char period[16];
};

static int
cmp_grow(const void *a, const void *b)
{
	const struct grow *x = a, *y = b;
	int c = strcmp(x->r->version, y->r->version);

	return c ? c : strcmp(x->period, y->period);
}

static json_t *
num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* The metrics of rows g[0..n). */
static json_t *
metrics(const struct grow *g, size_t n, double threshold)
{
	double *p = ch_malloc(n * sizeof *p), brier = 0;
	uint8_t *y = ch_malloc(n);
	double psum[10] = {0};
	size_t cnt[10] = {0}, pos[10] = {0}, npos = 0, i;
	struct ch_metrics m;
	json_t *o, *cal = json_array();
	int b;

	for (i = 0; i < n; i++) {
		p[i] = g[i].r->p;
		y[i] = (uint8_t)(g[i].r->y != 0);
		npos += y[i];
		brier += (p[i] - y[i]) * (p[i] - y[i]);
		/* the bin [b/10, (b+1)/10) by comparison, not by the
		 * rounding of p * 10 */
		b = (int)(p[i] * 10);
		b = b < 0 ? 0 : b > 9 ? 9 : b;
		if (b < 9 && p[i] >= (b + 1) / 10.0)
			b++;
		else if (b > 0 && p[i] < b / 10.0)
			b--;
		cnt[b]++;
		pos[b] += y[i];
		psum[b] += p[i];
	}
	ch_metrics_compute(p, y, n, threshold, &m);
	o = ch_metrics_to_json(&m);
	json_object_set_new(o, "positives", json_integer((json_int_t)npos));
	json_object_set_new(o, "brier", num(brier / (double)n));
	for (b = 0; b < 10; b++)
		json_array_append_new(cal, json_pack("{s:f, s:f, s:I, s:o, s:o}",
		    "lo", b / 10.0, "hi", (b + 1) / 10.0, "rows",
		    (json_int_t)cnt[b], "mean_predicted",
		    cnt[b] ? json_real(psum[b] / (double)cnt[b]) : json_null(),
		    "observed_rate",
		    cnt[b] ? json_real((double)pos[b] / (double)cnt[b]) :
		    json_null()));
	json_object_set_new(o, "calibration", cal);
	free(p);
	free(y);
	return o;
}

json_t *
ch_perf_compute(const struct ch_outcome *o, size_t no,
    const struct ch_pred *preds, size_t np, const struct ch_perf_opts *opts,
    int (*info)(void *, const char *, double *, double *), void *ctx)
{
	long horizon = opts->horizon_days > 0 ? opts->horizon_days :
	    CH_PERF_HORIZON_DAYS;
	struct ch_perf_row *rows;
	size_t n = ch_perf_join(o, no, preds, np, horizon, &rows), i, j, k;
	struct grow *g = ch_malloc((n ? n : 1) * sizeof *g);
	json_t *res, *versions = json_array();

	for (i = 0; i < n; i++) {
		g[i].r = &rows[i];
		period_of(rows[i].pred_time, opts->by, g[i].period);
	}
	qsort(g, n, sizeof *g, cmp_grow);
	for (i = 0; i < n; i = j) {
		const char *v = g[i].r->version;
		double thr = 0.5, hold = NAN;
		json_t *ver, *periods = json_array(), *all;

		for (j = i; j < n && strcmp(g[j].r->version, v) == 0; j++)
			;
		if (!info || info(ctx, v, &thr, &hold) != 0) {
			thr = 0.5;
			hold = NAN;
		}
		for (k = i; k < j; ) {
			size_t l;
			json_t *m;

			for (l = k; l < j && strcmp(g[l].period, g[k].period) == 0; l++)
				;
			m = metrics(g + k, l - k, thr);
			json_object_set_new(m, "period", json_string(g[k].period));
			json_array_append_new(periods, m);
			k = l;
		}
		all = metrics(g + i, j - i, thr);
		ver = json_pack("{s:s, s:f, s:o, s:o, s:o}", "model_version", v,
		    "threshold", thr, "holdout_roc_auc", num(hold), "all", all,
		    "periods", periods);
		json_array_append_new(versions, ver);
	}
	res = json_pack("{s:I, s:s, s:I, s:I, s:I, s:o}", "horizon_days",
	    (json_int_t)horizon, "by", ch_perf_by_name(opts->by), "outcomes",
	    (json_int_t)no, "joined", (json_int_t)n, "unjoined",
	    (json_int_t)(no - n), "versions", versions);
	free(g);
	free(rows);
	return res;
}

/* ---- from the registry ---- */

struct vinfo {
	struct ch_registry *r;
	json_t *cache;   /* version -> [threshold, holdout] or null */
};

static int
manifest_info(void *ctx, const char *version, double *thr, double *hold)
{
	struct vinfo *vi = ctx;
	json_t *c = json_object_get(vi->cache, version), *m, *mt, *t, *a;
	struct ch_err e;

	if (!c) {
		c = json_null();
		if ((m = ch_registry_show(vi->r, version, &e))) {
			mt = json_object_get(m, "metrics");
			t = json_object_get(mt, "threshold");
			a = json_object_get(mt, "roc_auc");
			c = json_pack("[f, o]", json_is_number(t) ?
			    json_number_value(t) : 0.5, json_is_number(a) ?
			    json_real(json_number_value(a)) : json_null());
			json_decref(m);
		}
		json_object_set_new(vi->cache, version, c);
	}
	if (json_is_null(c))
		return -1;
	*thr = json_number_value(json_array_get(c, 0));
	a = json_array_get(c, 1);
	*hold = json_is_number(a) ? json_number_value(a) : NAN;
	return 0;
}

json_t *
ch_perf_registry(struct ch_registry *r, const struct ch_perf_opts *opts,
    struct ch_err *e)
{
	long horizon = opts->horizon_days > 0 ? opts->horizon_days :
	    CH_PERF_HORIZON_DAYS;
	struct ch_outcome *o;
	struct ch_pred *p = NULL;
	struct vinfo vi = { r, json_object() };
	time_t lo = 0, hi = 0;
	size_t no, np = 0, i;
	json_t *res = NULL;

	if (ch_outcomes_read(r, &o, &no, e) < 0)
		goto out;
	for (i = 0; i < no; i++) {
		if (i == 0 || o[i].time < lo)
			lo = o[i].time;
		if (i == 0 || o[i].time > hi)
			hi = o[i].time;
	}
	/* only the predictions an outcome can reach */
	if (no && ch_predlog_read(r, lo - (time_t)horizon * 86400, hi + 1, 0,
	    &p, &np, e) < 0)
		goto out;
	res = ch_perf_compute(o, no, p, np, opts, manifest_info, &vi);
out:
	ch_outcomes_free(o, no);
	ch_pred_free(p, np);
	json_decref(vi.cache);
	return res;
}
