/* gbdt.h - gradient-boosted trees on the forest's binned features
 *
 * Owns the boosting loop; its trees are struct ch_tree (forest.h), so the
 * model file, the scorer and every tool that scores read them unchanged.
 * Calls forest.h and util.h only.
 */
#ifndef CHURN_GBDT_H
#define CHURN_GBDT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "forest.h"

struct ch_gbdt_params {
	int max_iter;            /* boosting rounds at most (1000) */
	double learning_rate;    /* shrinkage (0.1) */
	int max_leaves;          /* leaves a tree, grown best first (15) */
	int max_depth;           /* 0: unlimited */
	int min_leaf;            /* minimum rows in a leaf (40) */
	double l2;               /* L2 penalty on leaf values (0) */
	int patience;            /* rounds without a better validation loss
	                            before stopping (20) */
	double subsample;        /* share of the training rows each round
	                            grows on, drawn anew (1: all) */
	uint64_t seed;           /* of the draws */
	atomic_int *until;       /* NULL; or the rounds to keep, 0 while
	                            another thread has yet to find them */
};

struct ch_gbdt_stats {
	int iterations;          /* trees kept */
	double *importance;      /* [nfeat] total gain, sums to 1 */
	double *valid_prob;      /* [n] probability of validation rows at the
	                            kept iteration, NAN elsewhere */
	double valid_logloss;    /* at the kept iteration, NAN without valid */
};

void ch_gbdt_defaults(struct ch_gbdt_params *p);

/*
 * Boosts trees of logistic loss on the rows of d with valid[i] == 0
 * (valid NULL: all rows).  With valid, the loss of the rows valid[i] == 1
 * is followed after every round: boosting stops after patience rounds
 * without a lower one and the trees up to the lowest are kept; without,
 * exactly max_iter rounds are run, or with p->until, rounds go on until
 * *until is known (non-zero) and reached, and exactly *until are kept
 * (boosting is sequential, so they are the trees a run of *until rounds
 * grows: the result is the same whenever *until is set).  Deterministic
 * (one thread).  The
 * result is a forest with learner CH_LEARN_GBDT: the probability is the
 * logistic of base plus the sum of the leaves.  stats may be NULL (free it
 * with ch_gbdt_stats_free).  Returns 0, or -1 with e filled.
 */
int ch_gbdt_train(const struct ch_train_data *d, const struct ch_gbdt_params *p,
    const uint8_t *valid, struct ch_forest **out, struct ch_gbdt_stats *st,
    struct ch_err *e);

void ch_gbdt_stats_free(struct ch_gbdt_stats *s);

#endif
