/*
 * compare.h - champion against challenger on live rows: score
 * distributions, the PSI between them and, where outcomes are known,
 * ROC-AUC, log-loss and Brier score with bootstrap confidence intervals;
 * calls metrics and util; never prints or exits.
 */
#ifndef CHURN_COMPARE_H
#define CHURN_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util.h"

/* One version's live rows: every probability it gave (p[0..n)), and
 * y[i] 0/1 for a row whose outcome is known, else 255. */
struct ch_cmp_side {
	const char *version;
	double *p;
	uint8_t *y;
	size_t n, cap;
};

/* Appends one row to s. */
void ch_cmp_add(struct ch_cmp_side *s, double p, int y);
void ch_cmp_free(struct ch_cmp_side *s);

/*
 * {"versions":[{"version","rows","labelled","positives",
 *   "mean_probability","scores":[10 bins of 0.1],"roc_auc","roc_auc_ci",
 *   "log_loss","log_loss_ci","brier"}, ...] (a, then b),
 *  "psi" (b's probabilities against a's), "roc_auc_diff" (b - a),
 *  "roc_auc_diff_ci", "log_loss_diff", "log_loss_diff_ci",
 *  "bootstrap": boot, "confidence": 0.95}
 * Intervals are percentile bootstraps (boot resamples of each side's
 * labelled rows, drawn with seed); a value that cannot be computed (no
 * labelled rows, one class only) is null.  A new reference.
 */
json_t *ch_compare(const struct ch_cmp_side *a, const struct ch_cmp_side *b,
    int boot, uint64_t seed);

#endif
