/* tune.c - the choices training makes from the data: columns left out
 * (hygiene), the forest's leaf size and features per split (the
 * out-of-bag grid), and the calibration; called by train.c only */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "train_impl.h"

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

int
auto_min_leaf(size_t n)
{
	if (n / 100 < DEFAULT_MIN_LEAF)
		return n / 100 < 1 ? 1 : (int)(n / 100);
	if (n / 5000 > DEFAULT_MIN_LEAF)
		return (int)(n / 5000);
	return DEFAULT_MIN_LEAF;
}

/* ROC-AUC of p over the rows with sel[i] (sel NULL: all) and p[i] not
 * NAN; NAN when a class is absent. */
double
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

void
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
		/* each tree on a bootstrap of BIG_SAMPLE rows: the trees are
		 * as big as on all of them (the leaf is a five-thousandth of
		 * the sample), four times faster to grow on a million rows,
		 * and the forest's AUC the same to the third decimal */
		if (!fp->max_samples && d->n > BIG_SAMPLE)
			fp->max_samples = BIG_SAMPLE;
		if (!set_leaf)
			fp->min_leaf = auto_min_leaf(fp->max_samples ?
			    fp->max_samples : d->n);
		/* out-of-bag estimates on the rows calibration looks at
		 * (every k-th, choose_calib), not on every row: the same
		 * calibration, and the trees' walk of a tenth of the rows
		 * they leave out */
		if (!fp->oob_every)
			fp->oob_every = (d->n + CALIB_MAX - 1) / CALIB_MAX;
		json_decref(grid);
		json_decref(mfg);
		*why = json_pack("{s:i, s:s, s:I, s:I}", "min_leaf", fp->min_leaf, "by",
		    "rule for large data (a five-thousandth of the rows a tree "
		    "draws)", "max_samples", (json_int_t)(fp->max_samples ?
		    fp->max_samples : d->n), "oob_every", (json_int_t)fp->oob_every);
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

/* ROC-AUC of scores key[c] given to the rows of each code c, from the
 * class counts of the codes: the rows of equal scores are ties (half a
 * pair each), as the Mann-Whitney statistic counts them. */
static double
auc_by_code(const double key[256], const double pos[256], const double cnt[256])
{
	int ord[256], k = 0, i, j, c;
	double np = 0, nn = 0, below = 0, sum = 0;

	for (c = 0; c < 256; c++)
		if (cnt[c] > 0) {
			for (i = k++; i > 0 && key[ord[i - 1]] > key[c]; i--)
				ord[i] = ord[i - 1];
			ord[i] = c;
			np += pos[c];
			nn += cnt[c] - pos[c];
		}
	if (!(np > 0 && nn > 0))
		return NAN;
	for (i = 0; i < k; i = j) {
		double p = 0, n = 0;

		for (j = i; j < k && key[ord[j]] == key[ord[i]]; j++) {
			p += pos[ord[j]];
			n += cnt[ord[j]] - pos[ord[j]];
		}
		sum += p * (below + n / 2);
		below += n;
	}
	return sum / (np * nn);
}

/* ROC-AUC of one feature alone on the rows with sel[i] == 0: numeric by
 * its codes (either direction), categorical by its categories' smoothed
 * positive rates; counted per code, as a code is all a row shows. */
static double
single_auc(const struct ch_frame *fr, int f, const uint8_t *sel)
{
	const uint8_t *col = fr->codes[f];
	double pos[256] = { 0 }, cnt[256] = { 0 }, key[256], prior, np = 0, nn = 0, a;
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
	for (c = 0; c < 256; c++)
		key[c] = cat ? (pos[c] + 10 * prior) / (cnt[c] + 10) : (double)c;
	a = auc_by_code(key, pos, cnt);
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

void
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

/* Calibration looks at CALIB_MAX rows at most (train_impl.h): every k-th
 * row beyond, which keeps a big data set's training from paying seconds
 * for it. */
json_t *
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
