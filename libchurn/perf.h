/* perf.h - live performance: outcomes joined to the predictions served;
 * calls metrics.h, outcomes.h, predlog.h, registry.h */
#ifndef CHURN_PERF_H
#define CHURN_PERF_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "outcomes.h"
#include "predlog.h"
#include "registry.h"

#define CH_PERF_HORIZON_DAYS 90

enum ch_perf_by { CH_PERF_DAY, CH_PERF_WEEK, CH_PERF_MONTH, CH_PERF_ALL };

struct ch_perf_opts {
	long horizon_days;     /* 0: CH_PERF_HORIZON_DAYS */
	enum ch_perf_by by;    /* period of the prediction's time */
};

/* "day", "week", "month", "all" <-> the enum; -1 when unknown. */
int ch_perf_by_parse(const char *s);
const char *ch_perf_by_name(enum ch_perf_by by);

/* One outcome joined with the prediction it judges. */
struct ch_perf_row {
	const char *id, *version;   /* borrowed from the inputs */
	const struct ch_pred *pred; /* the prediction joined (borrowed) */
	time_t pred_time, outcome_time;
	double p;
	int y;
};

/*
 * The join: each outcome o (id, time) takes the latest prediction for the
 * same id made at or before o's time and no more than horizon_days before
 * it; outcomes without one are not joined.  preds must be sorted by (id,
 * time) as ch_predlog_read returns them.  Returns the number of joined
 * rows in *out (malloc'd, in the order of outcomes).
 */
size_t ch_perf_join(const struct ch_outcome *o, size_t no,
    const struct ch_pred *preds, size_t np, long horizon_days,
    struct ch_perf_row **out);

/*
 * Per model version, and per period of the prediction's time within it:
 * rows, positives, ROC-AUC, PR-AUC, log-loss, Brier score, accuracy,
 * precision, recall, F1, a 10-bin calibration table ([k/10, (k+1)/10),
 * the last bin closed) and the confusion matrix at the version's
 * threshold.  info(ctx, version, &threshold, &holdout_auc) gives a
 * version's threshold (0.5 when it returns nonzero) and training holdout
 * ROC-AUC (NAN: unknown).  A new reference:
 *   {"horizon_days","by","outcomes","joined","unjoined",
 *    "versions":[{"model_version","threshold","holdout_roc_auc",
 *                 "all":{metrics},"periods":[{"period",metrics..}]}]}
 * (metrics undefined for the rows, e.g. ROC-AUC with one class, are null)
 */
json_t *ch_perf_compute(const struct ch_outcome *o, size_t no,
    const struct ch_pred *preds, size_t np, const struct ch_perf_opts *opts,
    int (*info)(void *ctx, const char *version, double *threshold,
    double *holdout_auc), void *ctx);

/* The same from the registry: its outcomes, its prediction log, and the
 * thresholds and holdout AUCs of the versions' manifests.  NULL with e. */
json_t *ch_perf_registry(struct ch_registry *r,
    const struct ch_perf_opts *opts, struct ch_err *e);

#endif
