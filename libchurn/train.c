/* train.c - the training job: read, split, fit, evaluate, write */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

/*
 * The default leaf size.  Trees grown to single rows overfit churn data:
 * on Telco, scikit-learn's forest reaches ROC-AUC 0.819 with
 * min_samples_leaf=1 and 0.840 with 5; this forest reaches 0.84-0.85 on the
 * same splits with leaves of 30 rows, a plateau from 20 to 60.  Small data
 * sets get a hundredth of their rows, so that trees still split; large ones
 * a five-thousandth, so that trees stay a size that trains, scores and
 * loads fast (100 trees on a million rows: about 6,000 leaves a tree).
 */
#define DEFAULT_MIN_LEAF 30

static int
auto_min_leaf(size_t n)
{
	if (n / 100 < DEFAULT_MIN_LEAF)
		return n / 100 < 1 ? 1 : (int)(n / 100);
	if (n / 5000 > DEFAULT_MIN_LEAF)
		return (int)(n / 5000);
	return DEFAULT_MIN_LEAF;
}

void
ch_train_defaults(struct ch_train_opts *o)
{
	memset(o, 0, sizeof *o);
	o->forest.trees = 100;
	o->forest.max_depth = 0;
	o->forest.min_leaf = 0;  /* auto_min_leaf */
	o->forest.mf = CH_MF_SQRT;
	o->forest.seed = 1;
	o->forest.jobs = ch_ncpus();
	o->holdout = 0.2;
	o->threshold = 0.5;
}

int
ch_parse_max_features(const char *s, struct ch_forest_params *p)
{
	double v;

	if (strcmp(s, "sqrt") == 0)
		p->mf = CH_MF_SQRT;
	else if (strcmp(s, "log2") == 0)
		p->mf = CH_MF_LOG2;
	else if (strcmp(s, "all") == 0)
		p->mf = CH_MF_ALL;
	else if (ch_parse_double(s, strlen(s), &v) != 0 || v <= 0)
		return -1;
	else if (v < 1)
		p->mf = CH_MF_FRACTION, p->mf_value = v;
	else if (v == floor(v))
		p->mf = CH_MF_COUNT, p->mf_value = v;
	else
		return -1;
	return 0;
}

static const char *
mf_name(const struct ch_forest_params *p, char *buf, size_t n)
{
	switch (p->mf) {
	case CH_MF_SQRT: return "sqrt";
	case CH_MF_LOG2: return "log2";
	case CH_MF_ALL: return "all";
	default: snprintf(buf, n, "%g", p->mf_value); return buf;
	}
}

/* Stratified split: in each class, a seeded shuffle puts round(frac * n)
 * rows in the holdout.  hold[i] = 1 marks them. */
static void
split(const uint8_t *y, size_t n, double frac, uint64_t seed, uint8_t *hold)
{
	size_t *idx = ch_malloc(n * sizeof *idx), m, i, j, k, t;
	struct ch_rng r;
	int cls;

	memset(hold, 0, n);
	ch_rng_seed(&r, seed ^ 0x5eed5eed5eedull);
	for (cls = 0; cls < 2; cls++) {
		for (m = i = 0; i < n; i++)
			if (y[i] == cls)
				idx[m++] = i;
		for (i = m; i > 1; i--) {
			j = (size_t)ch_rng_below(&r, i);
			t = idx[i - 1], idx[i - 1] = idx[j], idx[j] = t;
		}
		k = (size_t)floor(frac * (double)m + 0.5);
		for (i = 0; i < k; i++)
			hold[idx[i]] = 1;
	}
	free(idx);
}

/* Rows of fr with sel[i] == want, as training input (copies the codes). */
static void
subset(const struct ch_frame *fr, const uint8_t *sel, int want,
    uint8_t **codes, uint8_t *y, size_t *n)
{
	size_t i, k;
	int f;

	for (f = 0; f < fr->nfeat; f++)
		codes[f] = ch_malloc(fr->n ? fr->n : 1);
	for (k = i = 0; i < fr->n; i++) {
		if (sel && sel[i] != want)
			continue;
		for (f = 0; f < fr->nfeat; f++)
			codes[f][k] = fr->codes[f][i];
		y[k++] = fr->y[i];
	}
	*n = k;
}

/* Probabilities of n rows of column-major codes, through the scorer on
 * jobs threads, a block of rows at a time. */
static void
predict_all(const struct ch_model *m, uint8_t *const *codes, int nfeat,
    size_t n, double *p, int jobs)
{
	size_t blk = 65536, b, i, k;
	uint8_t *x = ch_malloc(blk * (size_t)nfeat);
	int f;

	for (b = 0; b < n; b += blk) {
		k = n - b < blk ? n - b : blk;
		for (i = 0; i < k; i++)
			for (f = 0; f < nfeat; f++)
				x[i * (size_t)nfeat + (size_t)f] = codes[f][b + i];
		ch_model_predict_batch(m, x, k, p + b, jobs);
	}
	free(x);
}

/* Profile of churn probabilities: 100 bins of width 0.01 (edges 0.01 ..
 * 0.99, upper-inclusive); NAN values (no estimate) are left out. */
static void
prob_profile(const double *p, size_t n, struct ch_profile *pr)
{
	size_t i;
	int b;

	pr->nbins = 100;
	pr->edges = ch_calloc(100, sizeof *pr->edges);
	pr->counts = ch_calloc(100, sizeof *pr->counts);
	for (b = 0; b < 99; b++)
		pr->edges[b] = (b + 1) / 100.0;
	for (i = 0; i < n; i++) {
		if (isnan(p[i]))
			continue;
		for (b = 0; b < 99 && p[i] > pr->edges[b]; b++)
			;
		pr->counts[b]++;
		pr->total++;
	}
}

static json_t *
params_json(const struct ch_train_opts *o, const struct ch_forest_params *p)
{
	char buf[32];

	return json_pack("{s:i, s:o, s:i, s:s, s:s, s:I, s:f, s:f}",
	    "trees", p->trees,
	    "max_depth", p->max_depth ? json_integer(p->max_depth) : json_null(),
	    "min_leaf", p->min_leaf,
	    "max_features", mf_name(p, buf, sizeof buf),
	    "class_weight", p->balanced ? "balanced" : "none",
	    "seed", (json_int_t)p->seed,
	    "holdout", o->valid ? 0.0 : o->holdout,
	    "threshold", o->threshold);
}

int
ch_train(FILE *fp, const char *name, const struct ch_frame_opts *fo,
    const struct ch_train_opts *o, struct ch_train_result *r,
    struct ch_err *e)
{
	struct ch_frame *fr = NULL, *va = NULL;
	struct ch_forest_stats st = { 0 };
	struct ch_train_data d;
	struct ch_forest_params fp_;
	struct ch_model *m;
	uint8_t **codes = NULL, *y = NULL, *hold = NULL, **ecodes = NULL, *ey = NULL;
	double *p = NULL, t0 = ch_seconds(), t;
	int *nbins = NULL, f, ret = -1;
	uint8_t *cat = NULL;
	size_t ntrain, neval = 0, unseen, i, oob_right = 0;
	FILE *vf;
	json_t *meta, *imp;
	struct ch_metrics oob;

	memset(r, 0, sizeof *r);
	if (ch_frame_load(fp, name, fo, &fr, e) != 0)
		return -1;
	if (o->valid) {
		if (!(vf = fopen(o->valid, "rb"))) {
			ch_errf(e, "open %s: %s", o->valid, strerror(errno));
			goto out;
		}
		ret = ch_frame_load_with(vf, o->valid, fr->schema, fo, &va, &unseen, e);
		fclose(vf);
		if (ret != 0)
			goto out;
		ret = -1;
	}
	r->t_read = ch_seconds() - t0;

	codes = ch_calloc((size_t)fr->nfeat, sizeof *codes);
	ecodes = ch_calloc((size_t)fr->nfeat, sizeof *ecodes);
	y = ch_malloc(fr->n);
	if (!o->valid && o->holdout > 0) {
		hold = ch_malloc(fr->n);
		split(fr->y, fr->n, o->holdout, o->forest.seed, hold);
		ey = ch_malloc(fr->n);
		subset(fr, hold, 1, ecodes, ey, &neval);
		r->eval_source = "holdout";
	} else if (va) {
		for (f = 0; f < fr->nfeat; f++)
			ecodes[f] = va->codes[f], va->codes[f] = NULL;
		ey = va->y, va->y = NULL;
		neval = va->n;
		r->eval_source = "valid";
	}
	subset(fr, hold, 0, codes, y, &ntrain);
	if (ntrain == 0) {
		ch_errf(e, "%s: no rows left to train on", name);
		goto out;
	}
	nbins = ch_calloc((size_t)fr->nfeat, sizeof *nbins);
	cat = ch_calloc((size_t)fr->nfeat, 1);
	for (f = 0; f < fr->nfeat; f++) {
		nbins[f] = fr->schema->f[f].nbins;
		cat[f] = fr->schema->f[f].type == CH_CATEGORICAL;
	}
	d = (struct ch_train_data){ ntrain, fr->nfeat, codes, y, nbins, cat };
	fp_ = o->forest;
	if (fp_.min_leaf <= 0)
		fp_.min_leaf = auto_min_leaf(ntrain);

	m = r->model = ch_calloc(1, sizeof *m);
	t = ch_seconds();
	if (ch_forest_train(&d, &fp_, &m->forest, &st, o->progress, NULL, e) != 0)
		goto out;
	r->t_train = ch_seconds() - t;
	m->scorer = ch_scorer_new(m->forest);

	t = ch_seconds();
	if (neval > 0) {
		p = ch_malloc(neval * sizeof *p);
		predict_all(m, ecodes, fr->nfeat, neval, p, o->forest.jobs);
		ch_metrics_compute(p, ey, neval, o->threshold, &r->metrics);
		r->has_metrics = 1;
		prob_profile(p, neval, &m->pred_ref);
	} else {
		prob_profile(st.oob_prob, ntrain, &m->pred_ref);
	}
	r->t_eval = ch_seconds() - t;

	m->schema = fr->schema;
	fr->schema = NULL;
	m->created = o->now;
	ch_version_string(o->now, m->version);
	m->threshold = o->threshold;
	meta = m->meta = json_object();
	json_object_set_new(meta, "params", params_json(o, &fp_));
	json_object_set_new(meta, "metrics", r->has_metrics ?
	    ch_metrics_to_json(&r->metrics) : json_null());
	json_object_set_new(meta, "evaluation", r->eval_source ?
	    json_string(r->eval_source) : json_null());
	/* out-of-bag: accuracy (scikit-learn's oob_score_) and ROC-AUC */
	{
		double *op = ch_malloc((ntrain ? ntrain : 1) * sizeof *op);
		uint8_t *oy = ch_malloc(ntrain ? ntrain : 1);
		size_t k = 0;

		for (i = 0; i < ntrain; i++) {
			if (isnan(st.oob_prob[i]))
				continue;
			op[k] = st.oob_prob[i];
			oy[k++] = y[i];
			oob_right += (st.oob_prob[i] >= 0.5) == (y[i] == 1);
		}
		if (k > 0 && ch_metrics_compute(op, oy, k, 0.5, &oob) == 0)
			json_object_set_new(meta, "oob", json_pack("{s:f, s:o, s:I}",
			    "score", (double)oob_right / (double)k,
			    "roc_auc", isnan(oob.roc_auc) ? json_null() : json_real(oob.roc_auc),
			    "rows", (json_int_t)k));
		else
			json_object_set_new(meta, "oob", json_null());
		free(op);
		free(oy);
	}
	imp = json_array();
	for (f = 0; f < fr->nfeat; f++)
		json_array_append_new(imp, json_real(st.importance[f]));
	json_object_set_new(meta, "importances", imp);
	json_object_set_new(meta, "data", json_pack("{s:s, s:s, s:I, s:I, s:I}",
	    "source", strcmp(name, "-") == 0 ? "<stdin>" : name,
	    "sha256", fr->sha256, "rows", (json_int_t)fr->n,
	    "train_rows", (json_int_t)ntrain, "eval_rows", (json_int_t)neval));

	t = ch_seconds();
	if (ch_model_save(m, o->output, e) != 0)
		goto out;
	r->t_write = ch_seconds() - t;
	r->output = o->output;
	r->rows = fr->n;
	r->train_rows = ntrain;
	r->eval_rows = neval;
	ret = 0;
out:
	for (f = 0; fr && f < fr->nfeat; f++) {
		if (codes)
			free(codes[f]);
		if (ecodes)
			free(ecodes[f]);
	}
	free(codes);
	free(ecodes);
	free(y);
	free(ey);
	free(hold);
	free(p);
	free(nbins);
	free(cat);
	ch_forest_stats_free(&st);
	ch_frame_free(fr);
	ch_frame_free(va);
	if (ret != 0)
		ch_train_result_free(r);
	return ret;
}

json_t *
ch_train_summary(const struct ch_train_result *r)
{
	const struct ch_model *m = r->model;
	json_t *o = json_object(), *fs = json_array(), *imp;
	char created[21];
	int i;

	ch_iso8601(m->created, created);
	imp = json_object_get(m->meta, "importances");
	for (i = 0; i < m->schema->nfeat; i++)
		json_array_append_new(fs, json_pack("{s:s, s:s, s:O}",
		    "name", m->schema->f[i].name,
		    "type", m->schema->f[i].type == CH_NUMERIC ? "numeric" : "categorical",
		    "importance", json_array_get(imp, (size_t)i)));
	json_object_set_new(o, "version", json_string(m->version));
	json_object_set_new(o, "created", json_string(created));
	json_object_set_new(o, "model", json_string(r->output));
	json_object_set_new(o, "sha256", json_string(m->sha256));
	json_object_set_new(o, "size", json_integer((json_int_t)m->file_size));
	json_object_set_new(o, "target", json_string(m->schema->target));
	json_object_set_new(o, "rows", json_pack("{s:I, s:I, s:I, s:o}",
	    "total", (json_int_t)r->rows, "train", (json_int_t)r->train_rows,
	    "eval", (json_int_t)r->eval_rows,
	    "evaluation", r->eval_source ? json_string(r->eval_source) : json_null()));
	json_object_set_new(o, "features", fs);
	json_object_set(o, "params", json_object_get(m->meta, "params"));
	json_object_set(o, "metrics", json_object_get(m->meta, "metrics"));
	json_object_set(o, "oob", json_object_get(m->meta, "oob"));
	json_object_set(o, "data", json_object_get(m->meta, "data"));
	json_object_set_new(o, "timings", json_pack("{s:f, s:f, s:f, s:f}",
	    "read_s", r->t_read, "train_s", r->t_train, "eval_s", r->t_eval,
	    "write_s", r->t_write));
	return o;
}

void
ch_train_result_free(struct ch_train_result *r)
{
	ch_model_free(r->model);
	r->model = NULL;
}
