/* frame.c - a labelled data set in memory, binned for training */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "frame.h"

#define NOVAL UINT32_MAX        /* a missing cell while reading */

int
ch_label(const char *s, size_t len, const char *positive)
{
	static const char *const pos[] = { "Yes", "yes", "YES", "1", "true",
	    "True", "TRUE", "Y", "y", NULL };
	static const char *const neg[] = { "No", "no", "NO", "0", "false",
	    "False", "FALSE", "N", "n", NULL };
	const char *const *p;

	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (ch_is_missing(s, len))
		return -1;
	if (positive)
		return strlen(positive) == len && memcmp(s, positive, len) == 0;
	for (p = pos; *p; p++)
		if (strlen(*p) == len && memcmp(s, *p, len) == 0)
			return 1;
	for (p = neg; *p; p++)
		if (strlen(*p) == len && memcmp(s, *p, len) == 0)
			return 0;
	return -1;
}

/* A column while reading: the cells as indices of interned texts. */
struct col {
	struct ch_strmap *vals;
	uint32_t *cell;
};

struct reading {
	struct ch_csv *csv;
	char **hdr;
	size_t nhdr;
	int target, id;
	int nfeat;
	int *fcol;              /* feature -> CSV column */
	size_t n, cap;
	uint8_t *y;
	long *line;
};

static void
free_reading(struct reading *r)
{
	size_t i;

	ch_csv_close(r->csv);
	for (i = 0; r->hdr && i < r->nhdr; i++)
		free(r->hdr[i]);
	free(r->hdr);
	free(r->fcol);
	free(r->y);
	free(r->line);
}

static int
label_error(struct reading *r, long line, const char *s, const char *col,
    const char *positive, struct ch_err *e)
{
	if (positive)
		return ch_errf(e, "%s:%ld: column '%s': missing label",
		    ch_csv_name(r->csv), line, col);
	return ch_errf(e, "%s:%ld: column '%s': '%.40s' is not a label "
	    "(Yes/No, 1/0, true/false; or use --positive)",
	    ch_csv_name(r->csv), line, col, s);
}

/* Opens the CSV and reads its header: finds target, id and features. */
static int
read_header(struct reading *r, FILE *fp, const char *name,
    const struct ch_frame_opts *o, struct ch_err *e)
{
	struct ch_record rec;
	const char *target = o->target ? o->target : "Churn";
	size_t i;

	memset(r, 0, sizeof *r);
	r->target = r->id = -1;
	if (!(r->csv = ch_csv_open(fp, name, e)))
		return -1;
	if (ch_csv_header(r->csv, &rec, e) != 0)
		return -1;
	r->nhdr = rec.n;
	r->hdr = ch_calloc(rec.n, sizeof *r->hdr);
	for (i = 0; i < rec.n; i++) {
		r->hdr[i] = ch_strndup(rec.field[i], rec.len[i]);
		if (strcmp(r->hdr[i], target) == 0)
			r->target = (int)i;
		if (o->id ? strcmp(r->hdr[i], o->id) == 0 :
		    strcmp(r->hdr[i], "customerID") == 0)
			r->id = (int)i;
	}
	if (r->target < 0)
		return ch_errf(e, "%s:%ld: no target column '%s'",
		    ch_csv_name(r->csv), rec.line, target);
	if (o->id && r->id < 0)
		return ch_errf(e, "%s:%ld: no id column '%s'",
		    ch_csv_name(r->csv), rec.line, o->id);
	for (char **d = o->drop; d && *d; d++) {
		for (i = 0; i < r->nhdr && strcmp(r->hdr[i], *d) != 0; i++)
			;
		if (i == r->nhdr)
			return ch_errf(e, "%s:%ld: no column '%s' to drop",
			    ch_csv_name(r->csv), rec.line, *d);
	}
	r->fcol = ch_calloc(r->nhdr, sizeof *r->fcol);
	for (i = 0; i < r->nhdr; i++)
		if ((int)i != r->target && (int)i != r->id &&
		    !ch_strv_has(o->drop, r->hdr[i]))
			r->fcol[r->nfeat++] = (int)i;
	if (r->nfeat == 0)
		return ch_errf(e, "%s: no feature columns besides the target",
		    ch_csv_name(r->csv));
	return 0;
}

/* Makes room for one more row; returns 1 when the capacity grew. */
static int
grow_rows(struct reading *r)
{
	if (r->n < r->cap)
		return 0;
	r->cap = r->cap ? 2 * r->cap : 4096;
	r->y = ch_realloc(r->y, r->cap);
	r->line = ch_reallocarray(r->line, r->cap, sizeof *r->line);
	return 1;
}

/*
 * Reads the next data row: checks its width, reads its label, makes room
 * for it (*grew set when the row arrays grew: the caller's columns must
 * grow too) and records its label and line.  The caller stores the
 * features at index r->n, then increments it.  Returns 1, 0 at the end,
 * -1 on error.
 */
static int
next_row(struct reading *r, struct ch_record *rec, const char *positive,
    int *grew, struct ch_err *e)
{
	int rc = ch_csv_next(r->csv, rec, e), lab;

	if (rc <= 0)
		return rc;
	if (rec->n != r->nhdr)
		return ch_errf(e, "%s:%ld: ragged row: %zu fields, the header has %zu",
		    ch_csv_name(r->csv), rec->line, rec->n, r->nhdr);
	lab = ch_label(rec->field[r->target], rec->len[r->target], positive);
	if (lab < 0)
		return label_error(r, rec->line, rec->field[r->target],
		    r->hdr[r->target], positive, e);
	*grew = grow_rows(r);
	r->y[r->n] = (uint8_t)lab;
	r->line[r->n] = rec->line;
	return 1;
}

/* A file with a header and no rows is an error. */
static int
no_rows(const struct reading *r, struct ch_err *e)
{
	if (r->n > 0)
		return 0;
	ch_errf(e, "%s: no data rows after the header", ch_csv_name(r->csv));
	return 1;
}

struct distinct {
	double v;
	uint64_t count;
	uint32_t id;
};

static int
by_value(const void *a, const void *b)
{
	double x = ((const struct distinct *)a)->v, y = ((const struct distinct *)b)->v;

	return (x > y) - (x < y);
}

static int
by_count_then_name(const void *a, const void *b, void *m)
{
	const struct distinct *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(ch_strmap_key(m, x->id, NULL), ch_strmap_key(m, y->id, NULL));
}

static int
by_name(const void *a, const void *b, void *m)
{
	const struct distinct *x = a, *y = b;

	return strcmp(ch_strmap_key(m, x->id, NULL), ch_strmap_key(m, y->id, NULL));
}

/* qsort_r is a GNU extension; a small merge sort keeps us portable */
static void
sort_ctx(struct distinct *a, size_t n, int (*cmp)(const void *, const void *, void *),
    void *ctx)
{
	struct distinct *tmp;
	size_t w, i, lo, mid, hi, l, r, k;

	if (n < 2)
		return;
	tmp = ch_malloc(n * sizeof *tmp);
	for (w = 1; w < n; w *= 2) {
		for (lo = 0; lo < n; lo += 2 * w) {
			mid = lo + w < n ? lo + w : n;
			hi = lo + 2 * w < n ? lo + 2 * w : n;
			l = lo, r = mid, k = lo;
			while (l < mid && r < hi)
				tmp[k++] = cmp(&a[r], &a[l], ctx) < 0 ? a[r++] : a[l++];
			while (l < mid)
				tmp[k++] = a[l++];
			while (r < hi)
				tmp[k++] = a[r++];
		}
		for (i = 0; i < n; i++)
			a[i] = tmp[i];
	}
	free(tmp);
}

int
ch_quantile_edges(const double *v, const uint64_t *count, size_t nd,
    uint64_t total, int maxb, double *edges)
{
	size_t i;
	uint64_t cum = 0;
	int ne = 0, k = 1;

	if (nd <= (size_t)maxb) {
		for (i = 0; i + 1 < nd; i++)
			edges[ne++] = v[i];
		return ne;
	}
	for (i = 0; i + 1 < nd && ne < maxb - 1; i++) {
		cum += count[i];
		/* cut when the cumulative count reaches the next quantile */
		if ((double)cum * maxb >= (double)k * (double)total) {
			edges[ne++] = v[i];
			while (k < maxb && (double)cum * maxb >= (double)k * (double)total)
				k++;
		}
	}
	return ne;
}

/* ch_quantile_edges of distinct values d (sorted, with counts). */
static int
numeric_edges(const struct distinct *d, size_t nd, uint64_t total, int maxb,
    double *edges)
{
	double *v = ch_malloc((nd ? nd : 1) * sizeof *v);
	uint64_t *n = ch_malloc((nd ? nd : 1) * sizeof *n);
	size_t i;
	int ne;

	for (i = 0; i < nd; i++)
		v[i] = d[i].v, n[i] = d[i].count;
	ne = ch_quantile_edges(v, n, nd, total, maxb, edges);
	free(v);
	free(n);
	return ne;
}

/*
 * A column is numeric when its non-missing cells are numbers but for at
 * most one in BAD_SHARE of them (or when --numeric names it): those few
 * are bad cells, left missing and reported (the lines of the first
 * BAD_LINES) in the frame's warnings -- the rule every reader of a model's
 * features applies too (ch_encode_record, ch_encode_json: churn-predict,
 * churn-serve, --valid), where such a cell is scored as missing with a
 * warning naming its line and column.
 */
#define BAD_SHARE 100
#define BAD_LINES 5

/* Turns a column of interned cells into a feature and its codes. */
static int
build_feature(struct reading *r, const long *line, struct col *c, int fi,
    const struct ch_frame_opts *o, struct ch_feature *f, uint8_t *codes,
    json_t *warn, struct ch_err *e)
{
	uint8_t *bad = NULL;
	uint64_t nbad = 0;
	const char *name = r->hdr[r->fcol[fi]];
	size_t nd = ch_strmap_count(c->vals), i, j, k, len;
	struct distinct *d = ch_calloc(nd, sizeof *d);
	uint8_t *map = ch_malloc(nd ? nd : 1);
	uint64_t total = 0;
	int numeric = !ch_strv_has(o->categorical, name), maxb;
	const char *s;

	for (i = 0; i < r->n; i++)
		if (c->cell[i] != NOVAL)
			d[c->cell[i]].count++;
	for (i = 0; i < nd; i++) {
		d[i].id = (uint32_t)i;
		total += d[i].count;
		s = ch_strmap_key(c->vals, i, &len);
		if (numeric && ch_parse_double(s, len, &d[i].v) != 0) {
			if (!bad)
				bad = ch_calloc(nd, 1);
			bad[i] = 1;
			nbad += d[i].count;
		}
	}
	if (numeric && nbad && nbad == total && ch_strv_has(o->numeric, name)) {
		/* --numeric, and not one number: say where it starts */
		for (j = 0; c->cell[j] == NOVAL || !bad[c->cell[j]]; j++)
			;
		s = ch_strmap_key(c->vals, c->cell[j], &len);
		ch_errf(e, "%s:%ld: column '%s': '%.40s' is not a number (nor "
		    "any cell)", ch_csv_name(r->csv), line[j], name, s);
		free(d);
		free(map);
		free(bad);
		return -1;
	}
	if (numeric && nbad && !ch_strv_has(o->numeric, name) &&
	    (nbad * BAD_SHARE > total || nbad == total)) {
		numeric = 0;
		nbad = 0;
	}
	if (numeric && nbad) {
		/* a few bad cells: missing, and said */
		char msg[512], vals[160] = "", at[96] = "";
		json_t *lines = json_array();
		size_t n = 0, vl = 0, al = 0;

		for (j = 0; j < r->n && n < BAD_LINES; j++)
			if (c->cell[j] != NOVAL && bad[c->cell[j]]) {
				json_array_append_new(lines, json_integer(line[j]));
				al += (size_t)snprintf(at + al, sizeof at - al, "%s%ld",
				    n ? ", " : "", line[j]);
				n++;
			}
		for (i = 0; i < nd && vl + 48 < sizeof vals; i++)
			if (bad[i]) {
				s = ch_strmap_key(c->vals, i, &len);
				vl += (size_t)snprintf(vals + vl, sizeof vals - vl, "%s'%.*s'",
				    vl ? ", " : "", (int)(len > 40 ? 40 : len), s);
			}
		snprintf(msg, sizeof msg, "%s: column '%s': %llu cell%s not a number "
		    "(%s) at line%s %s%s: left missing, the column numeric",
		    ch_csv_name(r->csv), name, (unsigned long long)nbad,
		    nbad == 1 ? "" : "s", vals, n == 1 ? "" : "s", at,
		    nbad > n ? ", ..." : "");
		json_array_append_new(warn, json_pack("{s:s, s:s, s:s, s:o}",
		    "column", name, "what", "not a number", "message", msg,
		    "lines", lines));
		/* out of the quantiles: they are missing */
		total -= nbad;
		for (i = 0, j = 0; i < nd; i++)
			if (!bad[i])
				d[j++] = d[i];
			else
				map[i] = CH_MISSING;
		nd = j;
	}
	free(bad);
	f->name = ch_strdup(name);
	if (numeric) {
		maxb = o->max_bins >= 2 && o->max_bins <= CH_MAXBINS ? o->max_bins : CH_MAXBINS;
		f->type = CH_NUMERIC;
		qsort(d, nd, sizeof *d, by_value);
		/* "1" and "1.0" are one value: merge equal neighbours for the edges */
		struct distinct *u = ch_malloc((nd ? nd : 1) * sizeof *u);
		size_t nu = 0;
		for (i = 0; i < nd; i++) {
			if (nu && u[nu - 1].v == d[i].v)
				u[nu - 1].count += d[i].count;
			else
				u[nu++] = d[i];
		}
		f->edges = ch_calloc((size_t)maxb, sizeof *f->edges);
		f->nbins = numeric_edges(u, nu, total, maxb, f->edges) + 1;
		f->min = nu ? u[0].v : 0;
		f->max = nu ? u[nu - 1].v : 0;
		free(u);
		for (i = 0; i < nd; i++)
			map[d[i].id] = ch_bin_numeric(f, d[i].v);
	} else {
		f->type = CH_CATEGORICAL;
		/* the most frequent CH_MAXBINS - 1 categories, in name order */
		sort_ctx(d, nd, by_count_then_name, c->vals);
		k = nd < CH_MAXBINS - 1 ? nd : CH_MAXBINS - 1;
		for (i = k; i < nd; i++)
			map[d[i].id] = CH_MISSING;
		sort_ctx(d, k, by_name, c->vals);
		f->nbins = k ? (int)k : 1;
		f->cats = ch_calloc((size_t)f->nbins, sizeof *f->cats);
		if (k == 0)  /* an all-missing column still needs a category */
			f->cats[0] = ch_strdup("");
		for (i = 0; i < k; i++) {
			s = ch_strmap_key(c->vals, d[i].id, &len);
			f->cats[i] = ch_strndup(s, len);
			map[d[i].id] = (uint8_t)i;
		}
		ch_feature_index(f);    /* names are distinct: interned */
	}
	f->ref.nbins = f->nbins;
	f->ref.counts = ch_calloc((size_t)f->nbins, sizeof *f->ref.counts);
	if (f->type == CH_NUMERIC) {
		f->ref.edges = ch_calloc((size_t)f->nbins, sizeof *f->ref.edges);
		memcpy(f->ref.edges, f->edges, (size_t)(f->nbins - 1) * sizeof *f->edges);
	}
	for (i = 0; i < r->n; i++) {
		codes[i] = c->cell[i] == NOVAL ? CH_MISSING : map[c->cell[i]];
		if (codes[i] == CH_MISSING)
			f->ref.missing++;
		else
			f->ref.counts[codes[i]]++;
	}
	f->ref.total = r->n;
	free(d);
	free(map);
	return 0;
}

static struct ch_frame *
new_frame(struct reading *r, const char *name)
{
	struct ch_frame *fr = ch_calloc(1, sizeof *fr);

	fr->warnings = json_array();
	fr->n = r->n;
	fr->y = r->y;
	fr->line = r->line;
	r->y = NULL;
	r->line = NULL;
	fr->source = ch_strdup(name);
	ch_csv_sha256(r->csv, fr->sha256);
	return fr;
}

int
ch_frame_load(FILE *fp, const char *name, const struct ch_frame_opts *o,
    struct ch_frame **out, struct ch_err *e)
{
	struct reading r;
	struct ch_record rec;
	struct ch_frame *fr = NULL;
	struct ch_schema *s;
	struct col *cols = NULL;
	int rc, i, grew, ret = -1;

	if (read_header(&r, fp, name, o, e) != 0)
		goto out;
	cols = ch_calloc((size_t)r.nfeat, sizeof *cols);
	for (i = 0; i < r.nfeat; i++)
		cols[i].vals = ch_strmap_new();
	while ((rc = next_row(&r, &rec, o->positive, &grew, e)) > 0) {
		if (grew)
			for (i = 0; i < r.nfeat; i++)
				cols[i].cell = ch_reallocarray(cols[i].cell, r.cap,
				    sizeof *cols[i].cell);
		for (i = 0; i < r.nfeat; i++) {
			int c = r.fcol[i];

			cols[i].cell[r.n] = ch_is_missing(rec.field[c], rec.len[c]) ?
			    NOVAL : (uint32_t)ch_strmap_put(cols[i].vals,
			    rec.field[c], rec.len[c], NULL);
		}
		r.n++;
	}
	if (rc < 0 || no_rows(&r, e))
		goto out;
	fr = new_frame(&r, name);
	s = fr->schema = ch_calloc(1, sizeof *s);
	s->target = ch_strdup(r.hdr[r.target]);
	s->positive = o->positive ? ch_strdup(o->positive) : NULL;
	s->id = r.id >= 0 ? ch_strdup(r.hdr[r.id]) : NULL;
	s->nfeat = fr->nfeat = r.nfeat;
	s->f = ch_calloc((size_t)r.nfeat, sizeof *s->f);
	fr->codes = ch_calloc((size_t)r.nfeat, sizeof *fr->codes);
	for (i = 0; i < r.nfeat; i++) {
		fr->codes[i] = ch_malloc(r.n);
		if (build_feature(&r, fr->line, &cols[i], i, o, &s->f[i],
		    fr->codes[i], fr->warnings, e) != 0)
			goto out;
		/* free as we go: peak memory is one column of cells less */
		free(cols[i].cell);
		cols[i].cell = NULL;
	}
	*out = fr;
	fr = NULL;
	ret = 0;
out:
	for (i = 0; cols && i < r.nfeat; i++) {
		ch_strmap_free(cols[i].vals);
		free(cols[i].cell);
	}
	free(cols);
	ch_frame_free(fr);
	free_reading(&r);
	return ret;
}

static void
count_unseen(void *arg, int feat, const char *s, size_t len)
{
	(void)feat, (void)s, (void)len;
	++*(size_t *)arg;
}

int
ch_frame_load_with(FILE *fp, const char *name, const struct ch_schema *s,
    const struct ch_frame_opts *o, struct ch_frame **out, size_t *unseen,
    struct ch_err *e)
{
	struct ch_frame_opts oo = *o;
	struct reading r;
	struct ch_record rec;
	struct ch_frame *fr = NULL;
	struct ch_cols cols = { 0 };
	int rc, i, grew, bad = -1, bf = -1, ret = -1;
	uint8_t **codes = NULL, *x = ch_malloc((size_t)s->nfeat + 1);
	size_t nbad = 0;
	char first[sizeof e->msg] = "";

	oo.target = s->target;
	oo.id = NULL;
	if (!oo.positive)
		oo.positive = s->positive;
	oo.drop = NULL;
	if (read_header(&r, fp, name, &oo, e) != 0)
		goto out;
	if (ch_schema_map_header(s, r.hdr, r.nhdr, &cols, ch_csv_name(r.csv), e) != 0)
		goto out;
	codes = ch_calloc((size_t)s->nfeat, sizeof *codes);
	*unseen = 0;
	while ((rc = next_row(&r, &rec, oo.positive, &grew, e)) > 0) {
		if (grew)
			for (i = 0; i < s->nfeat; i++)
				codes[i] = ch_realloc(codes[i], r.cap);
		switch (ch_encode_record(s, &cols, &rec, ch_csv_name(r.csv), x,
		    count_unseen, unseen, &bad, e)) {
		case 0:
			break;
		case 1:         /* the rule of scoring: missing, and said */
			if (nbad++ == 0) {
				snprintf(first, sizeof first, "%s", e->msg);
				bf = bad;
			}
			break;
		default:
			goto out;
		}
		for (i = 0; i < s->nfeat; i++)
			codes[i][r.n] = x[i];
		r.n++;
	}
	if (rc < 0 || no_rows(&r, e))
		goto out;
	fr = new_frame(&r, name);
	fr->nfeat = s->nfeat;
	if (nbad) {
		char msg[sizeof first + 64];

		snprintf(msg, sizeof msg, "%s, left missing (%zu such cell%s)",
		    first, nbad, nbad == 1 ? "" : "s");
		json_array_append_new(fr->warnings, json_pack("{s:s, s:s, s:s}",
		    "column", bf >= 0 ? s->f[bf].name : "", "what",
		    "not a number", "message", msg));
	}
	fr->codes = codes;
	codes = NULL;
	*out = fr;
	ret = 0;
out:
	for (i = 0; codes && i < s->nfeat; i++)
		free(codes[i]);
	free(codes);
	free(x);
	ch_cols_free(&cols);
	free_reading(&r);
	return ret;
}

void
ch_frame_free(struct ch_frame *f)
{
	int i;

	if (!f)
		return;
	for (i = 0; f->codes && i < f->nfeat; i++)
		free(f->codes[i]);
	free(f->codes);
	ch_schema_free(f->schema);
	free(f->y);
	free(f->line);
	free(f->source);
	json_decref(f->warnings);
	free(f);
}
