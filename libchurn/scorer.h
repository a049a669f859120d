/* scorer.h - a forest laid out for fast batch scoring
 * Owns the flattened batch layout of a model's trees (not batch.c's CSV/JSONL
 * scoring pipeline, which calls it).  Calls forest.h and schema.h only. */
#ifndef CHURN_SCORER_H
#define CHURN_SCORER_H

#include <stddef.h>
#include <stdint.h>

#include "forest.h"

/*
 * A scorer is a read-only copy of a forest in which every split is a
 * 256-bit mask over the codes (missing included).  When every tree has at
 * most 64 leaves, rows are scored QuickScorer-style: one AND of a row of
 * leaf bitvectors a feature, one count of trailing zeros a tree.  Larger
 * trees are walked by blocks of rows, tree by tree, so each tree stays in
 * cache.  Either way the leaf values are summed in tree order, so its
 * probabilities equal ch_forest_predict's exactly.  Thread-safe to use
 * from many threads at once.
 */
struct ch_scorer;

struct ch_scorer *ch_scorer_new(const struct ch_forest *f);

/* Probabilities of n rows of codes, row-major (x[row * nfeat + f]). */
void ch_scorer_run(const struct ch_scorer *s, const uint8_t *x, size_t n,
    double *p);

void ch_scorer_free(struct ch_scorer *s);

#endif
