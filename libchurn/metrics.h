/* metrics.h - binary classification metrics
 * Owns ROC-AUC, PR-AUC, log-loss and the confusion counts at a threshold,
 * and their JSON form (log-loss/Brier alone: calib.h).  Calls util, jansson. */
#ifndef CHURN_METRICS_H
#define CHURN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct ch_metrics {
	size_t n;
	double threshold;
	double roc_auc;          /* ties count one half (Mann-Whitney) */
	double pr_auc;           /* average precision, as scikit-learn's */
	double accuracy, precision, recall, f1;
	double log_loss;         /* probabilities clipped to [1e-15, 1-1e-15] */
	uint64_t tp, fp, tn, fn; /* at threshold: p >= threshold is positive */
};

/*
 * Computes every metric of p (probabilities) against y (0/1) at threshold.
 * Undefined values (e.g. ROC-AUC with one class only, precision with no
 * predicted positive) are NAN, and 0 for precision/recall/F1 as in
 * scikit-learn's zero_division=0.  Returns 0, or -1 when n is 0.
 */
int ch_metrics_compute(const double *p, const uint8_t *y, size_t n,
    double threshold, struct ch_metrics *m);

/* {"rows":..,"roc_auc":..,...,"confusion":{"tp":..,...}}; NAN as null. */
json_t *ch_metrics_to_json(const struct ch_metrics *m);

#endif
