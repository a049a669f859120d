/* outcomes.h - customer outcomes (did the customer leave?) kept with the
 * registry; calls csv.h, frame.h (labels), predlog.h, registry.h, store.h */
#ifndef CHURN_OUTCOMES_H
#define CHURN_OUTCOMES_H

#include <stddef.h>
#include <time.h>

#include "registry.h"

/*
 * An outcome says that customer id left (1) or stayed (0) as of time.  The
 * key is (id, time): recording the same file twice changes nothing.
 *
 * Where they live:
 *   - a database configured: table churn_outcomes (primary key
 *     (customer_id, time); a repeated key is skipped, ON CONFLICT DO
 *     NOTHING);
 *   - otherwise append-only objects in the store (file:// or s3://), one
 *     per recorded file and holding only its new rows:
 *       outcomes/<YYYYMMDDTHHMMSSZ>-<16 hex>.jsonl
 *     one {"id","time","outcome"} a line; readers keep the first row of a
 *     key (dedupe on read).  Not in the registry's index file.
 */
struct ch_outcome {
	char *id;
	time_t time;
	int outcome;        /* 1 churned, 0 stayed */
};

#define CH_OUTCOME_ID_MAX 256

struct ch_outcomes_opts {
	const char *positive;  /* positive label (churn-train's --positive);
	                          NULL: Yes/1/true/... as ch_label */
	time_t default_time;   /* for rows without a time */
};

struct ch_outcomes_stats {
	size_t rows;        /* rows in the file */
	size_t recorded;    /* new keys stored */
	size_t duplicates;  /* keys already recorded (or twice in the file) */
	size_t unmatched;   /* ids never scored (no row in the prediction log),
	                       kept all the same */
	size_t positives;   /* rows with outcome 1 */
};

/*
 * Parses buf (len bytes, name for messages) as CSV with a header or JSON
 * lines (the first non-blank byte '{'), into a malloc'd array (free with
 * ch_outcomes_free).  CSV columns by name: the id is "id", "customer_id"
 * or "customerID"; the outcome "outcome", "churn" or "Churn"; the time
 * (optional) "time"; other columns are ignored.  JSON lines use the keys
 * "id", "outcome" (a label string, a boolean or 0/1) and "time".
 * The first bad row fails the whole file with e naming name:line and the
 * column: a ragged row, an unknown label, an empty, non-UTF-8 or over-long
 * (CH_OUTCOME_ID_MAX bytes) id, a time that is not one.  Returns 0 or -1.
 */
int ch_outcomes_parse(const char *buf, size_t len, const char *name,
    const struct ch_outcomes_opts *o, struct ch_outcome **rows, size_t *n,
    struct ch_err *e);

/* Records rows[0..n) as one transaction (one INSERT, or one object) and
 * fills st.  Returns 0 or -1 with nothing recorded. */
int ch_outcomes_record(struct ch_registry *r, const struct ch_outcome *rows,
    size_t n, struct ch_outcomes_stats *st, struct ch_err *e);

/* Parse and record: what churn-outcomes and POST /outcomes do. */
int ch_outcomes_load(struct ch_registry *r, const char *buf, size_t len,
    const char *name, const struct ch_outcomes_opts *o,
    struct ch_outcomes_stats *st, struct ch_err *e);

/* Every recorded outcome, one per key, sorted by (id, time). */
int ch_outcomes_read(struct ch_registry *r, struct ch_outcome **rows,
    size_t *n, struct ch_err *e);

void ch_outcomes_free(struct ch_outcome *rows, size_t n);

#endif
