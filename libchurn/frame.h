/* frame.h - a labelled data set in memory, binned for training
 * Owns reading a whole CSV into codes with its schema, labels, warnings and
 * SHA-256.  Calls csv.h (the one reader), schema.h (the one encoder), util. */
#ifndef CHURN_FRAME_H
#define CHURN_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "schema.h"
#include "util.h"

/* How to read the columns of a training CSV. */
struct ch_frame_opts {
	const char *target;      /* target column (default "Churn") */
	const char *positive;    /* positive label, NULL: Yes, 1, true, True */
	const char *id;          /* id column, NULL: customerID if present */
	char **drop;             /* columns to ignore (NULL-terminated) or NULL */
	char **numeric;          /* forced numeric columns or NULL */
	char **categorical;      /* forced categorical columns or NULL */
	int max_bins;            /* numeric bins, 2..255 (0: 255) */
};

/*
 * Columns are stored as one-byte codes, column-major: codes[f][row].
 */
struct ch_frame {
	size_t n;                /* rows */
	int nfeat;
	struct ch_schema *schema; /* owned; NULL when read with ch_frame_load_with */
	uint8_t **codes;         /* [nfeat][n] */
	uint8_t *y;              /* [n] 1 = positive */
	long *line;              /* [n] input line of each row, for messages */
	char sha256[65];         /* fingerprint of the input bytes */
	char *source;            /* file name as given */
	json_t *warnings;        /* findings while reading: [{column, what,
	                            message, lines}] (ch_frame_load) */
};

/*
 * Reads a whole CSV with a header, infers the schema (a column whose
 * non-missing values all parse as numbers is numeric), quantises numeric
 * columns into at most max_bins quantile bins, and fills the reference
 * profiles.  Errors name the file, line and column: a ragged row, an
 * unparseable target, an empty file, a missing target column.
 */
int ch_frame_load(FILE *fp, const char *name, const struct ch_frame_opts *o,
    struct ch_frame **out, struct ch_err *e);

/*
 * Reads a labelled CSV with the columns of an existing schema (validation
 * data): values are encoded with the schema's bins and categories.
 * *unseen counts values of categories not in the schema.
 */
int ch_frame_load_with(FILE *fp, const char *name, const struct ch_schema *s,
    const struct ch_frame_opts *o, struct ch_frame **out, size_t *unseen,
    struct ch_err *e);

/*
 * Quantile bin edges of a numeric column from its distinct values v
 * (ascending) with their counts (total in all): at most maxb bins, each
 * edge a value seen in the data (bins are upper-inclusive); with few
 * distinct values every value has its bin.  Returns the number of edges.
 * The one rule: ch_frame_load and the merged binning of shards use it.
 */
int ch_quantile_edges(const double *v, const uint64_t *count, size_t nd,
    uint64_t total, int maxb, double *edges);

/* Recognises the positive label: positive if given, else Yes/1/true/True.
 * Returns 1 positive, 0 negative, -1 unparseable (for two-class targets
 * with the default labels: No/0/false/False are negative). */
int ch_label(const char *s, size_t len, const char *positive);

void ch_frame_free(struct ch_frame *f);

#endif
