/* schema.h - features, their bins and categories, value encoding
 * Owns the one encoder: a CSV record or a JSON object becomes codes here,
 * with one message form.  Calls util, jansson; csv.h for the record type. */
#ifndef CHURN_SCHEMA_H
#define CHURN_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "csv.h"
#include "util.h"

/*
 * Every feature value is encoded as a one-byte code before training or
 * prediction.  Numeric values map to their quantile bin, categories to their
 * index; CH_MISSING stands for a missing value (and for a category never
 * seen in training).
 */
#define CH_MISSING 255
#define CH_MAXBINS 255  /* codes 0..254 */

enum ch_ftype { CH_NUMERIC, CH_CATEGORICAL };

/*
 * A profile is a distribution of one variable: counts per bin (numeric:
 * nedges ascending edges, bin i holds edges[i-1] < v <= edges[i], the outer
 * bins open) or per category, plus missing values.  The reference profile of
 * a feature uses the feature's own codes: counts[code].
 */
struct ch_profile {
	int nbins;           /* numeric: nedges + 1; categorical: ncats */
	double *edges;       /* numeric only: nbins - 1 edges, else NULL */
	uint64_t *counts;    /* [nbins] */
	uint64_t missing;
	uint64_t total;      /* sum of counts + missing */
};

struct ch_feature {
	char *name;
	enum ch_ftype type;
	int nbins;           /* codes in use (0..nbins-1), CH_MISSING aside */
	double *edges;       /* numeric: nbins - 1 upper-inclusive edges */
	char **cats;         /* categorical: nbins names, by code */
	struct ch_strmap *catmap; /* categorical: name -> code */
	size_t *catlen;      /* categorical: lengths of the names */
	int fastcats;        /* categorical: names compared one by one first */
	double min, max;     /* numeric: range seen in training */
	struct ch_profile ref;    /* reference profile (training data) */
};

struct ch_schema {
	int nfeat;
	struct ch_feature *f;
	char *target;        /* target column name */
	char *positive;      /* positive label as given, or NULL for the defaults */
	char *id;            /* id column name, or NULL */
};

/* Builds the lookups of a categorical feature from its cats (catmap,
 * catlen, fastcats); fails when a name appears twice. */
int ch_feature_index(struct ch_feature *f);

/* Returns the index of the feature called name, or -1. */
int ch_schema_find(const struct ch_schema *s, const char *name);

/* Code of v for a numeric feature: the bin whose (edge[i-1], edge[i]]
 * holds v.  Binary search. */
uint8_t ch_bin_numeric(const struct ch_feature *f, double v);

/*
 * Encodes one cell (text s of length len) of feature f.
 * Returns 0 with *code set; 1 when the value is a category unseen in
 * training (*code = CH_MISSING); -1 when a numeric cell is not a number.
 * Missing cells (ch_is_missing) give CH_MISSING and 0.
 */
int ch_encode_cell(const struct ch_feature *f, const char *s, size_t len,
    uint8_t *code);

/* Called for each value of a category unseen in training (encoded as
 * CH_MISSING): the feature's index and the value's text. */
typedef void ch_unseen_fn(void *arg, int feat, const char *s, size_t len);

/* Where a CSV header puts the features. */
struct ch_cols {
	int *col;            /* [nfeat] column of each feature */
	int id;              /* the schema's id column, or -1 */
	size_t n;            /* fields in the header */
};

/*
 * Maps a CSV header to the features into c (c->col allocated; zero c
 * first, free with ch_cols_free).  A feature missing from the header
 * fails with e naming it ("name:1: no column 'x' (a feature of the
 * model)"; name is the file name for the message).  Extra columns are
 * ignored.
 */
int ch_schema_map_header(const struct ch_schema *s, char *const *hdr,
    size_t n, struct ch_cols *c, const char *name, struct ch_err *e);
void ch_cols_free(struct ch_cols *c);

/*
 * The one encoder of a CSV record (of a file called name, its header
 * mapped into c) into codes[nfeat].  A record wider or narrower than the
 * header fails ("name:line: ragged row: 3 fields, the header has 21").  A
 * numeric cell that is not a number is missing (CH_MISSING), as training
 * takes it: the record is encoded and 1 returned, with e saying the first
 * such cell ("name:line: column 'x': 'abc' is not a number") and *bad set
 * to its feature -- the caller warns, or refuses the row where a missing
 * value will not do.  unseen (if not NULL) is called for each unseen
 * category.  Returns 0, 1, or -1 with e filled and *bad (if not NULL) the
 * feature at fault or -1.
 */
int ch_encode_record(const struct ch_schema *s, const struct ch_cols *c,
    const struct ch_record *rec, const char *name, uint8_t *codes,
    ch_unseen_fn *unseen, void *arg, int *bad, struct ch_err *e);

/*
 * The one encoder of a JSON object of one customer into codes[nfeat].
 * Numbers and numeric strings are accepted for numeric features, strings
 * (or numbers, as text) for categorical ones; null means missing; unknown
 * keys are ignored.  A string of a numeric feature that is not a number
 * is missing, as in ch_encode_record: 1 with e saying the first ("field
 * 'x': 'abc' is not a number", the form of ch_encode_record) and *bad its
 * feature.  A missing key ("no field 'x' (a feature of the model)") or a
 * value of the wrong JSON type fails: -1 with e naming the field (no file
 * or line: the caller adds them), and *bad (if not NULL) set to the
 * feature index (-1 when obj is not an object).  unseen as for
 * ch_encode_record.
 */
int ch_encode_json(const struct ch_schema *s, json_t *obj, uint8_t *codes,
    ch_unseen_fn *unseen, void *arg, int *bad, struct ch_err *e);

/*
 * The two halves of ch_encode_json, for a caller that reads the same
 * fields again (churn-serve's window and prediction log): v[i] gets the
 * value of feature i in the object obj, or NULL when it has none (one walk
 * in step with the schema: the fields mostly come in its order); then the
 * values encoded as ch_encode_json does (obj known to be an object).
 */
void ch_json_fields(const struct ch_schema *s, json_t *obj, json_t **v);
/* The same into an array of its own (free it) */
json_t **ch_json_fields_new(const struct ch_schema *s, json_t *obj);
int ch_encode_fields(const struct ch_schema *s, json_t *const *v,
    uint8_t *codes, ch_unseen_fn *unseen, void *arg, int *bad,
    struct ch_err *e);

/* JSON round trip of the whole schema (names, types, edges, categories,
 * ranges and reference profiles), as stored in the model file. */
json_t *ch_schema_to_json(const struct ch_schema *s);
int ch_schema_from_json(json_t *j, struct ch_schema **out, struct ch_err *e);

/* The input schema for users (--schema, GET /predict/schema): names,
 * types, categories, ranges; no bins. */
json_t *ch_schema_input_json(const struct ch_schema *s);

json_t *ch_profile_to_json(const struct ch_profile *p);
int ch_profile_from_json(json_t *j, enum ch_ftype t, struct ch_profile *p,
    struct ch_err *e);
void ch_profile_free(struct ch_profile *p);

/* Removes feature i (freed; the later ones move down by one). */
void ch_schema_drop_feature(struct ch_schema *s, int i);

void ch_schema_free(struct ch_schema *s);

#endif
