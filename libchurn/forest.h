/* forest.h - random forest of Gini CART trees on binned features
 * Owns the tree layout (struct ch_tree, also gbdt's), growing, the walk that
 * scores one row, and checks.  Calls util and schema.h (codes) only. */
#ifndef CHURN_FOREST_H
#define CHURN_FOREST_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/*
 * A node tests one feature's code.  Missing (CH_MISSING) goes to the side
 * learnt for it (missing_left).  Numeric: code <= arg goes left.
 * Categorical: code goes left when bit `code` of bitset `arg` is set.
 * A leaf has feat == -1 and the churn probability in value.
 */
struct ch_node {
	int32_t feat;
	uint32_t arg;
	uint8_t missing_left;
	uint8_t categorical;
	uint8_t pad[2];
	int32_t left, right;
	float value;
};

struct ch_tree {
	uint32_t nnodes;
	struct ch_node *nodes;  /* nodes[0] is the root */
	uint32_t nbitsets;
	uint8_t (*bitsets)[32]; /* 256-bit category sets */
};

/* What the trees' leaves hold and how they combine into a probability. */
enum ch_learner {
	CH_LEARN_FOREST,         /* leaves: probabilities, averaged */
	CH_LEARN_GBDT            /* leaves: log-odds, summed onto base,
	                            then the logistic function (gbdt.h) */
};

struct ch_forest {
	int nfeat;
	int ntrees;
	struct ch_tree *trees;
	enum ch_learner learner;
	double base;             /* CH_LEARN_GBDT: initial log-odds */
};

/* Probability from the sum of a row's leaf values over the trees. */
double ch_forest_link(const struct ch_forest *f, double sum);

enum ch_maxfeat { CH_MF_SQRT, CH_MF_LOG2, CH_MF_ALL, CH_MF_COUNT, CH_MF_FRACTION };

struct ch_forest_params {
	int trees;               /* number of trees (100) */
	int max_depth;           /* 0: unlimited */
	int min_leaf;            /* minimum rows (bootstrap-weighted) in a leaf */
	enum ch_maxfeat mf;      /* features tried per split */
	double mf_value;         /* count or fraction for CH_MF_COUNT/FRACTION */
	int balanced;            /* class_weight=balanced */
	uint64_t seed;
	int jobs;                /* threads (>= 1) */
	size_t max_samples;      /* rows a tree's bootstrap draws (0: all n,
	                            as scikit-learn's max_samples) */
	size_t oob_every;        /* out-of-bag estimates of every row (0, 1),
	                            or of every oob_every-th row only (row
	                            i % oob_every == 0; NAN for the others):
	                            routing the rows a tree leaves out costs
	                            more than growing it on big data */
};

/* Training input: column-major codes. */
struct ch_train_data {
	size_t n;
	int nfeat;
	uint8_t *const *codes;   /* [nfeat][n] */
	const uint8_t *y;        /* [n] 0/1 */
	const int *nbins;        /* [nfeat] codes in use per feature */
	const uint8_t *categorical; /* [nfeat] 1 for categorical features */
};

struct ch_forest_stats {
	double *importance;      /* [nfeat] mean decrease in impurity, sums to 1 */
	double *oob_prob;        /* [n] out-of-bag probability, NAN if never out */
	size_t oob_n;            /* rows with an out-of-bag estimate */
};

/*
 * Trains a forest.  Tree t draws its bootstrap sample and its features from
 * an RNG seeded by (seed, t), so the forest is the same whatever jobs is.
 * progress (may be NULL) is called from worker threads after each tree with
 * the number of trees done.  stats (may be NULL) receives importances and
 * out-of-bag probabilities (caller frees with ch_forest_stats_free).
 * Returns 0, or -1 with e filled.
 */
int ch_forest_train(const struct ch_train_data *d,
    const struct ch_forest_params *p, struct ch_forest **out,
    struct ch_forest_stats *stats,
    void (*progress)(int done, int total, void *arg), void *arg,
    struct ch_err *e);

/* Churn probability for one row of codes x[nfeat]: mean of the trees
 * (or, boosted, the logistic of base plus their sum). */
double ch_forest_predict(const struct ch_forest *f, const uint8_t *x);

/* Validates a forest read from a file: child indices in range, no cycles
 * (children come after their parent), features < nfeat, bitset indices in
 * range.  Returns 0 or -1 with e filled. */
int ch_forest_check(const struct ch_forest *f, struct ch_err *e);

void ch_forest_free(struct ch_forest *f);
void ch_forest_stats_free(struct ch_forest_stats *s);

#endif
