/* batch.h - batch scoring: a CSV or JSON-lines stream in, answers out
 * Owns streaming, parallel, order-keeping scoring for churn-predict and
 * churn-serve's CSV route (scorer.h is the forest's layout); calls csv,
 * schema, model, util; never prints or exits. */
#ifndef CHURN_BATCH_H
#define CHURN_BATCH_H

#include <stddef.h>
#include <stdio.h>

#include "csv.h"
#include "model.h"
#include "schema.h"
#include "util.h"

/*
 * What to score and where the answers go.  The answers are churn-predict's:
 * CSV "id,churn_probability,churn" with a header (the id is the schema's id
 * column, else "row", the record's line minus one), or with json_out one
 * JSON object a line {"<id>":..,"churn_probability":..,"churn":..,
 * "model_version":..}.  A shard of a larger input is scored with no_header
 * (after the first) and row_offset (the rows before it), so that the
 * shards' answers put together are the whole input's.
 */
struct ch_batch_opts {
	const struct ch_model *m;
	const char *name;        /* input name for messages ("-": "<stdin>") */
	int json_in;             /* JSON lines in, else CSV with a header */
	int json_out;            /* JSON lines out, else CSV */
	int skip_bad;            /* a bad row is skipped (warn), else fails the run */
	double threshold;        /* churn when p >= threshold */
	int jobs;                /* threads, at least 1 */
	int no_header;           /* CSV out without its header line */
	long row_offset;         /* added to row numbers used as ids */
	/* The answers' text, in input order, on the calling thread; a
	 * nonzero return stops the run with e filled. */
	int (*out)(void *arg, const char *s, size_t n, struct ch_err *e);
	/* A warning, in input order, on the calling thread: a bad row
	 * skipped ("file:line: why (skipped)"), or a numeric cell that is not
	 * a number, scored as missing ("file:line: column 'x': 'abc' is not
	 * a number, scored as missing").  May be NULL. */
	void (*warn)(void *arg, const char *msg);
	/* Each scored CSV row with its probability, on a worker thread, in
	 * any order.  May be NULL. */
	void (*row)(void *arg, const struct ch_record *rec,
	    const struct ch_cols *c, double p);
	void *arg;
	struct ch_progress *progress;   /* rows done, or NULL */
};

/* What a run found.  unseen is the caller's (NULL or [nfeat] zeroed):
 * values of categories unseen in training, per feature. */
struct ch_batch_stats {
	size_t rows, skipped;
	size_t *unseen;
	int bad;                 /* after a failure: the feature at fault, or -1 */
	int bad_row;             /* after a failure: 1 when a row's content is at
	                            fault, 0 when the reading (syntax, I/O) is */
};

/*
 * Scores every row of fp: CSV in blocks on o->jobs threads (csv.c's
 * parallel reader), JSON lines read on the calling thread and scored in
 * batches on o->jobs threads; either way the answers keep the input's
 * order and memory stays flat.  Rows are encoded by schema.c's encoders,
 * so messages read "file:line: column 'x': 'abc' is not a number".
 * Returns 0, or -1 with e filled (and st->bad, st->bad_row).
 */
int ch_batch_score(FILE *fp, const struct ch_batch_opts *o,
    struct ch_batch_stats *st, struct ch_err *e);

#endif
