/*
 * compare.h - champion against challenger on live rows: score
 * distributions, the PSI between them and, where outcomes are known,
 * ROC-AUC, log-loss, Brier score and calibration with bootstrap
 * confidence intervals, and the promotion verdict; from given rows, or
 * from the registry's outcomes joined to its prediction log.  Calls
 * metrics, util, and perf, outcomes, predlog and registry for the
 * registry's rows; never prints or exits.
 */
#ifndef CHURN_COMPARE_H
#define CHURN_COMPARE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "registry.h"
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
 *   "log_loss","log_loss_ci","brier","calibration":[10 bins {"rows",
 *   "mean_predicted","observed_rate"} of the labelled rows]}, ...]
 *   (a, then b),
 *  "paired", "psi" (b's probabilities against a's), "roc_auc_diff"
 *  (b - a), "roc_auc_diff_ci", "log_loss_diff", "log_loss_diff_ci",
 *  "bootstrap": boot, "confidence": 0.95}
 * Intervals are percentile bootstraps drawn with seed.  Unpaired (a
 * canary: two disjoint groups of customers) each side's labelled rows
 * are resampled on their own.  Paired (a shadow: a->n == b->n, row i of
 * both one customer's two scores, the same y) the labelled customers are
 * resampled once for both, so the intervals of the differences are those
 * of the per-customer differences.  A value that cannot be computed (no
 * labelled rows, one class only) is null.  A new reference.
 */
json_t *ch_compare(const struct ch_cmp_side *a, const struct ch_cmp_side *b,
    int boot, uint64_t seed);
json_t *ch_compare_paired(const struct ch_cmp_side *a,
    const struct ch_cmp_side *b, int boot, uint64_t seed);

/*
 * The promotion rule (scripts/stage-promote, churn-serve's GET /rollout):
 * wait under min_rows challenger rows or min_labelled labelled rows of
 * either version, or while the ROC-AUC difference has no interval;
 * rollback when the 95 % interval of the difference (challenger -
 * champion) ends below -margin; promote when it starts at or above
 * -margin; wait otherwise (still in the noise).
 */
struct ch_verdict_rule {
	long min_rows, min_labelled;
	double margin;
};
#define CH_VERDICT_RULE_INIT { 1000, 200, 0.01 }

/* The rule from CHURN_PROMOTE_MIN_ROWS, CHURN_PROMOTE_MIN_LABELLED and
 * CHURN_PROMOTE_MARGIN as get (getenv) gives them, the others left as
 * they are.  0, or -1 with e naming the variable and its value. */
int ch_verdict_rule_fill(struct ch_verdict_rule *rule,
    char *(*get)(const char *), struct ch_err *e);

/* Adds to a ch_compare answer "verdict" ("wait", "promote" or
 * "rollback"), "verdict_reason" (its numbers, in words) and "rule"
 * ({"min_rows","min_labelled","margin"}). */
void ch_compare_verdict(json_t *cmp, const struct ch_verdict_rule *rule);

/*
 * What to compare from the registry: the predictions of the prediction
 * log made at or after since (0: all), each outcome joined to the latest
 * of them for its customer (perf.h's join, within horizon_days).
 * Unpaired: the rows version champion answered against those version
 * challenger answered (a canary).  Paired: the rows champion answered
 * that challenger scored beside it in the shadow (shadow_version), one
 * customer's two scores together.
 */
struct ch_cmp_query {
	const char *champion, *challenger;  /* versions */
	int paired;
	time_t since;
	long horizon_days;      /* 0: CH_PERF_HORIZON_DAYS */
	int boot;
	uint64_t seed;
};

/* ch_compare(_paired) of the registry's rows, plus "mode" ("shadow" when
 * paired, else "canary"), "since" (ISO time or null), "horizon_days",
 * "outcomes" (read) and "joined" (to a row compared).  NULL with e. */
json_t *ch_compare_registry(struct ch_registry *r,
    const struct ch_cmp_query *q, struct ch_err *e);

/*
 * When rollout ro (current, not off) began in its present mode: the
 * earliest of the latest run of history events with ro's id and mode, in
 * *since (0 when none is found).  0, or -1 with e.
 */
int ch_rollout_since(struct ch_registry *r, const struct ch_rollout *ro,
    time_t *since, struct ch_err *e);

#endif
