/* train.h - the training job: read, split, fit, evaluate, write
 * Owns the choices (hygiene, tuning, learner, calibration: tune.c) and the
 * job's result.  Calls frame, forest, gbdt, calib, metrics, model, util. */
#ifndef CHURN_TRAIN_H
#define CHURN_TRAIN_H

#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "calib.h"
#include "forest.h"
#include "gbdt.h"
#include "frame.h"
#include "metrics.h"
#include "model.h"

/* Which learner: the forest, boosted trees, or the better of the two by
 * AUC on the internal validation rows. */
/* auto: the boosted trees, or the forest on more than TUNE_MAX training
 * rows (or too many features to boost); best: both, the better on the
 * validation rows kept */
enum ch_learn_choice { CH_CHOOSE_AUTO, CH_CHOOSE_FOREST, CH_CHOOSE_GBDT,
	CH_CHOOSE_BEST };

struct ch_train_opts {
	struct ch_forest_params forest; /* min_leaf 0: chosen by OOB AUC */
	int mf_set;              /* forest.mf given: not tuned */
	struct ch_gbdt_params gbdt;
	enum ch_learn_choice learner;
	int calibrate;           /* -1 auto, else enum ch_calib_method */
	char **keep;             /* columns the hygiene checks leave alone */
	double holdout;          /* stratified held-out fraction (0: none) */
	int refit;               /* after the holdout's measure, fit the
	                            shipped model on every row (1) */
	const char *valid;       /* evaluate on this CSV instead, or NULL */
	double threshold;        /* decision threshold for the label */
	const char *output;      /* model file path */
	time_t now;              /* training time: the version string */
	void (*progress)(int done, int total, void *arg);
	const struct ch_schema *bins; /* a shard's: the binning merged from
	                            every shard's summary (shard.h), no
	                            hygiene; NULL: inferred from the data */
	json_t *bins_info;       /* the merge's account, kept as "binning" */
};

struct ch_train_result {
	struct ch_model *model;
	const char *output;
	size_t rows, train_rows, eval_rows;
	size_t refit_rows;       /* rows of the shipped model when refitted */
	json_t *warnings;        /* data hygiene: [{column, what, message}] */
	const char *eval_source; /* "holdout", "valid" or NULL */
	int has_metrics;
	struct ch_metrics metrics;
	double t_read, t_train, t_eval, t_write;
};

/* Defaults: learner auto; the forest of 100 trees, unlimited depth, its
 * minimum leaf and features per split chosen by OOB AUC (min_leaf 0,
 * mf_set 0); boosting as ch_gbdt_defaults; calibration auto; holdout 0.2,
 * threshold 0.5, seed 1, all cores. */
void ch_train_defaults(struct ch_train_opts *o);

/* Parses --max-features: sqrt, log2, all, a count (>= 1) or a fraction
 * (0, 1).  Returns 0 or -1. */
int ch_parse_max_features(const char *s, struct ch_forest_params *p);

/*
 * Reads the CSV fp (named name in messages), holds out a stratified
 * fraction (or reads o->valid), chooses and trains the model on the rest
 * (forest settings by OOB AUC, the learner and the calibration on an
 * internal validation split of the training rows: the holdout is never
 * used for a choice), evaluates it, and writes the model to o->output
 * atomically.  Returns 0 with r filled (free with
 * ch_train_result_free), or -1 with e filled.
 */
int ch_train(FILE *fp, const char *name, const struct ch_frame_opts *fo,
    const struct ch_train_opts *o, struct ch_train_result *r,
    struct ch_err *e);

/* churn-train's JSON summary (new reference). */
json_t *ch_train_summary(const struct ch_train_result *r);

void ch_train_result_free(struct ch_train_result *r);

#endif
