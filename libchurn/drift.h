/* drift.h - data drift: PSI for numbers, L1 for categories
 * Owns the drift configuration, counts in a model's codes (sides) and the
 * JSON report from two sides.  Calls schema, model, util, jansson. */
#ifndef CHURN_DRIFT_H
#define CHURN_DRIFT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "model.h"
#include "schema.h"
#include "util.h"

/*
 * A drift check compares two data sets, the reference and the current one,
 * feature by feature.  Both are first counted in the model's own codes (the
 * 255-max quantile bins and category indices of the schema): a struct
 * ch_drift_side holds, per feature, counts per code plus missing values,
 * and, for categorical features, the values not in the schema's category
 * list, counted by name.  Counting is streaming: memory does not grow with
 * the number of rows.
 *
 * The report then coarsens each numeric feature to k quantile bins of the
 * reference by snapping to the schema's own edges (ch_drift_edges), so that
 * both shares are exact, and computes
 *
 *	PSI = sum over bins of (cur - ref) * ln(cur / ref)
 *
 * with every share floored at CH_DRIFT_FLOOR on both sides (the floor is
 * applied to the shares inside the sum only; the report gives raw shares),
 * and for categorical features
 *
 *	L1 = sum over the union of categories of |cur - ref|
 *
 * (0..2, twice the total-variation distance).  A bin "missing" is added when
 * either side has missing values.
 */
#define CH_DRIFT_FLOOR 1e-4
#define CH_DRIFT_MIN_ROWS 100   /* fewer rows: PSI unstable, warned */
#define CH_DRIFT_MAX_NEW 1000   /* distinct unseen categories counted by name */
#define CH_DRIFT_LIST_NEW 20    /* ... and listed in the report */

/* Thresholds of one metric: status "warn" when value >= warn, "drift"
 * when value >= drift. */
struct ch_drift_rule {
	double warn, drift;
};

/* Per-feature thresholds (from the config file). */
struct ch_drift_over {
	char *name;
	struct ch_drift_rule r;
};

struct ch_drift_cfg {
	int bins;                   /* quantile bins for PSI (10) */
	struct ch_drift_rule psi;   /* numeric features and prediction (0.1, 0.2) */
	struct ch_drift_rule l1;    /* categorical features (0.1, 0.2) */
	double share;               /* dataset drift when drifted/checked >=
	                               share; 0: any drifted feature */
	size_t min_rows;            /* warn below (CH_DRIFT_MIN_ROWS) */
	size_t nover;
	struct ch_drift_over *over; /* per feature, win over psi/l1 */
};

/* Fills c with the defaults. */
void ch_drift_cfg_init(struct ch_drift_cfg *c);

/*
 * Reads a config object into c, over what it holds:
 *	{"bins":10, "drift_share":0.25,
 *	 "psi":{"warn":0.1,"drift":0.2}, "l1":{"warn":0.1,"drift":0.2},
 *	 "features":{"tenure":{"warn":0.05,"drift":0.1}, ...}}
 * Every key is optional; a feature entry may give warn or drift alone (the
 * other comes from its metric's global rule).  Unknown keys, wrong types
 * and values out of range fail, naming the key (name is the file, for
 * messages).  Returns 0 or -1 with e filled.
 */
int ch_drift_cfg_json(struct ch_drift_cfg *c, json_t *j, const char *name,
    struct ch_err *e);
void ch_drift_cfg_free(struct ch_drift_cfg *c);

/*
 * Counts of one data set in the codes of a schema.
 */
struct ch_drift_side {
	int nfeat;
	size_t rows;
	uint64_t (*counts)[256];    /* [nfeat][code], [CH_MISSING] = missing */
	struct ch_strmap **extra;   /* [nfeat] categorical: unseen values */
	uint64_t **extra_n;         /* [nfeat][extra index] their counts */
	uint64_t *extra_other;      /* [nfeat] beyond CH_DRIFT_MAX_NEW names */
	int has_pred;
	uint64_t pred[256];         /* churn probability, in codes of the
	                               model's pred_ref edges */
	uint64_t not_num;           /* rows with a numeric cell that is not a
	                               number: counted as missing, as training
	                               and scoring take it */
	long not_num_line;          /* the first of them (0: none, or unknown) */
	char not_num_msg[256];      /* and what was wrong with it */
};

/* An empty side for schema s. */
void ch_drift_side_init(struct ch_drift_side *d, const struct ch_schema *s);

/* The reference stored in a model: each feature's ref profile, and
 * m->pred_ref for the prediction (when it has rows). */
int ch_drift_side_from_model(struct ch_drift_side *d, const struct ch_model *m,
    struct ch_err *e);

/* Counts n rows whose categorical feature f holds the unseen value s
 * (beyond CH_DRIFT_MAX_NEW distinct values they are counted together).
 * Known codes are counted straight into d->counts[f][code]. */
void ch_drift_side_add_unseen(struct ch_drift_side *d, int f,
    const char *s, size_t len, uint64_t n);

/* Counts n rows with a numeric cell that is not a number, the first of
 * them at line, which msg names (of all counted, the earliest line is
 * kept; 0: unknown). */
void ch_drift_side_not_number(struct ch_drift_side *d, uint64_t n, long line,
    const char *msg);

/* Adds the counts of b to a (threads count apart, then merge). */
void ch_drift_side_merge(struct ch_drift_side *a, const struct ch_drift_side *b);

void ch_drift_side_free(struct ch_drift_side *d);

/*
 * The coarse edges for k quantile bins of a reference counted on a fine
 * grid: counts[0..nbins-1] (missing excluded) over the fine bins with
 * edges[0..nbins-2].  For j = 1..k-1, takes the fine edge at which the
 * reference's cumulative share first reaches j/k; duplicates are dropped
 * and the last fine bin has no edge to give.  Writes the indices of the
 * chosen fine edges to idx (room for k-1) and returns how many.
 */
int ch_drift_edges(const uint64_t *counts, int nbins, int k, int *idx);

/* PSI of two share vectors with the CH_DRIFT_FLOOR floor; L1 distance. */
double ch_drift_psi(const double *ref, const double *cur, int n);
double ch_drift_l1(const double *ref, const double *cur, int n);

/*
 * The drift report (churn-drift(1), section Report) of cur against ref, both
 * counted with schema s, pred_edges (npred_edges, may be 0) being the edges
 * of the prediction codes.  version may be NULL (no model); now is the
 * report time.  Returns a new reference, or NULL with e filled (no current
 * rows, no reference rows).
 */
json_t *ch_drift_report(const struct ch_schema *s, const double *pred_edges,
    int npred_edges, const struct ch_drift_side *ref,
    const struct ch_drift_side *cur, const struct ch_drift_cfg *c,
    const char *version, time_t now, struct ch_err *e);

/* 1 when the report says drift, 0 when not. */
int ch_drift_found(json_t *report);

#endif
