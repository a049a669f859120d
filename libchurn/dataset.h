/* dataset.h - a training set from labelled customers: the features served
 * (the prediction log) joined with their outcomes; calls csv.h,
 * outcomes.h, perf.h (the join), predlog.h, registry.h, store.h */
#ifndef CHURN_DATASET_H
#define CHURN_DATASET_H

#include <stddef.h>
#include <time.h>

#include "registry.h"
#include "util.h"

/*
 * What to take: each outcome joined to the latest prediction served for
 * that customer before it, within horizon_days (the join of churn-models
 * perf), the prediction's features as the row.  Of those, the outcomes of
 * the last `days` days counted back from the newest outcome (0: all), and
 * of these the newest `rows` (0: all), by outcome time.  With `with`, the
 * rows of that CSV file come first, in order, and its header is the
 * data set's; without, the header is id, the features (sorted by name)
 * and target.
 */
struct ch_dataset_opts {
	long days;                /* 0: no limit */
	size_t rows;              /* 0: no limit */
	long horizon_days;        /* 0: CH_PERF_HORIZON_DAYS */
	const char *id;           /* the id column (customerID) */
	const char *target;       /* the label column (Churn) */
	const char *positive;     /* its labels (Yes, No) */
	const char *negative;
	const char *with;         /* a CSV file to include, or NULL */
};

struct ch_dataset_stats {
	size_t rows;          /* data rows written */
	size_t labelled;      /* of them from outcomes */
	size_t with_rows;     /* of them from the with file */
	size_t positives;     /* labelled rows with outcome 1 */
	size_t outcomes;      /* outcomes read */
	size_t joined;        /* outcomes with a prediction */
	time_t from, to;      /* outcome times of the labelled rows (0: none) */
	char sha256[65];      /* of the CSV bytes */
};

/*
 * Builds the CSV text in out (appended; the caller frees out->s) and
 * fills st.  A with file that cannot be read, is ragged or lacks the
 * target column fails, naming file:line.  Returns 0 or -1 with e filled.
 */
int ch_dataset_build(struct ch_registry *r, const struct ch_dataset_opts *o,
    struct ch_buf *out, struct ch_dataset_stats *st, struct ch_err *e);

/* The store key of a data set: "datasets/<sha256>.csv" (out: 80 bytes) */
void ch_dataset_key(const char *sha256, char out[80]);

#endif
