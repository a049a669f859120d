/* train.c - the training job: read, split, fit, evaluate, write */
#include <errno.h>
#include <stdarg.h>
#include <strings.h>
#include <math.h>
#include <pthread.h>
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
	ch_gbdt_defaults(&o->gbdt);
	o->learner = CH_CHOOSE_AUTO;
	o->calibrate = -1;
	o->refit = 1;
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


/* ROC-AUC of p over the rows with sel[i] (sel NULL: all) and p[i] not
 * NAN; NAN when a class is absent. */
static double
auc_of(const double *p, const uint8_t *y, size_t n, const uint8_t *sel)
{
	double *q = ch_malloc((n ? n : 1) * sizeof *q), a = NAN;
	uint8_t *z = ch_malloc(n ? n : 1);
	struct ch_metrics m;
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if ((!sel || sel[i]) && !isnan(p[i]))
			q[k] = p[i], z[k++] = y[i];
	if (k > 0 && ch_metrics_compute(q, z, k, 0.5, &m) == 0)
		a = m.roc_auc;
	free(q);
	free(z);
	return a;
}

/*
 * The forest's minimum leaf and features per split, by out-of-bag AUC of
 * forests of TUNE_TREES trees: min_leaf climbs the grid from 10 towards
 * the better neighbour while the AUC rises, then the features per split
 * are tried at the chosen leaf.  Training takes milliseconds, so the
 * search costs a few forests.  Big data sets (more than TUNE_MAX rows)
 * keep the rule of thumb: trees of single rows on a million rows are slow
 * to train and to load, and out-of-bag choices matter little there.
 */
#define TUNE_TREES 32
#define TUNE_MAX 100000
#define PROBE_MARGIN 0.01
static const int leaf_grid[] = { 1, 3, 10, 30, 100 };
#define NLEAF ((int)(sizeof leaf_grid / sizeof leaf_grid[0]))

/* Out-of-bag AUC of a forest of parameters p; NAN when it cannot be
 * trained (bad parameters: the final training reports them). */
static double
oob_auc_of(const struct ch_train_data *d, const struct ch_forest_params *p,
    struct ch_err *e)
{
	struct ch_forest *f = NULL;
	struct ch_forest_stats st = { 0 };
	double a;

	if (ch_forest_train(d, p, &f, &st, NULL, NULL, e) != 0)
		return NAN;
	a = auc_of(st.oob_prob, d->y, d->n, NULL);
	ch_forest_free(f);
	ch_forest_stats_free(&st);
	return a;
}

static void
tune_forest(const struct ch_train_data *d, const struct ch_train_opts *o,
    struct ch_forest_params *fp, json_t **why, struct ch_err *e)
{
	struct ch_forest_params t = *fp;
	double auc[NLEAF], best, a;
	int i, k = 2, dir, set_leaf = fp->min_leaf > 0;
	json_t *grid = json_object(), *mfg = json_object();
	char key[32];

	*why = NULL;
	if (set_leaf && o->mf_set) {
		json_decref(grid);
		json_decref(mfg);
		return;
	}
	if (d->n > TUNE_MAX) {
		if (!set_leaf)
			fp->min_leaf = auto_min_leaf(d->n);
		json_decref(grid);
		json_decref(mfg);
		*why = json_pack("{s:i, s:s}", "min_leaf", fp->min_leaf, "by",
		    "rule for large data (a five-thousandth of the rows)");
		return;
	}
	t.trees = TUNE_TREES;
	for (i = 0; i < NLEAF; i++)
		auc[i] = NAN;
	if (!set_leaf) {
		t.min_leaf = leaf_grid[k];
		auc[k] = oob_auc_of(d, &t, e);
		/* the better neighbour gives the direction */
		t.min_leaf = leaf_grid[k - 1];
		auc[k - 1] = oob_auc_of(d, &t, e);
		t.min_leaf = leaf_grid[k + 1];
		auc[k + 1] = oob_auc_of(d, &t, e);
		dir = auc[k - 1] >= auc[k + 1] ? -1 : 1;
		best = auc[k];
		for (i = k + dir; i >= 0 && i < NLEAF && auc[i] > best; i += dir) {
			best = auc[i];
			k = i;
			if (i + dir >= 0 && i + dir < NLEAF && isnan(auc[i + dir])) {
				t.min_leaf = leaf_grid[i + dir];
				auc[i + dir] = oob_auc_of(d, &t, e);
			}
		}
		fp->min_leaf = leaf_grid[k];
		for (i = 0; i < NLEAF; i++)
			if (!isnan(auc[i])) {
				snprintf(key, sizeof key, "%d", leaf_grid[i]);
				json_object_set_new(grid, key, json_real(auc[i]));
			}
	} else {
		t.min_leaf = fp->min_leaf;
		best = oob_auc_of(d, &t, e);
	}
	t.min_leaf = fp->min_leaf;
	if (!o->mf_set) {
		json_object_set_new(mfg, "sqrt", json_real(best));
		t.mf = CH_MF_FRACTION;
		t.mf_value = 0.5;
		a = oob_auc_of(d, &t, e);
		json_object_set_new(mfg, "0.5", isnan(a) ? json_null() : json_real(a));
		if (a > best) {
			best = a;
			fp->mf = CH_MF_FRACTION;
			fp->mf_value = 0.5;
		}
	}
	*why = json_pack("{s:s, s:i, s:o, s:o, s:f}",
	    "by", "out-of-bag ROC-AUC", "trees", TUNE_TREES,
	    "min_leaf", set_leaf ? json_string("given") : grid,
	    "max_features", o->mf_set ? json_string("given") : mfg,
	    "roc_auc", best);
	if (set_leaf)
		json_decref(grid);
	if (o->mf_set)
		json_decref(mfg);
}

/*
 * Data hygiene, said out loud (with the reader's: a few cells of a
 * numeric column that are not numbers): each finding is a warning (the caller
 * prints them; the summary and the model keep them), never a silent
 * change, and --keep COL keeps a column as it is.
 *
 *  - an id-like column: a name of ID_NAMES (any case), or a categorical
 *    column whose every seen value occurs once (unique per row) -- taken as
 *    the id when there is none, else left out of the features;
 *  - a likely leak: a feature that alone ranks the training rows (the
 *    holdout aside) with ROC-AUC >= LEAK_AUC is left out.
 */
#define LEAK_AUC 0.99
static const char *const id_names[] = {
	"id", "customerid", "customer_id", "custid", "cust_id", "clientnum",
	"clientid", "client_id", "accountid", "account_id", "userid",
	"user_id", "memberid", "member_id", "subscriberid", "subscriber_id",
	"rownumber", "row_number", NULL
};

static int
id_name(const char *s)
{
	const char *const *p;

	for (p = id_names; *p; p++)
		if (strcasecmp(s, *p) == 0)
			return 1;
	return 0;
}

/* A categorical feature whose every category was seen once. */
static int
unique_per_row(const struct ch_feature *f, size_t n)
{
	int c;

	if (f->type != CH_CATEGORICAL || n < 20 || f->nbins < 2)
		return 0;
	for (c = 0; c < f->nbins; c++)
		if (f->ref.counts[c] != 1)
			return 0;
	/* what the reader set aside as rare (missing) is more of the same */
	return f->ref.total == n;
}

/* ROC-AUC of one feature alone on the rows with sel[i] == 0: numeric by
 * its codes (either direction), categorical by its categories' smoothed
 * positive rates. */
static double
single_auc(const struct ch_frame *fr, int f, const uint8_t *sel)
{
	const uint8_t *col = fr->codes[f];
	double *p = ch_malloc((fr->n ? fr->n : 1) * sizeof *p), a;
	double pos[256] = { 0 }, cnt[256] = { 0 }, prior, np = 0, nn = 0;
	size_t i;
	int c, cat = fr->schema->f[f].type == CH_CATEGORICAL;

	for (i = 0; i < fr->n; i++) {
		if (sel && sel[i])
			continue;
		pos[col[i]] += fr->y[i];
		cnt[col[i]] += 1;
		fr->y[i] ? np++ : nn++;
	}
	prior = np / (np + nn > 0 ? np + nn : 1);
	for (i = 0; i < fr->n; i++) {
		c = col[i];
		p[i] = sel && sel[i] ? NAN : cat ?
		    (pos[c] + 10 * prior) / (cnt[c] + 10) : (double)c;
	}
	a = auc_of(p, fr->y, fr->n, NULL);
	free(p);
	return cat || isnan(a) ? a : a > 0.5 ? a : 1 - a;
}

static void
warn(json_t *w, const char *column, const char *what, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_array_append_new(w, json_pack("{s:s, s:s, s:s}", "column", column,
	    "what", what, "message", msg));
}

static void
drop_feature(struct ch_frame *fr, int f)
{
	free(fr->codes[f]);
	memmove(&fr->codes[f], &fr->codes[f + 1],
	    (size_t)(fr->nfeat - f - 1) * sizeof *fr->codes);
	ch_schema_drop_feature(fr->schema, f);
	fr->nfeat--;
}

static void
hygiene(struct ch_frame *fr, const char *name, const uint8_t *hold,
    char **keep, json_t *w)
{
	struct ch_schema *s = fr->schema;
	const char *src = strcmp(name, "-") == 0 ? "<stdin>" : name;
	int f;

	for (f = 0; f < fr->nfeat && fr->nfeat > 1; f++) {
		const char *col = s->f[f].name, *why;

		if (ch_strv_has(keep, col))
			continue;
		if (id_name(col))
			why = "its name";
		else if (unique_per_row(&s->f[f], fr->n))
			why = "a text value unique to each row";
		else
			continue;
		if (!s->id) {
			s->id = ch_strdup(col);
			warn(w, col, "id", "%s: column '%s' looks like an id (%s): "
			    "taken as the id column, not a feature (--keep %s to "
			    "train on it, --id to name another)", src, col, why, col);
		} else {
			warn(w, col, "id", "%s: column '%s' looks like an id (%s): "
			    "not a feature (--keep %s to train on it)", src, col,
			    why, col);
		}
		drop_feature(fr, f--);
	}
	for (f = 0; f < fr->nfeat && fr->nfeat > 1; f++) {
		const char *col = s->f[f].name;
		double a;

		if (ch_strv_has(keep, col))
			continue;
		a = single_auc(fr, f, hold);
		if (!(a >= LEAK_AUC))
			continue;
		warn(w, col, "leak", "%s: column '%s' alone separates the target "
		    "(ROC-AUC %.4f): left out as a likely leak (--keep %s to "
		    "train on it)", src, col, a, col);
		drop_feature(fr, f--);
	}
}

/* Histogram slots of boosting: codes and missing of every feature. */
static size_t
gbdt_slots(const int *nbins, int nfeat)
{
	size_t k = 0;
	int f;

	for (f = 0; f < nfeat; f++)
		k += (size_t)nbins[f] + 1;
	return k;
}

/* Boosting rounds for n rows when rounds were best on fit rows. */
static int
rounds_for(int rounds, size_t n, size_t fit)
{
	double r = fit ? rounds * ((double)n / (double)fit) : rounds;

	return r < 1 ? 1 : r > 100000 ? 100000 : (int)(r + 0.5);
}

/* The shipped boosted trees, grown on their own thread. */
struct final {
	struct ch_train_data d;
	struct ch_gbdt_params p;
	atomic_int until;
	struct ch_forest *f;
	struct ch_gbdt_stats st;
	struct ch_err e;
	int rc;
};

static void *
fit_final(void *arg)
{
	struct final *w = arg;

	w->rc = ch_gbdt_train(&w->d, &w->p, NULL, &w->f, &w->st, &w->e);
	return NULL;
}

/* Stratified internal validation split of the training rows (the
 * holdout is apart): 20 % of each class, seeded. */
static void
inner_split(const uint8_t *y, size_t n, uint64_t seed, uint8_t *valid)
{
	split(y, n, 0.2, seed ^ 0x1a7e5ull, valid);
}

/* The calibration of probabilities p (honest: out-of-bag or validation)
 * with labels y: the method asked for, or under auto the one of lowest
 * cross-fitted log-loss (none included).  Fitted on all of p. */
static json_t *
choose_calib_rows(const double *p, const uint8_t *y, size_t n, int want,
    uint64_t seed, struct ch_calib *c)
{
	double ll[3], *q, brier0, brier1;
	int m, best = want < 0 ? CH_CALIB_NONE : want;
	size_t i;
	json_t *o, *cv = json_object();

	for (m = 0; m < 3; m++) {
		ll[m] = NAN;
		if (want >= 0 && m != want && m != CH_CALIB_NONE)
			continue;
		ll[m] = m == CH_CALIB_NONE ? ch_logloss(p, y, n) :
		    ch_calib_cv_logloss((enum ch_calib_method)m, p, y, n, 5, seed);
		json_object_set_new(cv, ch_calib_name((enum ch_calib_method)m),
		    isnan(ll[m]) ? json_null() : json_real(ll[m]));
		if (want < 0 && ll[m] < ll[best])
			best = m;
	}
	ch_calib_fit(c, (enum ch_calib_method)best, p, y, n);
	q = ch_malloc((n ? n : 1) * sizeof *q);
	for (i = 0; i < n; i++)
		q[i] = ch_calib_apply(c, p[i]);
	brier0 = ch_brier(p, y, n);
	brier1 = ch_brier(q, y, n);
	free(q);
	o = json_pack("{s:s, s:s, s:s, s:o, s:{s:f, s:f}, s:{s:f, s:f}}",
	    "method", ch_calib_name((enum ch_calib_method)best),
	    "asked", want < 0 ? "auto" : ch_calib_name((enum ch_calib_method)want),
	    "by", "5-fold cross-fitted log-loss on out-of-bag or validation rows",
	    "log_loss_cv", cv,
	    "before", "log_loss", ll[CH_CALIB_NONE], "brier", brier0,
	    "after", "log_loss", isnan(ll[best]) ? ll[CH_CALIB_NONE] : ll[best],
	    "brier", brier1);
	return o;
}

/* Calibration looks at CALIB_MAX rows at most: every k-th row beyond,
 * which keeps a big data set's training from paying seconds for it. */
#define CALIB_MAX 100000
static json_t *
choose_calib(const double *p, const uint8_t *y, size_t n, int want,
    uint64_t seed, struct ch_calib *c)
{
	size_t k = (n + CALIB_MAX - 1) / CALIB_MAX, i, m = 0;
	double *sp;
	uint8_t *sy;
	json_t *o;

	if (k <= 1)
		return choose_calib_rows(p, y, n, want, seed, c);
	sp = ch_malloc((n / k + 1) * sizeof *sp);
	sy = ch_malloc(n / k + 1);
	for (i = 0; i < n; i += k)
		sp[m] = p[i], sy[m++] = y[i];
	o = choose_calib_rows(sp, sy, m, want, seed, c);
	json_object_set_new(o, "rows", json_integer((json_int_t)m));
	free(sp);
	free(sy);
	return o;
}

static json_t *
params_json(const struct ch_train_opts *o, const struct ch_forest_params *p,
    const struct ch_gbdt_params *g, int iterations)
{
	char buf[32];

	if (g)
		return json_pack("{s:s, s:i, s:f, s:i, s:o, s:i, s:f, s:i, s:I, s:f, s:f}",
		    "learner", "gbdt",
		    "iterations", iterations,
		    "learning_rate", g->learning_rate,
		    "max_leaves", g->max_leaves,
		    "max_depth", g->max_depth ? json_integer(g->max_depth) : json_null(),
		    "min_leaf", g->min_leaf,
		    "l2", g->l2,
		    "patience", g->patience,
		    "seed", (json_int_t)p->seed,
		    "holdout", o->valid ? 0.0 : o->holdout,
		    "threshold", o->threshold);
	return json_pack("{s:s, s:i, s:o, s:i, s:s, s:s, s:I, s:f, s:f}",
	    "learner", "forest",
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
	struct ch_gbdt_stats gst = { 0 };
	struct final fin = { 0 };
	pthread_t fin_tid;
	int fin_started = 0, final_rounds = 0, refit_all;
	uint8_t **fcodes = NULL, *fy = NULL;
	struct ch_forest *forest = NULL, *boosted = NULL;
	double forest_auc = NAN, gbdt_auc = NAN, *honest;
	uint8_t *valid = NULL;
	size_t nvalid = 0;
	const char *skip_gbdt = NULL;
	int skip_forest = 0;
	int use_gbdt;
	json_t *tuned = NULL, *chosen = NULL;
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
	r->warnings = json_array();
	json_array_extend(r->warnings, fr->warnings);
	if (!o->valid && o->holdout > 0) {
		hold = ch_malloc(fr->n);
		split(fr->y, fr->n, o->holdout, o->forest.seed, hold);
	}
	hygiene(fr, name, hold, o->keep, r->warnings);
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
	if (hold) {
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
	valid = ch_calloc(ntrain, 1);
	inner_split(y, ntrain, o->forest.seed, valid);
	for (i = 0; i < ntrain; i++)
		nvalid += valid[i];
	m = r->model = ch_calloc(1, sizeof *m);
	/* big data sets lose little to the holdout and would pay a second
	 * training for it */
	refit_all = o->refit && hold && neval > 0 && ntrain <= TUNE_MAX;
	t = ch_seconds();
	if (o->learner == CH_CHOOSE_AUTO && (ntrain > TUNE_MAX ||
	    gbdt_slots(nbins, fr->nfeat) > UINT16_MAX))
		skip_gbdt = ntrain > TUNE_MAX ? "more than 100000 training rows" :
		    "too many features";
	if (o->learner != CH_CHOOSE_FOREST && !skip_gbdt) {
		struct ch_gbdt_params gp = o->gbdt;
		size_t nfit = ntrain - nvalid;

		gp.seed = o->forest.seed;
		/* The shipped trees: on every row when the model is refitted
		 * after the holdout (which then measures the early-stopped
		 * trees, a little pessimistic), else on all the training rows;
		 * rounds in proportion to the rows of the early-stopped run, as
		 * more rows bear more rounds before they overfit.  They grow on
		 * a second thread while the early-stopped run finds the count. */
		fin.d = d;
		if (refit_all) {
			fcodes = ch_calloc((size_t)fr->nfeat, sizeof *fcodes);
			fy = ch_malloc(fr->n);
			subset(fr, NULL, 0, fcodes, fy, &fin.d.n);
			fin.d.codes = fcodes;
			fin.d.y = fy;
			r->refit_rows = fin.d.n;
		}
		fin.p = gp;
		fin.p.max_iter = rounds_for(gp.max_iter, fin.d.n, nfit);
		fin.p.until = &fin.until;
		atomic_init(&fin.until, 0);
		fin_started = o->forest.jobs > 1 &&
		    pthread_create(&fin_tid, NULL, fit_final, &fin) == 0;
		if (ch_gbdt_train(&d, &gp, valid, &boosted, &gst, e) != 0) {
			atomic_store(&fin.until, 1);
			goto out;
		}
		gbdt_auc = auc_of(gst.valid_prob, y, ntrain, valid);
		final_rounds = rounds_for(gst.iterations, fin.d.n, nfit);
		atomic_store(&fin.until, final_rounds);
		if (!fin_started)
			fit_final(&fin);
		else
			pthread_join(fin_tid, NULL);
		fin_started = 0;
		if (fin.rc != 0) {
			*e = fin.e;
			goto out;
		}
		if (!r->refit_rows) {
			/* the shipped trees are the measured ones */
			ch_forest_free(boosted);
			boosted = fin.f;
			fin.f = NULL;
		}
	}
	/* Under auto, a quick forest first: when it is far below the boosted
	 * trees on the validation rows, tuning and growing the forest cannot
	 * close the gap (its grid moves the AUC by less) and is skipped. */
	if (o->learner == CH_CHOOSE_AUTO && boosted && o->forest.min_leaf <= 0 &&
	    !o->mf_set) {
		struct ch_forest_params t = fp_;
		struct ch_forest *pf = NULL;
		struct ch_forest_stats ps = { 0 };
		double probe = NAN;

		t.trees = TUNE_TREES;
		t.min_leaf = leaf_grid[2];
		if (ch_forest_train(&d, &t, &pf, &ps, NULL, NULL, e) == 0)
			probe = auc_of(ps.oob_prob, y, ntrain, valid);
		ch_forest_free(pf);
		ch_forest_stats_free(&ps);
		if (probe < gbdt_auc - PROBE_MARGIN) {
			skip_forest = 1;
			tuned = json_pack("{s:s, s:f, s:i, s:i, s:f}",
			    "skipped", "a quick forest is far below the boosted trees",
			    "probe_roc_auc", probe, "probe_trees", TUNE_TREES,
			    "probe_min_leaf", leaf_grid[2], "margin", PROBE_MARGIN);
		}
	}
	if (o->learner != CH_CHOOSE_GBDT && !skip_forest) {
		tune_forest(&d, o, &fp_, &tuned, e);
		if (ch_forest_train(&d, &fp_, &forest, &st, o->progress, NULL, e) != 0)
			goto out;
		forest_auc = auc_of(st.oob_prob, y, ntrain, valid);
	}
	use_gbdt = o->learner == CH_CHOOSE_GBDT || skip_forest ||
	    (o->learner == CH_CHOOSE_AUTO && boosted && gbdt_auc > forest_auc);
	{
		size_t nv = 0;

		for (i = 0; i < ntrain; i++)
			nv += valid[i];
		chosen = json_object();
		json_object_set_new(chosen, "learner", json_pack(
		    "{s:s, s:s, s:s, s:o, s:o}",
		    "value", use_gbdt ? "gbdt" : "forest",
		    "asked", o->learner == CH_CHOOSE_AUTO ? "auto" :
		    o->learner == CH_CHOOSE_GBDT ? "gbdt" : "forest",
		    "by", "ROC-AUC on the internal validation rows (forest: out-of-bag)",
		    "forest", isnan(forest_auc) ? json_null() : json_real(forest_auc),
		    "gbdt", isnan(gbdt_auc) ? json_null() : json_real(gbdt_auc)));
		json_object_set_new(chosen, "validation_rows", json_integer((json_int_t)nv));
		if (skip_gbdt)
			json_object_set_new(json_object_get(chosen, "learner"),
			    "gbdt_skipped", json_string(skip_gbdt));
		if (tuned)
			json_object_set_new(chosen, "forest", tuned);
		tuned = NULL;
		if (boosted)
			json_object_set_new(chosen, "gbdt", json_pack("{s:i, s:i, s:s, s:f}",
			    "iterations", gst.iterations,
			    "iterations_shipped", final_rounds,
			    "by", "early stopping on the validation log-loss",
			    "validation_log_loss", gst.valid_logloss));
	}
	m->forest = use_gbdt ? boosted : forest;
	if (use_gbdt)
		boosted = NULL;
	else
		forest = NULL;
	r->t_train = ch_seconds() - t;
	honest = use_gbdt ? gst.valid_prob : st.oob_prob;
	json_object_set_new(chosen, "calibration", choose_calib(honest, y, ntrain,
	    o->calibrate, o->forest.seed, &m->calib));
	m->scorer = ch_scorer_new(m->forest);

	t = ch_seconds();
	if (neval > 0) {
		struct ch_calib keep = m->calib;
		struct ch_metrics raw;
		json_t *cj = json_object_get(chosen, "calibration");

		p = ch_malloc(neval * sizeof *p);
		m->calib.method = CH_CALIB_NONE;
		predict_all(m, ecodes, fr->nfeat, neval, p, o->forest.jobs);
		m->calib = keep;
		ch_metrics_compute(p, ey, neval, o->threshold, &raw);
		json_object_set_new(cj, "holdout_before", json_pack("{s:f, s:f}",
		    "log_loss", raw.log_loss, "brier", ch_brier(p, ey, neval)));
		predict_all(m, ecodes, fr->nfeat, neval, p, o->forest.jobs);
		ch_metrics_compute(p, ey, neval, o->threshold, &r->metrics);
		json_object_set_new(cj, "holdout_after", json_pack("{s:f, s:f}",
		    "log_loss", r->metrics.log_loss, "brier", ch_brier(p, ey, neval)));
		r->has_metrics = 1;
		prob_profile(p, neval, &m->pred_ref);
	} else {
		double *q = ch_malloc((ntrain ? ntrain : 1) * sizeof *q);

		for (i = 0; i < ntrain; i++)
			q[i] = ch_calib_apply(&m->calib, honest[i]);
		prob_profile(q, ntrain, &m->pred_ref);
		free(q);
	}
	r->t_eval = ch_seconds() - t;

	/* The choices made and the model measured, the model shipped is fitted
	 * again with the same choices on every row, the holdout's too: the
	 * holdout measured the procedure, and a quarter more rows is worth more
	 * than keeping the very model it measured (up to TUNE_MAX training
	 * rows; see refit_all). */
	if (refit_all) {
		struct ch_forest *nf = NULL;
		struct ch_train_data da;
		size_t nall;

		t = ch_seconds();
		free(y);
		for (f = 0; f < fr->nfeat; f++)
			free(codes[f]);
		y = ch_malloc(fr->n);
		subset(fr, NULL, 0, codes, y, &nall);
		da = (struct ch_train_data){ nall, fr->nfeat, codes, y, nbins, cat };
		if (use_gbdt) {
			nf = fin.f;     /* grown beside the early-stopped run */
			fin.f = NULL;
			ret = 0;
		} else {
			ret = ch_forest_train(&da, &fp_, &nf, NULL, NULL, NULL, e);
		}
		if (ret != 0) {
			ret = -1;
			goto out;
		}
		ret = -1;
		ch_scorer_free(m->scorer);
		ch_forest_free(m->forest);
		m->forest = nf;
		m->scorer = ch_scorer_new(nf);
		r->refit_rows = nall;
		r->t_train += ch_seconds() - t;
	}

	m->schema = fr->schema;
	fr->schema = NULL;
	m->created = o->now;
	ch_version_string(o->now, m->version);
	m->threshold = o->threshold;
	meta = m->meta = json_object();
	json_object_set_new(meta, "params", params_json(o, &fp_, use_gbdt ?
	    &o->gbdt : NULL, use_gbdt ? m->forest->ntrees : 0));
	json_object_set_new(meta, "metrics", r->has_metrics ?
	    ch_metrics_to_json(&r->metrics) : json_null());
	json_object_set_new(meta, "evaluation", r->eval_source ?
	    json_string(r->eval_source) : json_null());
	json_object_set_new(meta, "chosen", chosen);
	chosen = NULL;
	json_object_set(meta, "warnings", r->warnings);
	/* out-of-bag: accuracy (scikit-learn's oob_score_) and ROC-AUC */
	if (!use_gbdt) {
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
	} else {
		json_object_set_new(meta, "oob", json_null());
	}
	imp = json_array();
	for (f = 0; f < fr->nfeat; f++)
		json_array_append_new(imp, json_real(use_gbdt ?
		    (fin.st.importance ? fin.st.importance : gst.importance)[f] :
		    st.importance[f]));
	json_object_set_new(meta, "importances", imp);
	json_object_set_new(meta, "data", json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}",
	    "source", strcmp(name, "-") == 0 ? "<stdin>" : name,
	    "sha256", fr->sha256, "rows", (json_int_t)fr->n,
	    "train_rows", (json_int_t)ntrain, "eval_rows", (json_int_t)neval,
	    "final_rows", (json_int_t)(r->refit_rows ? r->refit_rows : ntrain)));

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
	free(valid);
	ch_forest_free(forest);
	ch_forest_free(boosted);
	ch_gbdt_stats_free(&gst);
	if (fin_started) {
		atomic_store(&fin.until, 1);
		pthread_join(fin_tid, NULL);
	}
	ch_forest_free(fin.f);
	ch_gbdt_stats_free(&fin.st);
	for (f = 0; fcodes && f < fr->nfeat; f++)
		free(fcodes[f]);
	free(fcodes);
	free(fy);
	json_decref(chosen);
	json_decref(tuned);
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
	json_object_set_new(o, "learner", json_string(
	    m->forest->learner == CH_LEARN_GBDT ? "gbdt" : "forest"));
	json_object_set(o, "params", json_object_get(m->meta, "params"));
	json_object_set(o, "chosen", json_object_get(m->meta, "chosen"));
	json_object_set(o, "warnings", r->warnings);
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
	json_decref(r->warnings);
	r->warnings = NULL;
}
