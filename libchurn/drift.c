/* drift.c - data drift: PSI for numbers, L1 for categories
 * Configuration, counts in the model's codes, the statistics and the JSON
 * report; reading data into counts is driftread.c's. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drift.h"

/* configuration */

void
ch_drift_cfg_init(struct ch_drift_cfg *c)
{
	memset(c, 0, sizeof *c);
	c->bins = 10;
	c->psi.warn = 0.1;
	c->psi.drift = 0.2;
	c->l1.warn = 0.1;
	c->l1.drift = 0.2;
	c->share = 0;
	c->min_rows = CH_DRIFT_MIN_ROWS;
}

void
ch_drift_cfg_free(struct ch_drift_cfg *c)
{
	size_t i;

	for (i = 0; i < c->nover; i++)
		free(c->over[i].name);
	free(c->over);
	c->over = NULL;
	c->nover = 0;
}

static int
cfg_number(json_t *v, const char *name, const char *key, double lo, double hi,
    double *out, struct ch_err *e)
{
	if (!json_is_number(v))
		return ch_errf(e, "%s: '%s' is not a number", name, key);
	*out = json_number_value(v);
	if (!(*out >= lo && *out <= hi))
		return ch_errf(e, "%s: '%s': %g is out of range [%g, %g]",
		    name, key, *out, lo, hi);
	return 0;
}

/* {"warn":x,"drift":y}, either optional; *set gets bit 1 for warn, 2 for
 * drift */
static int
cfg_rule(json_t *j, const char *name, const char *key,
    struct ch_drift_rule *r, int *set, struct ch_err *e)
{
	const char *k;
	json_t *v;
	char kk[512];

	*set = 0;
	if (!json_is_object(j))
		return ch_errf(e, "%s: '%s' is not an object", name, key);
	json_object_foreach(j, k, v) {
		snprintf(kk, sizeof kk, "%s.%s", key, k);
		if (strcmp(k, "warn") == 0) {
			if (cfg_number(v, name, kk, 0, 1e9, &r->warn, e) < 0)
				return -1;
			*set |= 1;
		} else if (strcmp(k, "drift") == 0) {
			if (cfg_number(v, name, kk, 0, 1e9, &r->drift, e) < 0)
				return -1;
			*set |= 2;
		} else
			return ch_errf(e, "%s: unknown key '%s'", name, kk);
	}
	if ((*set & 3) == 3 && r->warn > r->drift)
		return ch_errf(e, "%s: '%s': warn %g is above drift %g", name,
		    key, r->warn, r->drift);
	return 0;
}

int
ch_drift_cfg_json(struct ch_drift_cfg *c, json_t *j, const char *name,
    struct ch_err *e)
{
	const char *k, *fk;
	json_t *v, *fv;
	double x;
	int set;

	if (!json_is_object(j))
		return ch_errf(e, "%s: not a JSON object", name);
	/* globals first, so that a feature entry giving one threshold takes
	 * the other from the global rule whatever the key order */
	json_object_foreach(j, k, v) {
		if (strcmp(k, "bins") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 2 ||
			    json_integer_value(v) > CH_MAXBINS)
				return ch_errf(e, "%s: 'bins' must be an integer "
				    "from 2 to %d", name, CH_MAXBINS);
			c->bins = (int)json_integer_value(v);
		} else if (strcmp(k, "drift_share") == 0) {
			if (cfg_number(v, name, k, 0, 1, &x, e) < 0)
				return -1;
			c->share = x;
		} else if (strcmp(k, "min_rows") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				return ch_errf(e, "%s: 'min_rows' must be a "
				    "non-negative integer", name);
			c->min_rows = (size_t)json_integer_value(v);
		} else if (strcmp(k, "psi") == 0) {
			if (cfg_rule(v, name, k, &c->psi, &set, e) < 0)
				return -1;
		} else if (strcmp(k, "l1") == 0) {
			if (cfg_rule(v, name, k, &c->l1, &set, e) < 0)
				return -1;
		} else if (strcmp(k, "features") == 0) {
			if (!json_is_object(v))
				return ch_errf(e, "%s: 'features' is not an "
				    "object", name);
		} else
			return ch_errf(e, "%s: unknown key '%s'", name, k);
	}
	if (c->psi.warn > c->psi.drift || c->l1.warn > c->l1.drift)
		return ch_errf(e, "%s: a warn threshold is above its drift "
		    "threshold", name);
	v = json_object_get(j, "features");
	json_object_foreach(v, fk, fv) {
		struct ch_drift_over o;
		char key[300];

		snprintf(key, sizeof key, "features.%s", fk);
		o.r.warn = NAN;
		o.r.drift = NAN;
		if (cfg_rule(fv, name, key, &o.r, &set, e) < 0)
			return -1;
		o.name = ch_strdup(fk);
		c->over = ch_reallocarray(c->over, c->nover + 1, sizeof *c->over);
		c->over[c->nover++] = o;
	}
	return 0;
}

/* The rule of variable name: its metric's global rule, with a config
 * entry's values over it. */
static struct ch_drift_rule
rule_for(const struct ch_drift_cfg *c, const char *name, int numeric)
{
	struct ch_drift_rule r = numeric ? c->psi : c->l1;
	size_t i;

	for (i = 0; i < c->nover; i++) {
		if (strcmp(c->over[i].name, name) != 0)
			continue;
		if (!isnan(c->over[i].r.warn))
			r.warn = c->over[i].r.warn;
		if (!isnan(c->over[i].r.drift))
			r.drift = c->over[i].r.drift;
		/* a lone drift threshold below the global warn pulls warn
		 * down with it */
		if (r.warn > r.drift)
			r.warn = r.drift;
	}
	return r;
}

/* counts */

void
ch_drift_side_init(struct ch_drift_side *d, const struct ch_schema *s)
{
	int f;

	memset(d, 0, sizeof *d);
	d->nfeat = s->nfeat;
	d->counts = ch_calloc((size_t)s->nfeat, sizeof *d->counts);
	d->extra = ch_calloc((size_t)s->nfeat, sizeof *d->extra);
	d->extra_n = ch_calloc((size_t)s->nfeat, sizeof *d->extra_n);
	d->extra_other = ch_calloc((size_t)s->nfeat, sizeof *d->extra_other);
	for (f = 0; f < s->nfeat; f++)
		if (s->f[f].type == CH_CATEGORICAL)
			d->extra[f] = ch_strmap_new();
}

void
ch_drift_side_free(struct ch_drift_side *d)
{
	int f;

	if (!d->counts)
		return;
	for (f = 0; f < d->nfeat; f++) {
		ch_strmap_free(d->extra[f]);
		free(d->extra_n[f]);
	}
	free(d->counts);
	free(d->extra);
	free(d->extra_n);
	free(d->extra_other);
	memset(d, 0, sizeof *d);
}

static void
profile_counts(const struct ch_profile *p, uint64_t *counts)
{
	int i;

	for (i = 0; i < p->nbins && i < CH_MISSING; i++)
		counts[i] = p->counts[i];
	counts[CH_MISSING] = p->missing;
}

int
ch_drift_side_from_model(struct ch_drift_side *d, const struct ch_model *m,
    struct ch_err *e)
{
	const struct ch_schema *s = m->schema;
	int f;

	ch_drift_side_init(d, s);
	for (f = 0; f < s->nfeat; f++) {
		const struct ch_profile *p = &s->f[f].ref;

		if (p->nbins != s->f[f].nbins || !p->counts) {
			ch_drift_side_free(d);
			return ch_errf(e, "feature '%s': the reference profile "
			    "has %d bins, the feature %d", s->f[f].name,
			    p->nbins, s->f[f].nbins);
		}
		profile_counts(p, d->counts[f]);
		if (p->total > d->rows)
			d->rows = p->total;
	}
	if (m->pred_ref.total > 0 && m->pred_ref.nbins > 1 &&
	    m->pred_ref.nbins <= CH_MISSING) {
		d->has_pred = 1;
		profile_counts(&m->pred_ref, d->pred);
	}
	return 0;
}

void
ch_drift_side_add_unseen(struct ch_drift_side *d, int f, const char *s,
    size_t len, uint64_t n)
{
	struct ch_strmap *m = d->extra[f];
	long k;
	int added;

	if (!m)
		return;
	k = ch_strmap_get(m, s, len);
	if (k < 0) {
		if (ch_strmap_count(m) >= CH_DRIFT_MAX_NEW) {
			d->extra_other[f] += n;
			return;
		}
		k = ch_strmap_put(m, s, len, &added);
		/* grow by powers of two: k is dense */
		if ((k & (k - 1)) == 0)
			d->extra_n[f] = ch_reallocarray(d->extra_n[f],
			    k ? 2 * (size_t)k : 1, sizeof **d->extra_n);
		d->extra_n[f][k] = 0;
	}
	d->extra_n[f][k] += n;
}

void
ch_drift_side_not_number(struct ch_drift_side *d, uint64_t n, long line,
    const char *msg)
{
	d->not_num += n;
	if (d->not_num_msg[0] && (line <= 0 || d->not_num_line <= line))
		return;
	d->not_num_line = line;
	snprintf(d->not_num_msg, sizeof d->not_num_msg, "%s", msg);
}

void
ch_drift_side_merge(struct ch_drift_side *a, const struct ch_drift_side *b)
{
	size_t i, n, len;
	const char *key;
	int f, c;

	a->rows += b->rows;
	for (f = 0; f < a->nfeat; f++) {
		for (c = 0; c < 256; c++)
			a->counts[f][c] += b->counts[f][c];
		a->extra_other[f] += b->extra_other[f];
		if (!b->extra[f])
			continue;
		n = ch_strmap_count(b->extra[f]);
		for (i = 0; i < n; i++) {
			key = ch_strmap_key(b->extra[f], i, &len);
			ch_drift_side_add_unseen(a, f, key, len,
			    b->extra_n[f][i]);
		}
	}
	if (b->not_num)
		ch_drift_side_not_number(a, b->not_num, b->not_num_line,
		    b->not_num_msg);
	if (b->has_pred) {
		a->has_pred = 1;
		for (c = 0; c < 256; c++)
			a->pred[c] += b->pred[c];
	}
}

/* metrics */

int
ch_drift_edges(const uint64_t *counts, int nbins, int k, int *idx)
{
	uint64_t total = 0, cum;
	int i, j, m = 0;

	for (i = 0; i < nbins; i++)
		total += counts[i];
	if (total == 0 || k < 2 || nbins < 2)
		return 0;
	i = 0;
	cum = counts[0];
	for (j = 1; j < k; j++) {
		/* first fine bin i where the CDF reaches j/k: cum*k >= j*total
		 * (integers: exact) */
		while (cum * (uint64_t)k < (uint64_t)j * total && i < nbins - 1)
			cum += counts[++i];
		if (i >= nbins - 1)
			break;          /* the last bin has no upper edge */
		if (m > 0 && idx[m - 1] == i)
			continue;
		idx[m++] = i;
	}
	return m;
}

double
ch_drift_psi(const double *ref, const double *cur, int n)
{
	double sum = 0, r, c;
	int i;

	for (i = 0; i < n; i++) {
		r = ref[i] < CH_DRIFT_FLOOR ? CH_DRIFT_FLOOR : ref[i];
		c = cur[i] < CH_DRIFT_FLOOR ? CH_DRIFT_FLOOR : cur[i];
		sum += (c - r) * log(c / r);
	}
	return sum;
}

double
ch_drift_l1(const double *ref, const double *cur, int n)
{
	double sum = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += fabs(cur[i] - ref[i]);
	return sum;
}

/* report */

/* one bin of a variable being compared */
struct bin {
	char *label;
	uint64_t ref, cur;
	int kind;               /* BIN_* */
};

struct bins {
	struct bin *b;
	int n, cap;
};

enum { BIN_KNOWN, BIN_UNSEEN, BIN_LUMP, BIN_MISSING };

static void
bins_add(struct bins *bs, char *label, uint64_t ref, uint64_t cur, int kind)
{
	if (bs->n == bs->cap) {
		bs->cap = bs->cap ? 2 * bs->cap : 16;
		bs->b = ch_reallocarray(bs->b, (size_t)bs->cap, sizeof *bs->b);
	}
	bs->b[bs->n].label = label;
	bs->b[bs->n].ref = ref;
	bs->b[bs->n].cur = cur;
	bs->b[bs->n].kind = kind;
	bs->n++;
}

static void
bins_free(struct bins *bs)
{
	int i;

	for (i = 0; i < bs->n; i++)
		free(bs->b[i].label);
	free(bs->b);
}

static char *
xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
xprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	s = ch_malloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static void
warnf(json_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
warnf(json_t *w, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	json_array_append_new(w, json_string(buf));
}

static const char *
status_of(double v, const struct ch_drift_rule *r)
{
	if (v >= r->drift)
		return "drift";
	if (v >= r->warn)
		return "warn";
	return "ok";
}

/* Numeric bins: k quantile bins of the reference snapped to the fine edges
 * e[0..nfine-2]; fine codes outside 0..nfine-1 (none from the encoder)
 * fall in the last bin. */
static json_t *
numeric_bins(const uint64_t *ref, const uint64_t *cur, const double *e,
    int nfine, int k, struct bins *bs)
{
	json_t *edges = json_array();
	int *idx = ch_malloc((size_t)(k > 1 ? k : 1) * sizeof *idx);
	int m, i, d, c;
	uint64_t rc, cc;

	m = ch_drift_edges(ref, nfine, k, idx);
	for (i = 0; i < m; i++)
		json_array_append_new(edges, json_real(e[idx[i]]));
	for (d = 0; d <= m; d++) {
		int lo = d == 0 ? 0 : idx[d - 1] + 1;
		int hi = d == m ? CH_MISSING - 1 : idx[d];

		rc = cc = 0;
		for (c = lo; c <= hi; c++) {
			rc += ref[c];
			cc += cur[c];
		}
		if (m == 0)
			bins_add(bs, ch_strdup("(-inf, inf)"), rc, cc, BIN_KNOWN);
		else if (d == 0)
			bins_add(bs, xprintf("(-inf, %.15g]", e[idx[0]]), rc, cc,
			    BIN_KNOWN);
		else if (d == m)
			bins_add(bs, xprintf("(%.15g, inf)", e[idx[m - 1]]),
			    rc, cc, BIN_KNOWN);
		else
			bins_add(bs, xprintf("(%.15g, %.15g]", e[idx[d - 1]],
			    e[idx[d]]), rc, cc, BIN_KNOWN);
	}
	free(idx);
	return edges;
}

struct named {
	const char *name;
	uint64_t ref, cur;
};

static int
named_cmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;

	if (x->cur + x->ref != y->cur + y->ref)
		return x->cur + x->ref > y->cur + y->ref ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Categorical bins: the schema's categories in code order, then values
 * not in the schema (most frequent first); beyond CH_DRIFT_LIST_NEW of
 * those seen only in the current data, the rest share one bin (their L1
 * terms add up the same). */
static void
categorical_bins(const struct ch_feature *ft, int f,
    const struct ch_drift_side *rs, const struct ch_drift_side *cs,
    struct bins *bs)
{
	struct named *x = NULL;
	size_t nx = 0, i, len, listed = 0;
	uint64_t lump = 0, lumpn = 0;
	const char *key;
	long k;
	int c;

	for (c = 0; c < ft->nbins && c < CH_MISSING; c++)
		bins_add(bs, ch_strdup(ft->cats[c]), rs->counts[f][c],
		    cs->counts[f][c], BIN_KNOWN);
	if (rs->extra[f]) {
		size_t n = ch_strmap_count(rs->extra[f]);

		x = ch_reallocarray(x, n + 1, sizeof *x);
		for (i = 0; i < n; i++) {
			key = ch_strmap_key(rs->extra[f], i, &len);
			x[nx].name = key;
			x[nx].ref = rs->extra_n[f][i];
			k = cs->extra[f] ? ch_strmap_get(cs->extra[f], key, len) : -1;
			x[nx].cur = k >= 0 ? cs->extra_n[f][k] : 0;
			nx++;
		}
	}
	if (cs->extra[f]) {
		size_t n = ch_strmap_count(cs->extra[f]);

		x = ch_reallocarray(x, nx + n + 1, sizeof *x);
		for (i = 0; i < n; i++) {
			key = ch_strmap_key(cs->extra[f], i, &len);
			if (rs->extra[f] && ch_strmap_get(rs->extra[f], key, len) >= 0)
				continue;
			x[nx].name = key;
			x[nx].ref = 0;
			x[nx].cur = cs->extra_n[f][i];
			nx++;
		}
	}
	if (nx)
		qsort(x, nx, sizeof *x, named_cmp);
	for (i = 0; i < nx; i++) {
		if (x[i].ref == 0 && listed >= CH_DRIFT_LIST_NEW) {
			lump += x[i].cur;
			lumpn++;
			continue;
		}
		if (x[i].ref == 0)
			listed++;
		bins_add(bs, ch_strdup(x[i].name), x[i].ref, x[i].cur,
		    BIN_UNSEEN);
	}
	if (lumpn)
		bins_add(bs, xprintf("(%llu other new values)",
		    (unsigned long long)lumpn), 0, lump, BIN_LUMP);
	if (rs->extra_other[f] || cs->extra_other[f])
		bins_add(bs, ch_strdup("(more unseen values)"),
		    rs->extra_other[f], cs->extra_other[f], BIN_LUMP);
	free(x);
}

/* One variable of the report.  ref/cur hold its fine counts (codes, with
 * missing at CH_MISSING). */
static json_t *
compare(const char *name, int numeric, int nfine, const double *e,
    const uint64_t *ref, const uint64_t *cur, struct bins *bs,
    const struct ch_drift_cfg *c, json_t *warnings, int *status)
{
	json_t *o = json_object(), *jb = json_array(), *edges = NULL;
	struct ch_drift_rule r = rule_for(c, name, numeric);
	uint64_t rt = 0, ct = 0;
	double *rsh, *csh, v;
	const char *st;
	int i, n;

	if (numeric) {
		edges = numeric_bins(ref, cur, e, nfine, c->bins, bs);
		if ((int)json_array_size(edges) + 1 < c->bins)
			warnf(warnings, "%s: %d bins of %d asked (ties in the "
			    "reference)", name, (int)json_array_size(edges) + 1,
			    c->bins);
	}
	if (ref[CH_MISSING] || cur[CH_MISSING])
		bins_add(bs, ch_strdup("missing"), ref[CH_MISSING],
		    cur[CH_MISSING], BIN_MISSING);
	n = bs->n;
	for (i = 0; i < n; i++) {
		rt += bs->b[i].ref;
		ct += bs->b[i].cur;
	}
	rsh = ch_calloc((size_t)n, sizeof *rsh);
	csh = ch_calloc((size_t)n, sizeof *csh);
	for (i = 0; i < n; i++) {
		rsh[i] = rt ? (double)bs->b[i].ref / (double)rt : 0;
		csh[i] = ct ? (double)bs->b[i].cur / (double)ct : 0;
	}
	v = numeric ? ch_drift_psi(rsh, csh, n) : ch_drift_l1(rsh, csh, n);
	st = status_of(v, &r);
	*status = strcmp(st, "drift") == 0 ? 2 : strcmp(st, "warn") == 0;

	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "type", json_string(numeric ? "numeric" :
	    "categorical"));
	json_object_set_new(o, "metric", json_string(numeric ? "psi" : "l1"));
	json_object_set_new(o, "value", json_real(v));
	json_object_set_new(o, "warn", json_real(r.warn));
	json_object_set_new(o, "threshold", json_real(r.drift));
	json_object_set_new(o, "status", json_string(st));
	if (edges)
		json_object_set_new(o, "edges", edges);
	for (i = 0; i < n; i++) {
		json_array_append_new(jb, json_pack("{s:s,s:f,s:f,s:I,s:I}",
		    "label", bs->b[i].label, "ref", rsh[i], "cur", csh[i],
		    "ref_count", (json_int_t)bs->b[i].ref,
		    "cur_count", (json_int_t)bs->b[i].cur));
	}
	json_object_set_new(o, "bins", jb);
	if (!numeric) {
		json_t *nc = json_array();
		uint64_t rows = 0;

		for (i = 0; i < n; i++) {
			const struct bin *b = &bs->b[i];

			if (b->ref || !b->cur || b->kind == BIN_MISSING)
				continue;
			rows += b->cur;
			if (b->kind != BIN_LUMP)
				json_array_append_new(nc, json_string(b->label));
		}
		json_object_set_new(o, "new_categories", nc);
		if (rows)
			warnf(warnings, "%s: %llu current row%s with values "
			    "not in the reference", name,
			    (unsigned long long)rows, rows > 1 ? "s" : "");
	}
	free(rsh);
	free(csh);
	return o;
}

/* The predicted churn probability's entry of the report (prediction
 * drift), with a warning when either side's sample is small. */
static json_t *
prediction(const double *pred_edges, int npred_edges,
    const struct ch_drift_side *ref, const struct ch_drift_side *cur,
    const struct ch_drift_cfg *c, json_t *warnings)
{
	struct bins bs = { 0 };
	uint64_t pt = 0;
	json_t *j;
	int f, st;

	for (f = 0; f < 256; f++)
		pt += ref->pred[f];
	if (pt < c->min_rows)
		warnf(warnings, "the prediction reference has only "
		    "%llu rows", (unsigned long long)pt);
	for (pt = 0, f = 0; f < 256; f++)
		pt += cur->pred[f];
	if (pt < cur->rows)
		warnf(warnings, "churn_probability: a sample of %llu of "
		    "%zu current rows scored", (unsigned long long)pt,
		    cur->rows);
	j = compare("churn_probability", 1, npred_edges + 1, pred_edges,
	    ref->pred, cur->pred, &bs, c, warnings, &st);
	bins_free(&bs);
	return j;
}

/* The rule of training and scoring: a numeric cell that is not a number
 * is missing, and said. */
static void
not_numbers(json_t *warnings, const char *side, const struct ch_drift_side *d)
{
	if (d->not_num)
		warnf(warnings, "%llu %s row%s with a numeric cell that is not a "
		    "number, counted as missing (the first: %s)",
		    (unsigned long long)d->not_num, side, d->not_num > 1 ? "s" : "",
		    d->not_num_msg);
}

json_t *
ch_drift_report(const struct ch_schema *s, const double *pred_edges,
    int npred_edges, const struct ch_drift_side *ref,
    const struct ch_drift_side *cur, const struct ch_drift_cfg *c,
    const char *version, time_t now, struct ch_err *e)
{
	json_t *rep, *feats, *warnings;
	int f, st, drifted = 0, checked = 0;
	double share, need;
	char when[21], rule[256];
	int found;

	if (cur->rows == 0)
		return ch_errf(e, "no current rows"), NULL;
	if (ref->rows == 0)
		return ch_errf(e, "no reference rows"), NULL;
	if (c->bins < 2 || c->bins > CH_MAXBINS)
		return ch_errf(e, "bins must be from 2 to %d", CH_MAXBINS), NULL;
	if (s->nfeat == 0)
		return ch_errf(e, "no features to check"), NULL;

	warnings = json_array();
	if (cur->rows < c->min_rows)
		warnf(warnings, "only %zu current rows: PSI is unstable below "
		    "%zu", cur->rows, c->min_rows);
	if (ref->rows < c->min_rows)
		warnf(warnings, "only %zu reference rows: PSI is unstable below "
		    "%zu", ref->rows, c->min_rows);
	not_numbers(warnings, "current", cur);
	not_numbers(warnings, "reference", ref);
	feats = json_array();
	for (f = 0; f < s->nfeat; f++) {
		const struct ch_feature *ft = &s->f[f];
		struct bins bs = { 0 };
		int numeric = ft->type == CH_NUMERIC;

		if (!numeric)
			categorical_bins(ft, f, ref, cur, &bs);
		json_array_append_new(feats, compare(ft->name, numeric,
		    ft->nbins, ft->edges, ref->counts[f], cur->counts[f], &bs,
		    c, warnings, &st));
		bins_free(&bs);
		checked++;
		drifted += st == 2;
	}

	share = (double)drifted / checked;
	need = c->share > 0 ? c->share : 1.0 / checked;
	found = drifted > 0 && share >= need - 1e-12;
	if (c->share > 0)
		snprintf(rule, sizeof rule, "%s: %d of %d features drifted "
		    "(share %.4g %s drift share %.4g)", found ? "drift" :
		    "no drift", drifted, checked, share, found ? ">=" : "<",
		    c->share);
	else
		snprintf(rule, sizeof rule, "%s: %d of %d features drifted "
		    "(rule: any drifted feature)", found ? "drift" :
		    "no drift", drifted, checked);

	ch_iso8601(now, when);
	rep = json_object();
	json_object_set_new(rep, "model_version", version ?
	    json_string(version) : json_null());
	json_object_set_new(rep, "time", json_string(when));
	json_object_set_new(rep, "rows", json_pack("{s:I,s:I}",
	    "reference", (json_int_t)ref->rows,
	    "current", (json_int_t)cur->rows));
	json_object_set_new(rep, "drift", json_boolean(found));
	json_object_set_new(rep, "rule", json_string(rule));
	json_object_set_new(rep, "drift_share", json_real(share));
	json_object_set_new(rep, "drifted", json_integer(drifted));
	json_object_set_new(rep, "checked", json_integer(checked));
	json_object_set_new(rep, "features", feats);
	if (ref->has_pred && cur->has_pred && npred_edges > 0 &&
	    npred_edges < CH_MISSING)
		json_object_set_new(rep, "prediction", prediction(pred_edges,
		    npred_edges, ref, cur, c, warnings));
	json_object_set_new(rep, "warnings", warnings);
	return rep;
}

int
ch_drift_found(json_t *report)
{
	return json_is_true(json_object_get(report, "drift"));
}
