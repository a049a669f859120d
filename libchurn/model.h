/* model.h - the model file: schema, forest, metadata, reference profiles
 * Owns the file format (encode, decode, SHA-256, atomic save) and scoring
 * rows of codes.  Calls schema, forest, scorer, calib, util, jansson, OpenSSL. */
#ifndef CHURN_MODEL_H
#define CHURN_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "calib.h"
#include "forest.h"
#include "schema.h"
#include "scorer.h"
#include "util.h"

#define CH_MODEL_MAGIC "CHURNMDL"
/* 1: a random forest; 2: adds "learner" (forest or gbdt), "base_score"
 * and "calibration" to the metadata (format 1 files still load) */
#define CH_MODEL_FORMAT 2

/*
 * A trained model, as written by churn-train and read by every other tool.
 * The on-disk format is documented in churn-model(5).
 */
struct ch_model {
	char version[17];        /* vYYYYMMDD-HHMMSS, UTC time of training */
	time_t created;
	double threshold;        /* decision threshold for the churn label */
	struct ch_schema *schema;
	struct ch_forest *forest;
	struct ch_scorer *scorer; /* the forest, laid out for scoring */
	struct ch_calib calib;   /* applied to the trees' probability */
	struct ch_profile pred_ref; /* churn probability on held-out rows */
	json_t *meta;            /* "params", "metrics", "oob", "importances",
	                            "data" ... as churn-model(5) lists */
	char sha256[65];         /* SHA-256 of the whole file, as sha256sum(1)
	                            prints it (set by encode/decode) */
	size_t file_size;        /* set by load/save */
	int format;              /* the file's format (decode), or 0: this
	                            program's (CH_MODEL_FORMAT) */
};

/* Serialises m to a buffer (malloc'd) and sets m->sha256 / file_size. */
int ch_model_encode(struct ch_model *m, unsigned char **buf, size_t *len,
    struct ch_err *e);

/* Writes m to path atomically (temp file, fsync, rename). */
int ch_model_save(struct ch_model *m, const char *path, struct ch_err *e);

/*
 * Reads a model from memory or a file ("-" for stdin).  A truncated,
 * corrupted (checksum), foreign (magic) or newer-format file fails with a
 * clear message naming it; nothing in the file is trusted before its
 * checksum and structure are checked.
 */
int ch_model_decode(const unsigned char *buf, size_t len, const char *name,
    struct ch_model **out, struct ch_err *e);
int ch_model_load(const char *path, struct ch_model **out, struct ch_err *e);

/* Churn probability for one row of codes (calibrated when the model is). */
double ch_model_predict(const struct ch_model *m, const uint8_t *codes);

/* Probabilities of n rows of codes (row-major, n x nfeat) into p,
 * using up to jobs threads. */
void ch_model_predict_batch(const struct ch_model *m, const uint8_t *codes,
    size_t n, double *p, int jobs);

/* The input schema for users (--schema, GET /predict/schema):
 * ch_schema_input_json plus "model_version" and "threshold". */
json_t *ch_model_schema_json(const struct ch_model *m);

/* Metadata for --describe and GET /model: version, created, sha256, target,
 * features, params, metrics, ... (new reference). */
json_t *ch_model_describe(const struct ch_model *m);

void ch_model_free(struct ch_model *m);

#endif
