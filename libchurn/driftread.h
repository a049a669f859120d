/* driftread.h - reading a data set into drift counts
 * Owns the readers (CSV on threads, JSON lines) and the prediction sample
 * of churn-drift.  Calls drift, csv, schema, model, util. */
#ifndef CHURN_DRIFTREAD_H
#define CHURN_DRIFTREAD_H

#include <stdint.h>
#include <stdio.h>

#include "drift.h"

#define CH_DRIFT_PRED_SAMPLE 10000   /* churn-drift's --predict-sample */

/*
 * How to read a data set.  The model (may be NULL) scores rows for
 * prediction drift: all of them, or, past pred_sample rows, a
 * deterministic sample of about pred_sample/2 to pred_sample rows, those
 * whose hash of codes has the most trailing zero bits (the same sample
 * whatever the number of threads or the order of the rows).  CSV is
 * parsed in blocks by jobs threads (ch_csv_parallel); JSON lines by one.
 */
struct ch_drift_read {
	const struct ch_schema *schema;
	const struct ch_model *model;   /* NULL: no prediction drift */
	int json_lines;                 /* JSON lines instead of CSV */
	int jobs;
	uint64_t pred_sample;           /* 0: score every row */
};

/*
 * Streams a CSV file with a header (or JSON lines, one object a line) into
 * d, which must be initialised for r->schema.  Every feature must be a
 * column (or key); other columns are ignored.  Errors name the file, the
 * line and the column: a feature column missing from the header, a
 * number that is not one, a ragged row, no rows at all.  With fp, reads
 * fp and path only names it in messages ("-": <stdin>); with fp NULL,
 * opens path.  Returns 0 or -1 with e filled.
 */
int ch_drift_read(const struct ch_drift_read *r, FILE *fp, const char *path,
    struct ch_drift_side *d, struct ch_err *e);

#endif
