/* shard.c - training on shards: summaries, their merged binning, and the
 * merge of forests grown on it (shard.h) */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "input.h"
#include "metrics.h"
#include "shard.h"

/* ---- the summary of one shard ---- */

/* A column while reading: its distinct texts, their counts and the line
 * where each was first seen (for messages). */
struct scol {
	struct ch_strmap *vals;
	uint64_t *count;
	long *line;
	size_t cap;
	uint64_t missing;
};

struct vc {                     /* a value and its rows */
	double v;
	uint64_t count;
};

static int
by_v(const void *a, const void *b)
{
	double x = ((const struct vc *)a)->v, y = ((const struct vc *)b)->v;

	return (x > y) - (x < y);
}

/* Sorts and merges equal values ("1" and "1.0" are one). */
static size_t
settle(struct vc *a, size_t n)
{
	size_t i, k = 0;

	qsort(a, n, sizeof *a, by_v);
	for (i = 0; i < n; i++) {
		if (k && a[k - 1].v == a[i].v)
			a[k - 1].count += a[i].count;
		else
			a[k++] = a[i];
	}
	return k;
}

struct named {                  /* a text and its rows, for sorting */
	const char *s;
	uint64_t count;
};

static int
by_text(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->s, ((const struct named *)b)->s);
}

static int
by_count_text(const void *a, const void *b)
{
	const struct named *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->s, y->s);
}

/* [[text, rows], ...] of the texts with sel[i] (sel NULL: all), by text. */
static json_t *
texts_json(const struct scol *c, const uint8_t *sel)
{
	size_t nd = ch_strmap_count(c->vals), i, k = 0;
	struct named *t = ch_malloc((nd ? nd : 1) * sizeof *t);
	json_t *a = json_array();

	for (i = 0; i < nd; i++)
		if (!sel || sel[i])
			t[k++] = (struct named){ ch_strmap_key(c->vals, i, NULL), c->count[i] };
	qsort(t, k, sizeof *t, by_text);
	for (i = 0; i < k; i++)
		json_array_append_new(a, json_pack("[s, I]", t[i].s, (json_int_t)t[i].count));
	free(t);
	return a;
}

/* The sketch of values v[0..n) (sorted, merged) of total rows: blocks of
 * at least t rows, each the point (its largest value, its rows). */
static json_t *
sketch_json(const struct vc *v, size_t n, uint64_t total)
{
	uint64_t t = (total + CH_SKETCH_K - 1) / CH_SKETCH_K, acc = 0;
	json_t *pts = json_array();
	size_t i;

	if (t == 0)
		t = 1;
	for (i = 0; i < n; i++) {
		acc += v[i].count;
		if (acc >= t || i + 1 == n) {
			json_array_append_new(pts, json_pack("[f, I]", v[i].v, (json_int_t)acc));
			acc = 0;
		}
	}
	return json_pack("{s:i, s:I, s:f, s:f, s:o}", "size", CH_SKETCH_K,
	    "error_rows", (json_int_t)(t - 1), "min", n ? v[0].v : 0.0,
	    "max", n ? v[n - 1].v : 0.0, "points", pts);
}

/* One column's summary: exact texts when few or not numbers, else the
 * sketch of its numbers and its few texts that are not numbers. */
static int
column_json(const struct scol *c, const char *name, const char *file,
    const struct ch_frame_opts *o, json_t **out, struct ch_err *e)
{
	size_t nd = ch_strmap_count(c->vals), i, nv = 0, len;
	uint64_t total = 0, nbad = 0;
	uint8_t *bad = ch_calloc(nd ? nd : 1, 1);
	struct vc *v = ch_malloc((nd ? nd : 1) * sizeof *v);
	int numeric = !ch_strv_has(o->categorical, name);
	const char *s;
	json_t *j;

	for (i = 0; i < nd; i++) {
		total += c->count[i];
		s = ch_strmap_key(c->vals, i, &len);
		if (!numeric)
			continue;
		if (ch_parse_double(s, len, &v[nv].v) == 0) {
			v[nv++].count = c->count[i];
			continue;
		}
		if (ch_strv_has(o->numeric, name)) {
			free(bad);
			free(v);
			return ch_errf(e, "%s:%ld: column '%s': '%.40s' is not a number",
			    file, c->line[i], name, s);
		}
		bad[i] = 1;
		nbad += c->count[i];
	}
	/* frame.c's rule: numbers but for one cell in a hundred */
	if (numeric && nbad && (nbad * 100 > total || nbad == total))
		numeric = 0;
	j = json_pack("{s:s, s:s, s:I, s:I}", "name", name,
	    "kind", numeric ? "numeric" : "text",
	    "rows", (json_int_t)total, "missing", (json_int_t)c->missing);
	if (!numeric || nd <= CH_SKETCH_K) {
		json_object_set_new(j, "values", texts_json(c, NULL));
	} else {
		nv = settle(v, nv);
		json_object_set_new(j, "sketch", sketch_json(v, nv, total - nbad));
		json_object_set_new(j, "not_numbers", texts_json(c, bad));
	}
	free(bad);
	free(v);
	*out = j;
	return 0;
}

struct sread {
	struct ch_csv *csv;
	char **hdr;
	size_t nhdr;
	int target, id, nfeat;
	int *fcol;
	struct scol *col;
	uint64_t rows, pos;
};

static void
sread_free(struct sread *r)
{
	size_t i;

	ch_csv_close(r->csv);
	for (i = 0; r->hdr && i < r->nhdr; i++)
		free(r->hdr[i]);
	free(r->hdr);
	free(r->fcol);
	for (i = 0; r->col && i < (size_t)r->nfeat; i++) {
		ch_strmap_free(r->col[i].vals);
		free(r->col[i].count);
		free(r->col[i].line);
	}
	free(r->col);
}

/* The header: the target, the id and the feature columns, as frame.c
 * finds them. */
static int
summary_header(struct sread *r, FILE *fp, const char *name,
    const struct ch_frame_opts *o, struct ch_err *e)
{
	const char *target = o->target ? o->target : "Churn";
	struct ch_record rec;
	size_t i;

	r->target = r->id = -1;
	if (!(r->csv = ch_csv_open(fp, name, e)) || ch_csv_header(r->csv, &rec, e) != 0)
		return -1;
	r->nhdr = rec.n;
	r->hdr = ch_calloc(rec.n, sizeof *r->hdr);
	for (i = 0; i < rec.n; i++) {
		r->hdr[i] = ch_strndup(rec.field[i], rec.len[i]);
		if (strcmp(r->hdr[i], target) == 0)
			r->target = (int)i;
		if (strcmp(r->hdr[i], o->id ? o->id : "customerID") == 0)
			r->id = (int)i;
	}
	if (r->target < 0)
		return ch_errf(e, "%s:%ld: no target column '%s'", name, rec.line, target);
	if (o->id && r->id < 0)
		return ch_errf(e, "%s:%ld: no id column '%s'", name, rec.line, o->id);
	for (char **d = o->drop; d && *d; d++) {
		for (i = 0; i < r->nhdr && strcmp(r->hdr[i], *d) != 0; i++)
			;
		if (i == r->nhdr)
			return ch_errf(e, "%s:%ld: no column '%s' to drop", name,
			    rec.line, *d);
	}
	r->fcol = ch_calloc(r->nhdr, sizeof *r->fcol);
	for (i = 0; i < r->nhdr; i++)
		if ((int)i != r->target && (int)i != r->id && !ch_strv_has(o->drop, r->hdr[i]))
			r->fcol[r->nfeat++] = (int)i;
	if (r->nfeat == 0)
		return ch_errf(e, "%s: no feature columns besides the target", name);
	r->col = ch_calloc((size_t)r->nfeat, sizeof *r->col);
	for (i = 0; i < (size_t)r->nfeat; i++)
		r->col[i].vals = ch_strmap_new();
	return 0;
}

/* Counts one cell's text in its column. */
static void
count_cell(struct scol *c, const char *s, size_t len, long line)
{
	long k;
	int added;

	if (ch_is_missing(s, len)) {
		c->missing++;
		return;
	}
	k = ch_strmap_put(c->vals, s, len, &added);
	if ((size_t)k >= c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->count = ch_reallocarray(c->count, c->cap, sizeof *c->count);
		c->line = ch_reallocarray(c->line, c->cap, sizeof *c->line);
	}
	if (added)
		c->count[k] = 0, c->line[k] = line;
	c->count[k]++;
}

int
ch_shard_summary(FILE *fp, const char *name, const struct ch_frame_opts *o,
    json_t **out, struct ch_err *e)
{
	struct sread r = { 0 };
	struct ch_record rec;
	char sha[65];
	json_t *cols, *j = NULL;
	int rc, lab, i, ret = -1;

	if (summary_header(&r, fp, name, o, e) != 0)
		goto out;
	while ((rc = ch_csv_next(r.csv, &rec, e)) > 0) {
		if (rec.n != r.nhdr) {
			ch_errf(e, "%s:%ld: ragged row: %zu fields, the header has %zu",
			    name, rec.line, rec.n, r.nhdr);
			goto out;
		}
		lab = ch_label(rec.field[r.target], rec.len[r.target], o->positive);
		if (lab < 0) {
			ch_errf(e, "%s:%ld: column '%s': '%.40s' is not a label "
			    "(Yes/No, 1/0, true/false; or use --positive)", name,
			    rec.line, r.hdr[r.target], rec.field[r.target]);
			goto out;
		}
		r.rows++;
		r.pos += (uint64_t)lab;
		for (i = 0; i < r.nfeat; i++)
			count_cell(&r.col[i], rec.field[r.fcol[i]], rec.len[r.fcol[i]],
			    rec.line);
	}
	if (rc < 0)
		goto out;
	if (r.rows == 0) {
		ch_errf(e, "%s: no data rows after the header", name);
		goto out;
	}
	ch_csv_sha256(r.csv, sha);
	cols = json_array();
	j = json_pack("{s:i, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:o}",
	    "churn_summary", 1, "source", name, "sha256", sha,
	    "target", r.hdr[r.target],
	    "positive", o->positive ? json_string(o->positive) : json_null(),
	    "id", r.id >= 0 ? json_string(r.hdr[r.id]) : json_null(),
	    "rows", (json_int_t)r.rows, "positives", (json_int_t)r.pos,
	    "columns", cols);
	for (i = 0; i < r.nfeat; i++) {
		json_t *c = NULL;

		if (column_json(&r.col[i], r.hdr[r.fcol[i]], name, o, &c, e) != 0)
			goto out;
		json_array_append_new(cols, c);
	}
	*out = j;
	j = NULL;
	ret = 0;
out:
	json_decref(j);
	sread_free(&r);
	return ret;
}

/* ---- the binning merged from the summaries ---- */

/* One column of every summary: its numbers (exact values and sketch
 * points), its texts and what is known of it. */
struct mcol {
	const char *name;
	struct vc *v;
	size_t nv, cap;
	struct ch_strmap *texts;    /* exact shards: every text */
	uint64_t *tcount;
	size_t tcap;
	uint64_t rows, missing, bad, err;
	double min, max;
	int sketched, textual, have_range;
};

static void
add_num(struct mcol *c, double v, uint64_t n)
{
	if (c->nv == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->v = ch_reallocarray(c->v, c->cap, sizeof *c->v);
	}
	c->v[c->nv++] = (struct vc){ v, n };
	if (!c->have_range || v < c->min)
		c->min = v;
	if (!c->have_range || v > c->max)
		c->max = v;
	c->have_range = 1;
}

static void
add_text(struct mcol *c, const char *s, uint64_t n)
{
	int added;
	long k = ch_strmap_put(c->texts, s, strlen(s), &added);

	if ((size_t)k >= c->tcap) {
		c->tcap = c->tcap ? 2 * c->tcap : 256;
		c->tcount = ch_reallocarray(c->tcount, c->tcap, sizeof *c->tcount);
	}
	if (added)
		c->tcount[k] = 0;
	c->tcount[k] += n;
}

/* Adds summary column j (of file name) to c; a value list of [text, n]
 * or sketch points of [number, n]. */
static int
add_column(struct mcol *c, json_t *j, const char *name, struct ch_err *e)
{
	json_t *vals = json_object_get(j, "values"), *sk = json_object_get(j, "sketch");
	json_t *nn = json_object_get(j, "not_numbers"), *p;
	size_t i;

	c->rows += (uint64_t)json_integer_value(json_object_get(j, "rows"));
	c->missing += (uint64_t)json_integer_value(json_object_get(j, "missing"));
	if (strcmp(ch_jstr(j, "kind", ""), "text") == 0)
		c->textual = 1;
	if (sk) {
		if (!json_is_array(json_object_get(sk, "points")))
			return ch_errf(e, "%s: column '%s': a sketch without points", name, c->name);
		c->sketched = 1;
		c->err += (uint64_t)json_integer_value(json_object_get(sk, "error_rows"));
		json_array_foreach(json_object_get(sk, "points"), i, p)
			add_num(c, json_number_value(json_array_get(p, 0)),
			    (uint64_t)json_integer_value(json_array_get(p, 1)));
		/* the sketch's smallest point is a block's largest value */
		if (json_number_value(json_object_get(sk, "min")) < c->min)
			c->min = json_number_value(json_object_get(sk, "min"));
		vals = nn;
	}
	if (vals && !json_is_array(vals))
		return ch_errf(e, "%s: column '%s': values are not a list", name, c->name);
	json_array_foreach(vals, i, p) {
		const char *s = json_string_value(json_array_get(p, 0));
		uint64_t n = (uint64_t)json_integer_value(json_array_get(p, 1));
		double v;

		if (!s)
			return ch_errf(e, "%s: column '%s': value %zu is not a text",
			    name, c->name, i + 1);
		if (!sk)
			add_text(c, s, n);
		if (ch_parse_double(s, strlen(s), &v) == 0)
			add_num(c, v, n);
		else
			c->bad += n;
	}
	return 0;
}

/* Quantile bins of a merged numeric column, as frame.c makes them. */
static void
numeric_feature(struct mcol *c, int maxb, struct ch_feature *f)
{
	uint64_t total = 0;
	double *v;
	uint64_t *n;
	size_t i, nu = settle(c->v, c->nv);

	f->type = CH_NUMERIC;
	v = ch_malloc((nu ? nu : 1) * sizeof *v);
	n = ch_malloc((nu ? nu : 1) * sizeof *n);
	for (i = 0; i < nu; i++) {
		v[i] = c->v[i].v, n[i] = c->v[i].count;
		total += n[i];
	}
	f->edges = ch_calloc((size_t)maxb, sizeof *f->edges);
	f->nbins = ch_quantile_edges(v, n, nu, total, maxb, f->edges) + 1;
	f->min = nu ? c->min : 0;
	f->max = nu ? c->max : 0;
	free(v);
	free(n);
}

/* The most frequent CH_MAXBINS - 1 categories, in name order. */
static void
categorical_feature(struct mcol *c, struct ch_feature *f)
{
	size_t nd = ch_strmap_count(c->texts), i, k;
	struct named *t = ch_malloc((nd ? nd : 1) * sizeof *t);

	f->type = CH_CATEGORICAL;
	for (i = 0; i < nd; i++)
		t[i] = (struct named){ ch_strmap_key(c->texts, i, NULL), c->tcount[i] };
	qsort(t, nd, sizeof *t, by_count_text);
	k = nd < CH_MAXBINS - 1 ? nd : CH_MAXBINS - 1;
	qsort(t, k, sizeof *t, by_text);
	f->nbins = k ? (int)k : 1;
	f->cats = ch_calloc((size_t)f->nbins, sizeof *f->cats);
	if (k == 0)
		f->cats[0] = ch_strdup("");
	for (i = 0; i < k; i++)
		f->cats[i] = ch_strdup(t[i].s);
	ch_feature_index(f);
	free(t);
}

/* The feature of merged column c: numeric by frame.c's rule (numbers
 * but for one cell in a hundred) unless forced. */
static int
merged_feature(struct mcol *c, const struct ch_frame_opts *o,
    struct ch_feature *f, json_t *approx, uint64_t rows, struct ch_err *e)
{
	int maxb = o->max_bins >= 2 && o->max_bins <= CH_MAXBINS ? o->max_bins : CH_MAXBINS;
	int numeric = !ch_strv_has(o->categorical, c->name) &&
	    (ch_strv_has(o->numeric, c->name) ||
	    !(c->bad && (c->bad * 100 > c->rows || c->bad == c->rows)));

	f->name = ch_strdup(c->name);
	if (!numeric && c->sketched)
		return ch_errf(e, "column '%s': numbers with too many distinct values "
		    "to count in one shard, text in others (say --numeric or "
		    "--categorical for it on every shard)", c->name);
	if (numeric) {
		numeric_feature(c, maxb, f);
		if (c->sketched)
			json_array_append_new(approx, json_pack("{s:s, s:I, s:f}",
			    "column", c->name, "rank_error_rows", (json_int_t)c->err,
			    "rank_error", rows ? (double)c->err / (double)rows : 0.0));
	} else {
		categorical_feature(c, f);
	}
	f->ref.nbins = f->nbins;
	f->ref.counts = ch_calloc((size_t)f->nbins, sizeof *f->ref.counts);
	if (f->type == CH_NUMERIC) {
		f->ref.edges = ch_calloc((size_t)f->nbins, sizeof *f->ref.edges);
		memcpy(f->ref.edges, f->edges, (size_t)(f->nbins - 1) * sizeof *f->edges);
	}
	return 0;
}

/* Checks that summary j (of file name) describes the same columns and
 * target as the first, s0. */
static int
same_shape(json_t *s0, json_t *j, const char *name, struct ch_err *e)
{
	json_t *c0 = json_object_get(s0, "columns"), *c = json_object_get(j, "columns");
	size_t i;

	if (json_integer_value(json_object_get(j, "churn_summary")) != 1 || !json_is_array(c))
		return ch_errf(e, "%s: not a summary of churn-train --summary-out", name);
	if (strcmp(ch_jstr(j, "target", ""), ch_jstr(s0, "target", "")) != 0 ||
	    !json_equal(json_object_get(j, "positive"), json_object_get(s0, "positive")) ||
	    !json_equal(json_object_get(j, "id"), json_object_get(s0, "id")))
		return ch_errf(e, "%s: target, positive label or id differ from "
		    "the first summary's", name);
	if (json_array_size(c) != json_array_size(c0))
		return ch_errf(e, "%s: %zu columns, the first summary has %zu",
		    name, json_array_size(c), json_array_size(c0));
	for (i = 0; i < json_array_size(c); i++)
		if (strcmp(ch_jstr(json_array_get(c, i), "name", ""),
		    ch_jstr(json_array_get(c0, i), "name", "")) != 0)
			return ch_errf(e, "%s: column %zu is '%s', the first summary's '%s'",
			    name, i + 1, ch_jstr(json_array_get(c, i), "name", ""),
			    ch_jstr(json_array_get(c0, i), "name", ""));
	return 0;
}

static struct ch_schema *
schema_head(json_t *s0, size_t ncols)
{
	struct ch_schema *s = ch_calloc(1, sizeof *s);
	const char *pos = ch_jstr(s0, "positive", NULL), *id = ch_jstr(s0, "id", NULL);

	s->target = ch_strdup(ch_jstr(s0, "target", "Churn"));
	s->positive = pos ? ch_strdup(pos) : NULL;
	s->id = id ? ch_strdup(id) : NULL;
	s->nfeat = (int)ncols;
	s->f = ch_calloc(ncols ? ncols : 1, sizeof *s->f);
	return s;
}

int
ch_shard_bins(json_t *const *sums, char *const *names, size_t n,
    const struct ch_frame_opts *o, struct ch_schema **out, json_t **info,
    struct ch_err *e)
{
	struct ch_schema *s = NULL;
	struct mcol *mc = NULL;
	json_t *approx = json_array(), *srcs = json_array();
	size_t ncols = 0, i, k;
	uint64_t rows = 0;
	int ret = -1;

	if (n == 0) {
		ch_errf(e, "no summaries to merge");
		goto out;
	}
	ncols = json_array_size(json_object_get(sums[0], "columns"));
	mc = ch_calloc(ncols ? ncols : 1, sizeof *mc);
	for (k = 0; k < ncols; k++) {
		mc[k].name = ch_jstr(json_array_get(json_object_get(sums[0], "columns"), k),
		    "name", "");
		mc[k].texts = ch_strmap_new();
	}
	for (i = 0; i < n; i++) {
		json_t *cols = json_object_get(sums[i], "columns");

		if (same_shape(sums[0], sums[i], names[i], e) != 0)
			goto out;
		rows += (uint64_t)json_integer_value(json_object_get(sums[i], "rows"));
		json_array_append_new(srcs, json_pack("{s:s, s:O, s:O}", "summary", names[i],
		    "source", json_object_get(sums[i], "source"),
		    "rows", json_object_get(sums[i], "rows")));
		for (k = 0; k < ncols; k++)
			if (add_column(&mc[k], json_array_get(cols, k), names[i], e) != 0)
				goto out;
	}
	s = schema_head(sums[0], ncols);
	for (k = 0; k < ncols; k++)
		if (merged_feature(&mc[k], o, &s->f[k], approx, rows, e) != 0)
			goto out;
	*info = json_pack("{s:I, s:i, s:o, s:i, s:O, s:s}", "rows", (json_int_t)rows,
	    "shards", (int)n, "summaries", srcs, "sketch_size", CH_SKETCH_K,
	    "approximate", approx,
	    "by", "exact value counts where a shard has at most sketch_size "
	    "distinct values, else a quantile sketch (rank error under "
	    "rank_error_rows rows at any edge)");
	srcs = NULL;
	*out = s;
	s = NULL;
	ret = 0;
out:
	for (k = 0; mc && k < ncols; k++) {
		free(mc[k].v);
		ch_strmap_free(mc[k].texts);
		free(mc[k].tcount);
	}
	free(mc);
	json_decref(approx);
	json_decref(srcs);
	ch_schema_free(s);
	return ret;
}

/* Reads the JSON at path: a file, "-" or an s3:// URL. */
static json_t *
read_json(const char *path, const struct ch_store_opts *so, struct ch_err *e)
{
	struct ch_input in;
	json_error_t je;
	json_t *j;

	if (ch_input_open(&in, path, so, e) != 0)
		return NULL;
	j = json_loadf(in.fp, 0, &je);
	if (ch_input_close(&in, e) != 0) {
		json_decref(j);
		return NULL;
	}
	if (!j)
		ch_errf(e, "%s:%d: %s", path, je.line, je.text);
	return j;
}

/* "s3://bucket/dir/": a prefix to list rather than an object. */
static int
is_prefix(const char *p)
{
	size_t n = strlen(p);

	return strncmp(p, "s3://", 5) == 0 && n > 5 && p[n - 1] == '/';
}

static int
by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **
ch_shard_list(const char *prefix, const struct ch_store_opts *so,
    struct ch_err *e)
{
	const char *b = prefix + 5, *slash = strchr(b, '/');
	char *bucket, *dir, **names, **urls;
	struct ch_store *st;
	size_t n, i, len = strlen(prefix);

	if (!is_prefix(prefix) || !slash || slash[1] == '\0') {
		ch_errf(e, "%s: not an s3://bucket/dir/ prefix", prefix);
		return NULL;
	}
	bucket = ch_strndup(prefix, (size_t)(slash - prefix));
	dir = ch_strndup(slash + 1, len - (size_t)(slash + 1 - prefix) - 1);
	names = NULL;
	if (ch_store_open(bucket, so, &st, e) == 0) {
		names = ch_store_list(st, dir, e);
		ch_store_close(st);
	}
	free(bucket);
	free(dir);
	if (!names)
		return NULL;
	for (n = 0; names[n]; n++)
		;
	if (n == 0) {
		ch_strv_free(names);
		ch_errf(e, "%s: no objects under the prefix", prefix);
		return NULL;
	}
	qsort(names, n, sizeof *names, by_str);
	urls = ch_calloc(n + 1, sizeof *urls);
	for (i = 0; i < n; i++) {
		urls[i] = ch_malloc(len + strlen(names[i]) + 1);
		memcpy(urls[i], prefix, len);
		strcpy(urls[i] + len, names[i]);
	}
	ch_strv_free(names);
	return urls;
}

int
ch_shard_bins_from(char *const *paths, const struct ch_store_opts *so,
    const struct ch_frame_opts *o, struct ch_schema **out, json_t **info,
    struct ch_err *e)
{
	char **listed = NULL, *const *p = paths;
	json_t **sums;
	size_t n, i;
	int ret = -1;

	if (paths[0] && !paths[1] && is_prefix(paths[0])) {
		if (!(listed = ch_shard_list(paths[0], so, e)))
			return -1;
		p = listed;
	}
	for (n = 0; p[n]; n++)
		;
	sums = ch_calloc(n ? n : 1, sizeof *sums);
	for (i = 0; i < n; i++)
		if (!(sums[i] = read_json(p[i], so, e)))
			goto out;
	ret = ch_shard_bins(sums, p, n, o, out, info, e);
out:
	for (i = 0; i < n; i++)
		json_decref(sums[i]);
	free(sums);
	ch_strv_free(listed);
	return ret;
}

/* ---- a shard read with the merged binning ---- */

static struct ch_schema *
schema_copy(const struct ch_schema *s)
{
	struct ch_schema *c = NULL;
	struct ch_err e;
	json_t *j = ch_schema_to_json(s);

	if (ch_schema_from_json(j, &c, &e) != 0)
		c = NULL;       /* cannot fail on what ch_schema_to_json wrote */
	json_decref(j);
	return c;
}

int
ch_shard_frame_load(FILE *fp, const char *name, const struct ch_schema *s,
    const struct ch_frame_opts *o, struct ch_frame **out, struct ch_err *e)
{
	struct ch_frame *fr;
	size_t unseen, i;
	int f;

	if (ch_frame_load_with(fp, name, s, o, &fr, &unseen, e) != 0)
		return -1;
	if (!(fr->schema = schema_copy(s))) {
		ch_frame_free(fr);
		return ch_errf(e, "%s: the binning does not copy", name);
	}
	for (f = 0; f < fr->nfeat; f++) {
		struct ch_profile *p = &fr->schema->f[f].ref;

		memset(p->counts, 0, (size_t)p->nbins * sizeof *p->counts);
		p->missing = 0;
		for (i = 0; i < fr->n; i++) {
			if (fr->codes[f][i] == CH_MISSING)
				p->missing++;
			else
				p->counts[fr->codes[f][i]]++;
		}
		p->total = fr->n;
	}
	*out = fr;
	return 0;
}

/* ---- forests grown on shards merged ---- */

/* Nonzero when a and b bin every feature alike. */
static int
same_bins(const struct ch_schema *a, const struct ch_schema *b)
{
	int f, i;

	if (a->nfeat != b->nfeat || strcmp(a->target, b->target) != 0)
		return 0;
	for (f = 0; f < a->nfeat; f++) {
		const struct ch_feature *x = &a->f[f], *y = &b->f[f];

		if (strcmp(x->name, y->name) != 0 || x->type != y->type ||
		    x->nbins != y->nbins)
			return 0;
		for (i = 0; i < x->nbins; i++)
			if (x->type == CH_NUMERIC ? i + 1 < x->nbins &&
			    x->edges[i] != y->edges[i] : strcmp(x->cats[i], y->cats[i]) != 0)
				return 0;
	}
	return 1;
}

static void
profile_add(struct ch_profile *to, const struct ch_profile *p)
{
	int b;

	for (b = 0; b < to->nbins && b < p->nbins; b++)
		to->counts[b] += p->counts[b];
	to->missing += p->missing;
	to->total += p->total;
}

/* Rows the part's trees were grown on. */
static uint64_t
part_rows(const struct ch_model *m)
{
	json_t *d = json_object_get(m->meta, "data");
	json_int_t r = json_integer_value(json_object_get(d, "final_rows"));

	return (uint64_t)(r > 0 ? r : json_integer_value(json_object_get(d, "rows")));
}

struct merge {
	const struct ch_merge_opts *o;
	struct ch_model **p;
	uint64_t *rows, total;
	int *keep;
	struct ch_model *m;
	json_t *parts;
};

/* The parts loaded and checked, and how many trees of each vote: in
 * proportion to its rows, at the fewest trees per row of any part. */
static int
load_parts(struct merge *g, struct ch_err *e)
{
	const struct ch_merge_opts *o = g->o;
	double per = INFINITY;
	size_t i;

	for (i = 0; i < o->nparts; i++) {
		if (ch_model_load(o->parts[i], &g->p[i], e) != 0)
			return -1;
		if (g->p[i]->forest->learner != CH_LEARN_FOREST)
			return ch_errf(e, "%s: boosted trees do not merge (each round "
			    "corrects the ones before): train the shards with "
			    "--learner forest", o->parts[i]);
		if (!same_bins(g->p[0]->schema, g->p[i]->schema))
			return ch_errf(e, "%s: binned otherwise than %s (train every "
			    "shard with the same --bins-from)", o->parts[i], o->parts[0]);
		g->rows[i] = part_rows(g->p[i]);
		if (g->rows[i] == 0)
			return ch_errf(e, "%s: no training rows in its metadata", o->parts[i]);
		g->total += g->rows[i];
		if ((double)g->p[i]->forest->ntrees / (double)g->rows[i] < per)
			per = (double)g->p[i]->forest->ntrees / (double)g->rows[i];
	}
	for (i = 0; i < o->nparts; i++) {
		int k = (int)floor(per * (double)g->rows[i] + 0.5);

		/* a shard too small to earn a tree casts no vote */
		g->keep[i] = k < 0 ? 0 : k > g->p[i]->forest->ntrees ?
		    g->p[i]->forest->ntrees : k;
	}
	return 0;
}

/* The trees moved from the parts into one forest. */
static struct ch_forest *
concat_trees(struct merge *g)
{
	struct ch_forest *f = ch_calloc(1, sizeof *f);
	size_t i;
	int t, n = 0;

	for (i = 0; i < g->o->nparts; i++)
		n += g->keep[i];
	f->nfeat = g->p[0]->forest->nfeat;
	f->learner = CH_LEARN_FOREST;
	f->trees = ch_calloc((size_t)n, sizeof *f->trees);
	for (i = 0; i < g->o->nparts; i++) {
		struct ch_forest *pf = g->p[i]->forest;

		for (t = 0; t < g->keep[i]; t++) {
			f->trees[f->ntrees++] = pf->trees[t];
			memset(&pf->trees[t], 0, sizeof pf->trees[t]);
		}
	}
	return f;
}

/* The merged model's schema, reference profiles and metadata. */
static void
merged_meta(struct merge *g)
{
	const struct ch_merge_opts *o = g->o;
	struct ch_model *m = g->m;
	json_t *imp = json_array(), *warn = json_array(), *params, *srcs = json_array();
	size_t i;
	int f;

	m->schema = schema_copy(g->p[0]->schema);
	for (f = 0; f < m->schema->nfeat; f++) {
		struct ch_profile *r = &m->schema->f[f].ref;

		memset(r->counts, 0, (size_t)r->nbins * sizeof *r->counts);
		r->missing = r->total = 0;
		for (i = 0; i < o->nparts; i++)
			profile_add(r, &g->p[i]->schema->f[f].ref);
	}
	m->pred_ref = g->p[0]->pred_ref;
	m->pred_ref.edges = ch_calloc((size_t)m->pred_ref.nbins, sizeof(double));
	memcpy(m->pred_ref.edges, g->p[0]->pred_ref.edges,
	    (size_t)(m->pred_ref.nbins - 1) * sizeof(double));
	m->pred_ref.counts = ch_calloc((size_t)m->pred_ref.nbins, sizeof(uint64_t));
	m->pred_ref.missing = m->pred_ref.total = 0;
	for (i = 0; i < o->nparts; i++)
		profile_add(&m->pred_ref, &g->p[i]->pred_ref);
	for (f = 0; f < m->schema->nfeat; f++) {
		double s = 0;

		for (i = 0; i < o->nparts; i++)
			s += json_number_value(json_array_get(json_object_get(
			    g->p[i]->meta, "importances"), (size_t)f)) *
			    (double)g->rows[i] / (double)g->total;
		json_array_append_new(imp, json_real(s));
	}
	for (i = 0; i < o->nparts; i++) {
		json_array_extend(warn, json_object_get(g->p[i]->meta, "warnings"));
		json_array_append_new(g->parts, json_pack("{s:s, s:s, s:s, s:I, s:i, s:i, s:f}",
		    "model", o->parts[i], "version", g->p[i]->version,
		    "sha256", g->p[i]->sha256, "rows", (json_int_t)g->rows[i],
		    "trees", g->p[i]->forest->ntrees, "trees_kept", g->keep[i],
		    "weight", (double)g->keep[i] / (double)m->forest->ntrees));
		json_array_append_new(srcs, json_string(ch_jstr(json_object_get(
		    g->p[i]->meta, "data"), "source", "")));
	}
	params = json_deep_copy(json_object_get(g->p[0]->meta, "params"));
	if (!json_is_object(params))
		params = json_object();
	json_object_set_new(params, "trees", json_integer(m->forest->ntrees));
	json_object_set_new(params, "holdout", json_real(0));
	json_object_set_new(params, "threshold", json_real(o->threshold));
	json_object_set_new(m->meta, "params", params);
	json_object_set_new(m->meta, "chosen", json_pack("{s:{s:s, s:o}, s:{s:s, s:s, s:s}}",
	    "merge", "by", "trees of forests grown per shard on one binning, "
	    "each shard's voting in proportion to its rows", "parts", g->parts,
	    "calibration", "method", "none", "asked", "none",
	    "by", "the parts' calibrations do not merge: the vote is uncalibrated"));
	g->parts = NULL;
	json_object_set_new(m->meta, "warnings", warn);
	json_object_set_new(m->meta, "oob", json_null());
	json_object_set_new(m->meta, "importances", imp);
	if (json_object_get(g->p[0]->meta, "binning"))
		json_object_set(m->meta, "binning", json_object_get(g->p[0]->meta, "binning"));
	json_object_set_new(m->meta, "data", json_pack("{s:o, s:s, s:I, s:I, s:I, s:I}",
	    "source", srcs, "sha256", "", "rows", (json_int_t)g->total,
	    "train_rows", (json_int_t)g->total, "eval_rows", (json_int_t)0,
	    "final_rows", (json_int_t)g->total));
}

/* The merged model measured on the labelled CSV o->valid. */
static int
measure(struct merge *g, struct ch_train_result *r, struct ch_err *e)
{
	struct ch_frame *va = NULL;
	struct ch_frame_opts fo = { 0 };
	size_t unseen, i;
	uint8_t *x;
	double *p;
	FILE *fp;
	int f, rc, nf;

	if (!(fp = fopen(g->o->valid, "rb")))
		return ch_errf(e, "open %s: %s", g->o->valid, strerror(errno));
	rc = ch_frame_load_with(fp, g->o->valid, g->m->schema, &fo, &va, &unseen, e);
	fclose(fp);
	if (rc != 0)
		return -1;
	nf = va->nfeat;
	x = ch_malloc(va->n * (size_t)nf);
	p = ch_malloc(va->n * sizeof *p);
	for (i = 0; i < va->n; i++)
		for (f = 0; f < nf; f++)
			x[i * (size_t)nf + (size_t)f] = va->codes[f][i];
	ch_model_predict_batch(g->m, x, va->n, p, g->o->jobs);
	ch_metrics_compute(p, va->y, va->n, g->o->threshold, &r->metrics);
	r->has_metrics = 1;
	r->eval_rows = va->n;
	r->eval_source = "valid";
	json_object_set_new(json_object_get(g->m->meta, "data"), "eval_rows",
	    json_integer((json_int_t)va->n));
	free(x);
	free(p);
	ch_frame_free(va);
	return 0;
}

int
ch_shard_merge(const struct ch_merge_opts *o, struct ch_train_result *r,
    struct ch_err *e)
{
	struct merge g = { 0 };
	double t0 = ch_seconds(), t;
	size_t i;
	int ret = -1;

	memset(r, 0, sizeof *r);
	if (o->nparts == 0)
		return ch_errf(e, "no models to merge");
	g.o = o;
	g.p = ch_calloc(o->nparts, sizeof *g.p);
	g.rows = ch_calloc(o->nparts, sizeof *g.rows);
	g.keep = ch_calloc(o->nparts, sizeof *g.keep);
	g.parts = json_array();
	if (load_parts(&g, e) != 0)
		goto out;
	r->t_read = ch_seconds() - t0;
	g.m = r->model = ch_calloc(1, sizeof *g.m);
	g.m->forest = concat_trees(&g);
	g.m->scorer = ch_scorer_new(g.m->forest);
	g.m->meta = json_object();
	g.m->created = o->now;
	ch_version_string(o->now, g.m->version);
	g.m->threshold = o->threshold;
	merged_meta(&g);
	r->warnings = json_incref(json_object_get(g.m->meta, "warnings"));
	t = ch_seconds();
	if (o->valid && measure(&g, r, e) != 0)
		goto out;
	r->t_eval = ch_seconds() - t;
	json_object_set_new(g.m->meta, "metrics", r->has_metrics ?
	    ch_metrics_to_json(&r->metrics) : json_null());
	json_object_set_new(g.m->meta, "evaluation", r->eval_source ?
	    json_string(r->eval_source) : json_null());
	t = ch_seconds();
	if (ch_model_save(g.m, o->output, e) != 0)
		goto out;
	r->t_write = ch_seconds() - t;
	r->output = o->output;
	r->rows = r->train_rows = r->refit_rows = g.total;
	ret = 0;
out:
	for (i = 0; i < o->nparts; i++)
		ch_model_free(g.p[i]);
	free(g.p);
	free(g.rows);
	free(g.keep);
	json_decref(g.parts);
	if (ret != 0)
		ch_train_result_free(r);
	return ret;
}
