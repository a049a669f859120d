/* train.c - the training job: read, split, fit, evaluate, refit, write;
 * the choices it makes from the data (hygiene, tuning, calibration) are
 * in tune.c */
#include <errno.h>
#include <stdarg.h>
#include <strings.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "shard.h"
#include "train_impl.h"

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

/* One training job's state, from the rows read to the model written. */
struct job {
	const struct ch_train_opts *o;
	const char *name;
	struct ch_train_result *r;
	struct ch_frame *fr, *va;       /* the data; --valid's rows */
	uint8_t *hold;                  /* [fr->n] 1: a holdout row */
	uint8_t **codes, *y;            /* the training rows */
	uint8_t **ecodes, *ey;          /* the evaluation rows */
	size_t ntrain, neval;
	int *nbins;
	uint8_t *cat;
	struct ch_train_data d;         /* codes and y as the learners take them */
	uint8_t *valid;                 /* [ntrain] 1: an internal validation row */
	size_t nvalid;
	int refit_all;                  /* refit on every row after the holdout */
	struct ch_forest_params fp;     /* the forest's parameters, tuned */
	struct ch_forest *forest, *boosted;
	struct ch_forest_stats st;
	struct ch_gbdt_stats gst;
	struct final fin;               /* the shipped boosted trees */
	pthread_t fin_tid;
	int fin_started, fin_done;
	uint8_t **fcodes, *fy;          /* every row, for fin under refit_all */
	double forest_auc, gbdt_auc, *honest;
	const char *skip_gbdt;
	int skip_forest, use_gbdt;
	enum ch_learn_choice learner;   /* o->learner, auto resolved */
	json_t *tuned, *chosen;
	struct ch_model *m;
	double *p;                      /* [neval] probabilities */
	double t;                       /* when training began */
};

/* After the frame is loaded: its warnings kept, the holdout drawn, the
 * hygiene applied and --valid's rows read. */
static int
read_rest(struct job *j, const struct ch_frame_opts *fo, struct ch_err *e)
{
	const struct ch_train_opts *o = j->o;
	struct ch_frame *fr = j->fr;
	size_t unseen;
	FILE *vf;
	int ret;

	j->r->warnings = json_array();
	json_array_extend(j->r->warnings, fr->warnings);
	if (!o->valid && o->holdout > 0) {
		j->hold = ch_malloc(fr->n);
		split(fr->y, fr->n, o->holdout, o->forest.seed, j->hold);
	}
	if (!o->bins)    /* a shard's columns are every shard's */
		hygiene(fr, j->name, j->hold, o->keep, j->r->warnings);
	if (o->valid) {
		if (!(vf = fopen(o->valid, "rb")))
			return ch_errf(e, "open %s: %s", o->valid, strerror(errno));
		ret = ch_frame_load_with(vf, o->valid, fr->schema, fo, &j->va,
		    &unseen, e);
		fclose(vf);
		if (ret != 0)
			return ret;
		json_array_extend(j->r->warnings, j->va->warnings);
	}
	return 0;
}

/* The rows parted into training and evaluation rows, the internal
 * validation rows drawn and the model begun; -1 when none are left. */
static int
split_rows(struct job *j, struct ch_err *e)
{
	const struct ch_train_opts *o = j->o;
	struct ch_frame *fr = j->fr, *va = j->va;
	size_t i;
	int f;

	j->codes = ch_calloc((size_t)fr->nfeat, sizeof *j->codes);
	j->ecodes = ch_calloc((size_t)fr->nfeat, sizeof *j->ecodes);
	j->y = ch_malloc(fr->n);
	if (j->hold) {
		j->ey = ch_malloc(fr->n);
		subset(fr, j->hold, 1, j->ecodes, j->ey, &j->neval);
		j->r->eval_source = "holdout";
	} else if (va) {
		for (f = 0; f < fr->nfeat; f++)
			j->ecodes[f] = va->codes[f], va->codes[f] = NULL;
		j->ey = va->y, va->y = NULL;
		j->neval = va->n;
		j->r->eval_source = "valid";
	}
	subset(fr, j->hold, 0, j->codes, j->y, &j->ntrain);
	if (j->ntrain == 0)
		return ch_errf(e, "%s: no rows left to train on", j->name);
	j->nbins = ch_calloc((size_t)fr->nfeat, sizeof *j->nbins);
	j->cat = ch_calloc((size_t)fr->nfeat, 1);
	for (f = 0; f < fr->nfeat; f++) {
		j->nbins[f] = fr->schema->f[f].nbins;
		j->cat[f] = fr->schema->f[f].type == CH_CATEGORICAL;
	}
	j->d = (struct ch_train_data){ j->ntrain, fr->nfeat, j->codes, j->y,
	    j->nbins, j->cat };
	j->fp = o->forest;
	j->valid = ch_calloc(j->ntrain, 1);
	inner_split(j->y, j->ntrain, o->forest.seed, j->valid);
	for (i = 0; i < j->ntrain; i++)
		j->nvalid += j->valid[i];
	j->m = j->r->model = ch_calloc(1, sizeof *j->m);
	/* big data sets lose little to the holdout and would pay a second
	 * training for it */
	j->refit_all = o->refit && j->hold && j->neval > 0 && j->ntrain <= TUNE_MAX;
	return 0;
}

/* The shipped boosted trees grown (on this thread without another) or
 * waited for; when they are not refitted on every row they are the
 * measured ones. */
static int
final_done(struct job *j, struct ch_err *e)
{
	struct final *fin = &j->fin;

	if (j->fin_done)
		return 0;
	if (!j->fin_started)
		fit_final(fin);
	else
		pthread_join(j->fin_tid, NULL);
	j->fin_started = 0;
	j->fin_done = 1;
	if (fin->rc != 0) {
		*e = fin->e;
		return -1;
	}
	if (!j->r->refit_rows) {
		ch_forest_free(j->boosted);
		j->boosted = fin->f;
		fin->f = NULL;
	}
	return 0;
}

/* The boosted trees, unless skipped: early-stopped on the validation
 * rows (measured), and the shipped ones grown beside them. */
static int
fit_gbdt(struct job *j, struct ch_err *e)
{
	const struct ch_train_opts *o = j->o;
	struct ch_frame *fr = j->fr;
	struct final *fin = &j->fin;
	struct ch_gbdt_params gp = o->gbdt;

	j->learner = o->learner;
	if ((o->learner == CH_CHOOSE_AUTO || o->learner == CH_CHOOSE_BEST) &&
	    (j->ntrain > TUNE_MAX ||
	    gbdt_slots(j->nbins, fr->nfeat) > UINT16_MAX))
		j->skip_gbdt = j->ntrain > TUNE_MAX ? "more than 100000 training rows" :
		    "too many features";
	if (o->learner == CH_CHOOSE_AUTO)
		j->learner = j->skip_gbdt ? CH_CHOOSE_FOREST : CH_CHOOSE_GBDT;
	if (j->learner == CH_CHOOSE_FOREST || j->skip_gbdt)
		return 0;
	gp.seed = o->forest.seed;
	/* The shipped trees: on every row when the model is refitted
	 * after the holdout (which then measures the early-stopped
	 * trees, a little pessimistic), else on all the training rows;
	 * as many rounds as the early-stopped run kept.  (Rounds in
	 * proportion to the rows cost the credit card set 57 % more
	 * rounds and moved the three data sets' AUC by -0.002 to +0.004,
	 * noise of a 20 % test.)  They grow on a second thread while the
	 * early-stopped run finds the count. */
	fin->d = j->d;
	if (j->refit_all) {
		j->fcodes = ch_calloc((size_t)fr->nfeat, sizeof *j->fcodes);
		j->fy = ch_malloc(fr->n);
		subset(fr, NULL, 0, j->fcodes, j->fy, &fin->d.n);
		fin->d.codes = j->fcodes;
		fin->d.y = j->fy;
		j->r->refit_rows = fin->d.n;
	}
	fin->p = gp;
	fin->p.until = &fin->until;
	atomic_init(&fin->until, 0);
	j->fin_started = o->forest.jobs > 1 &&
	    pthread_create(&j->fin_tid, NULL, fit_final, fin) == 0;
	if (ch_gbdt_train(&j->d, &gp, j->valid, &j->boosted, &j->gst, e) != 0) {
		atomic_store(&fin->until, 1);
		return -1;
	}
	j->gbdt_auc = auc_of(j->gst.valid_prob, j->y, j->ntrain, j->valid);
	atomic_store(&fin->until, j->gst.iterations);
	/* shipped after a refit on every row, the trees growing on their
	 * thread are wanted by refit() only: the choices and the holdout's
	 * measure of the early-stopped trees are made beside them */
	if (j->fin_started && j->r->refit_rows)
		return 0;
	return final_done(j, e);
}

/* Under auto, a quick forest first: when it is far below the boosted
 * trees on the validation rows, tuning and growing the forest cannot
 * close the gap (its grid moves the AUC by less) and is skipped. */
static void
probe_forest(struct job *j, struct ch_err *e)
{
	const struct ch_train_opts *o = j->o;
	struct ch_forest_params t = j->fp;
	struct ch_forest *pf = NULL;
	struct ch_forest_stats ps = { 0 };
	double probe = NAN;

	if (!(o->learner == CH_CHOOSE_BEST && j->boosted &&
	    o->forest.min_leaf <= 0 && !o->mf_set))
		return;
	t.trees = TUNE_TREES;
	t.min_leaf = leaf_grid[2];
	if (ch_forest_train(&j->d, &t, &pf, &ps, NULL, NULL, e) == 0)
		probe = auc_of(ps.oob_prob, j->y, j->ntrain, j->valid);
	ch_forest_free(pf);
	ch_forest_stats_free(&ps);
	if (probe < j->gbdt_auc - PROBE_MARGIN) {
		j->skip_forest = 1;
		j->tuned = json_pack("{s:s, s:f, s:i, s:i, s:f}",
		    "skipped", "a quick forest is far below the boosted trees",
		    "probe_roc_auc", probe, "probe_trees", TUNE_TREES,
		    "probe_min_leaf", leaf_grid[2], "margin", PROBE_MARGIN);
	}
}

/* The forest, unless not asked for or skipped: tuned, then grown. */
static int
fit_forest(struct job *j, struct ch_err *e)
{
	const struct ch_train_opts *o = j->o;

	if (j->learner == CH_CHOOSE_GBDT || j->skip_forest)
		return 0;
	tune_forest(&j->d, o, &j->fp, &j->tuned, e);
	if (ch_forest_train(&j->d, &j->fp, &j->forest, &j->st, o->progress,
	    NULL, e) != 0)
		return -1;
	j->forest_auc = auc_of(j->st.oob_prob, j->y, j->ntrain, j->valid);
	return 0;
}

/* The learner chosen (and why, in j->chosen), the model given its trees
 * and the calibration fitted on the honest probabilities. */
static void
choose(struct job *j)
{
	const struct ch_train_opts *o = j->o;
	struct ch_model *m = j->m;
	size_t nv = 0, i;

	j->use_gbdt = j->learner == CH_CHOOSE_GBDT || j->skip_forest ||
	    (j->learner == CH_CHOOSE_BEST && j->boosted &&
	    j->gbdt_auc > j->forest_auc);
	for (i = 0; i < j->ntrain; i++)
		nv += j->valid[i];
	j->chosen = json_object();
	json_object_set_new(j->chosen, "learner", json_pack(
	    "{s:s, s:s, s:s, s:o, s:o}",
	    "value", j->use_gbdt ? "gbdt" : "forest",
	    "asked", o->learner == CH_CHOOSE_AUTO ? "auto" :
	    o->learner == CH_CHOOSE_BEST ? "best" :
	    o->learner == CH_CHOOSE_GBDT ? "gbdt" : "forest",
	    "by", o->learner == CH_CHOOSE_BEST ?
	    "ROC-AUC on the internal validation rows (forest: out-of-bag)" :
	    o->learner == CH_CHOOSE_AUTO ? "the boosted trees on up to 100000 "
	    "training rows, the forest beyond" : "asked",
	    "forest", isnan(j->forest_auc) ? json_null() : json_real(j->forest_auc),
	    "gbdt", isnan(j->gbdt_auc) ? json_null() : json_real(j->gbdt_auc)));
	json_object_set_new(j->chosen, "validation_rows", json_integer((json_int_t)nv));
	if (j->skip_gbdt)
		json_object_set_new(json_object_get(j->chosen, "learner"),
		    "gbdt_skipped", json_string(j->skip_gbdt));
	if (j->tuned)
		json_object_set_new(j->chosen, "forest", j->tuned);
	j->tuned = NULL;
	if (j->boosted)
		json_object_set_new(j->chosen, "gbdt", json_pack("{s:i, s:i, s:s, s:f}",
		    "iterations", j->gst.iterations,
		    "iterations_shipped", j->gst.iterations,
		    "by", "early stopping on the validation log-loss",
		    "validation_log_loss", j->gst.valid_logloss));
	m->forest = j->use_gbdt ? j->boosted : j->forest;
	if (j->use_gbdt)
		j->boosted = NULL;
	else
		j->forest = NULL;
	j->r->t_train = ch_seconds() - j->t;
	j->honest = j->use_gbdt ? j->gst.valid_prob : j->st.oob_prob;
	json_object_set_new(j->chosen, "calibration", choose_calib(j->honest,
	    j->y, j->ntrain, o->calibrate, o->forest.seed, &m->calib));
	m->scorer = ch_scorer_new(m->forest);
}

/* The model measured on the evaluation rows (before and after its
 * calibration) and its prediction reference taken; without evaluation
 * rows, the reference of the calibrated honest probabilities. */
static void
evaluate(struct job *j)
{
	const struct ch_train_opts *o = j->o;
	struct ch_model *m = j->m;
	struct ch_train_result *r = j->r;
	size_t neval = j->neval, i;
	double t = ch_seconds(), *p;

	if (neval > 0) {
		struct ch_calib keep = m->calib;
		struct ch_metrics raw;
		json_t *cj = json_object_get(j->chosen, "calibration");

		p = j->p = ch_malloc(neval * sizeof *p);
		m->calib.method = CH_CALIB_NONE;
		predict_all(m, j->ecodes, j->fr->nfeat, neval, p, o->forest.jobs);
		m->calib = keep;
		ch_metrics_compute(p, j->ey, neval, o->threshold, &raw);
		json_object_set_new(cj, "holdout_before", json_pack("{s:f, s:f}",
		    "log_loss", raw.log_loss, "brier", ch_brier(p, j->ey, neval)));
		/* calibrated: what the scorer gives, without a second walk */
		if (m->calib.method != CH_CALIB_NONE)
			for (i = 0; i < neval; i++)
				p[i] = ch_calib_apply(&m->calib, p[i]);
		ch_metrics_compute(p, j->ey, neval, o->threshold, &r->metrics);
		json_object_set_new(cj, "holdout_after", json_pack("{s:f, s:f}",
		    "log_loss", r->metrics.log_loss, "brier", ch_brier(p, j->ey, neval)));
		r->has_metrics = 1;
		prob_profile(p, neval, &m->pred_ref);
	} else {
		double *q = ch_malloc((j->ntrain ? j->ntrain : 1) * sizeof *q);

		for (i = 0; i < j->ntrain; i++)
			q[i] = ch_calib_apply(&m->calib, j->honest[i]);
		prob_profile(q, j->ntrain, &m->pred_ref);
		free(q);
	}
	r->t_eval = ch_seconds() - t;
}

/* The choices made and the model measured, the model shipped is fitted
 * again with the same choices on every row, the holdout's too: the
 * holdout measured the procedure, and a quarter more rows is worth more
 * than keeping the very model it measured (up to TUNE_MAX training
 * rows; see refit_all). */
static int
refit(struct job *j, struct ch_err *e)
{
	struct ch_frame *fr = j->fr;
	struct ch_model *m = j->m;
	struct ch_forest *nf = NULL;
	struct ch_train_data da;
	size_t nall;
	double t;
	int f;

	if (!j->refit_all)
		return 0;
	t = ch_seconds();
	free(j->y);
	for (f = 0; f < fr->nfeat; f++)
		free(j->codes[f]);
	j->y = ch_malloc(fr->n);
	subset(fr, NULL, 0, j->codes, j->y, &nall);
	da = (struct ch_train_data){ nall, fr->nfeat, j->codes, j->y, j->nbins,
	    j->cat };
	if (j->use_gbdt) {
		if (final_done(j, e) != 0)
			return -1;
		nf = j->fin.f;  /* grown beside the early-stopped run */
		j->fin.f = NULL;
	} else if (ch_forest_train(&da, &j->fp, &nf, NULL, NULL, NULL, e) != 0) {
		return -1;
	}
	ch_scorer_free(m->scorer);
	ch_forest_free(m->forest);
	m->forest = nf;
	m->scorer = ch_scorer_new(nf);
	j->r->refit_rows = nall;
	j->r->t_train += ch_seconds() - t;
	return 0;
}

/* Out-of-bag: accuracy (scikit-learn's oob_score_) and ROC-AUC of the
 * forest; null for boosted trees or without out-of-bag rows. */
static json_t *
oob_json(const struct job *j)
{
	const double *ob = j->st.oob_prob;
	double *op;
	uint8_t *oy;
	size_t k = 0, i, oob_right = 0;
	struct ch_metrics oob;
	json_t *o;

	if (j->use_gbdt)
		return json_null();
	op = ch_malloc((j->ntrain ? j->ntrain : 1) * sizeof *op);
	oy = ch_malloc(j->ntrain ? j->ntrain : 1);
	for (i = 0; i < j->ntrain; i++) {
		if (isnan(ob[i]))
			continue;
		op[k] = ob[i];
		oy[k++] = j->y[i];
		oob_right += (ob[i] >= 0.5) == (j->y[i] == 1);
	}
	if (k > 0 && ch_metrics_compute(op, oy, k, 0.5, &oob) == 0)
		o = json_pack("{s:f, s:o, s:I}",
		    "score", (double)oob_right / (double)k,
		    "roc_auc", isnan(oob.roc_auc) ? json_null() : json_real(oob.roc_auc),
		    "rows", (json_int_t)k);
	else
		o = json_null();
	free(op);
	free(oy);
	return o;
}

/* The model's schema, version, threshold and metadata (parameters,
 * metrics, choices, warnings, out-of-bag, importances, data). */
static void
describe(struct job *j)
{
	const struct ch_train_opts *o = j->o;
	struct ch_train_result *r = j->r;
	struct ch_frame *fr = j->fr;
	struct ch_model *m = j->m;
	json_t *meta, *imp;
	int f;

	m->schema = fr->schema;
	fr->schema = NULL;
	m->created = o->now;
	ch_version_string(o->now, m->version);
	m->threshold = o->threshold;
	meta = m->meta = json_object();
	json_object_set_new(meta, "params", params_json(o, &j->fp, j->use_gbdt ?
	    &o->gbdt : NULL, j->use_gbdt ? m->forest->ntrees : 0));
	json_object_set_new(meta, "metrics", r->has_metrics ?
	    ch_metrics_to_json(&r->metrics) : json_null());
	json_object_set_new(meta, "evaluation", r->eval_source ?
	    json_string(r->eval_source) : json_null());
	json_object_set_new(meta, "chosen", j->chosen);
	j->chosen = NULL;
	json_object_set(meta, "warnings", r->warnings);
	json_object_set_new(meta, "oob", oob_json(j));
	imp = json_array();
	for (f = 0; f < fr->nfeat; f++)
		json_array_append_new(imp, json_real(j->use_gbdt ?
		    (j->fin.st.importance ? j->fin.st.importance :
		    j->gst.importance)[f] : j->st.importance[f]));
	json_object_set_new(meta, "importances", imp);
	if (o->bins_info)
		json_object_set(meta, "binning", o->bins_info);
	json_object_set_new(meta, "data", json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}",
	    "source", strcmp(j->name, "-") == 0 ? "<stdin>" : j->name,
	    "sha256", fr->sha256, "rows", (json_int_t)fr->n,
	    "train_rows", (json_int_t)j->ntrain, "eval_rows", (json_int_t)j->neval,
	    "final_rows", (json_int_t)(r->refit_rows ? r->refit_rows : j->ntrain)));
}

/* Everything the job holds but the model freed (the thread joined). */
static void
job_free(struct job *j)
{
	struct ch_frame *fr = j->fr;
	int f;

	/* first the thread, which reads the bin counts and its rows: its
	 * trees are not wanted (an error, or the forest chosen), so it stops
	 * at its next round */
	if (j->fin_started) {
		atomic_store(&j->fin.until, 1);
		pthread_join(j->fin_tid, NULL);
	}
	for (f = 0; fr && f < fr->nfeat; f++) {
		if (j->codes)
			free(j->codes[f]);
		if (j->ecodes)
			free(j->ecodes[f]);
	}
	free(j->codes);
	free(j->ecodes);
	free(j->y);
	free(j->ey);
	free(j->hold);
	free(j->p);
	free(j->nbins);
	free(j->cat);
	free(j->valid);
	ch_forest_free(j->forest);
	ch_forest_free(j->boosted);
	ch_gbdt_stats_free(&j->gst);
	ch_forest_free(j->fin.f);
	ch_gbdt_stats_free(&j->fin.st);
	for (f = 0; j->fcodes && f < fr->nfeat; f++)
		free(j->fcodes[f]);
	free(j->fcodes);
	free(j->fy);
	json_decref(j->chosen);
	json_decref(j->tuned);
	ch_forest_stats_free(&j->st);
	ch_frame_free(fr);
	ch_frame_free(j->va);
}

int
ch_train(FILE *fp, const char *name, const struct ch_frame_opts *fo,
    const struct ch_train_opts *o, struct ch_train_result *r,
    struct ch_err *e)
{
	struct job j;
	double t0 = ch_seconds(), t;
	int ret = -1;

	memset(r, 0, sizeof *r);
	memset(&j, 0, sizeof j);
	j.o = o;
	j.name = name;
	j.r = r;
	j.forest_auc = j.gbdt_auc = NAN;
	if ((o->bins ? ch_shard_frame_load(fp, name, o->bins, fo, &j.fr, e) :
	    ch_frame_load(fp, name, fo, &j.fr, e)) != 0)
		return -1;
	if ((ret = read_rest(&j, fo, e)) != 0)
		goto out;
	ret = -1;
	r->t_read = ch_seconds() - t0;
	if (split_rows(&j, e) != 0)
		goto out;
	j.t = ch_seconds();
	if (fit_gbdt(&j, e) != 0)
		goto out;
	probe_forest(&j, e);
	if (fit_forest(&j, e) != 0)
		goto out;
	choose(&j);
	evaluate(&j);
	if (refit(&j, e) != 0)
		goto out;
	describe(&j);
	t = ch_seconds();
	if (ch_model_save(j.m, o->output, e) != 0)
		goto out;
	r->t_write = ch_seconds() - t;
	r->output = o->output;
	r->rows = j.fr->n;
	r->train_rows = j.ntrain;
	r->eval_rows = j.neval;
	ret = 0;
out:
	job_free(&j);
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
