/*
 * train_impl.h - inside training: what train.c (the job) calls in tune.c
 * (the choices made from the data); only train.c and tune.c include it.
 */
#ifndef CHURN_TRAIN_IMPL_H
#define CHURN_TRAIN_IMPL_H

#include "train.h"

/*
 * The forest's minimum leaf and features per split, by out-of-bag AUC of
 * forests of TUNE_TREES trees: min_leaf climbs the grid from 10 towards
 * the better neighbour while the AUC rises, then the features per split
 * are tried at the chosen leaf.  Training takes milliseconds, so the
 * search costs a few forests.  Big data sets (more than TUNE_MAX rows)
 * keep the rule of thumb: trees of single rows on a million rows are slow
 * to train and to load, and out-of-bag choices matter little there.
 */
#define TUNE_TREES 32
#define TUNE_MAX 100000
#define BIG_SAMPLE 200000       /* rows a tree draws above TUNE_MAX */
#define PROBE_MARGIN 0.01
/* Calibration looks at this many rows at most: every k-th beyond (and the
 * forest's out-of-bag estimates are made on those rows only) */
#define CALIB_MAX 100000
static const int leaf_grid[] = { 1, 3, 10, 30, 100 };
#define NLEAF ((int)(sizeof leaf_grid / sizeof leaf_grid[0]))

/* The leaf size of a forest on n rows when none is given or tuned. */
int auto_min_leaf(size_t n);
/* ROC-AUC of p over the rows with sel[i] (sel NULL: all) and p[i] not
 * NAN; NAN when a class is absent. */
double auc_of(const double *p, const uint8_t *y, size_t n, const uint8_t *sel);
/* fp's min_leaf and features per split chosen unless given; *why says how
 * (NULL when both were given). */
void tune_forest(const struct ch_train_data *d, const struct ch_train_opts *o,
    struct ch_forest_params *fp, json_t **why, struct ch_err *e);
/* Id-like and leaking columns of fr left out unless kept, each said in a
 * warning appended to w; hold marks the rows not to look at. */
void hygiene(struct ch_frame *fr, const char *name, const uint8_t *hold,
    char **keep, json_t *w);
/* The calibration c of honest probabilities p with labels y: want, or the
 * best by cross-fitted log-loss (want < 0); the choice as JSON. */
json_t *choose_calib(const double *p, const uint8_t *y, size_t n, int want,
    uint64_t seed, struct ch_calib *c);

#endif
