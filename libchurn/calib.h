/* calib.h - probability calibration: Platt scaling and isotonic regression
 *
 * Maps a model's probability to a calibrated one.  Fitted by churn-train on
 * out-of-bag or internal-validation probabilities, kept in the model file's
 * metadata ("calibration"), applied by every tool through ch_model_predict.
 * Calls util.h and jansson only.
 */
#ifndef CHURN_CALIB_H
#define CHURN_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util.h"

enum ch_calib_method { CH_CALIB_NONE, CH_CALIB_PLATT, CH_CALIB_ISOTONIC };

struct ch_calib {
	enum ch_calib_method method;
	double a, b;             /* platt: logistic(a logit(p) + b) */
	int n;                   /* isotonic: n points, x ascending */
	double *x, *y;           /* piecewise linear, flat outside */
};

/* "none", "platt", "isotonic"; NULL for an unknown name */
const char *ch_calib_name(enum ch_calib_method m);
int ch_calib_parse(const char *s, enum ch_calib_method *m);

/* Fits method on n probabilities p with labels y (NAN p left out). */
void ch_calib_fit(struct ch_calib *c, enum ch_calib_method m,
    const double *p, const uint8_t *y, size_t n);

double ch_calib_apply(const struct ch_calib *c, double p);

/* Log-loss (probabilities clipped to [1e-15, 1 - 1e-15]) and Brier score
 * of n probabilities (NAN left out). */
double ch_logloss(const double *p, const uint8_t *y, size_t n);
double ch_brier(const double *p, const uint8_t *y, size_t n);

/*
 * Cross-fitted log-loss of calibrating with method: the rows are dealt into
 * k folds by a seeded shuffle, each fold calibrated by a fit on the others.
 * What choosing a method by log-loss on the rows it was fitted on would
 * overstate.
 */
double ch_calib_cv_logloss(enum ch_calib_method m, const double *p,
    const uint8_t *y, size_t n, int k, uint64_t seed);

/* {"method": ..., "a", "b"} or {"method", "x": [...], "y": [...]};
 * NULL for none.  from_json: NULL or null is none; -1 with e filled on a
 * malformed object. */
json_t *ch_calib_to_json(const struct ch_calib *c);
int ch_calib_from_json(const json_t *j, struct ch_calib *c, struct ch_err *e);

void ch_calib_free(struct ch_calib *c);

#endif
