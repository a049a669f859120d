/* driftread.h - reading a data set into drift counts
 * Owns the readers (CSV on threads, JSON lines), the prediction sample and
 * per-shard profile files.  Calls drift, csv, schema, model, util, jansson. */
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
 * whatever the number of threads or the order of the rows).  A regular
 * CSV file without quotes is counted straight from its text by jobs
 * threads, each taking byte ranges; other CSV is parsed in blocks by jobs
 * threads (ch_csv_parallel); JSON lines by one.  Both give the same
 * counts.
 */
struct ch_drift_read {
	const struct ch_schema *schema;
	const struct ch_model *model;   /* NULL: no prediction drift */
	int json_lines;                 /* JSON lines instead of CSV */
	int jobs;
	uint64_t pred_sample;           /* 0: score every row */
	int allow_empty;                /* zero rows (a header only, no JSON
	                                   lines) is not an error */
};

/*
 * Streams a CSV file with a header (or JSON lines, one object a line) into
 * d, which must be initialised for r->schema.  Every feature must be a
 * column (or key); other columns are ignored.  Errors name the file, the
 * line and the column: a feature column missing from the header, a
 * number that is not one, a ragged row, no rows at all (unless
 * r->allow_empty; an empty CSV without a header stays one).  With fp, reads
 * fp and path only names it in messages ("-": <stdin>); with fp NULL,
 * opens path.  Returns 0 or -1 with e filled.
 */
int ch_drift_read(const struct ch_drift_read *r, FILE *fp, const char *path,
    struct ch_drift_side *d, struct ch_err *e);

/*
 * The prediction sample before it settles: per hash level L, the rows at
 * level L or above (n, every level) and the prediction codes of those rows
 * (hist, complete from `level` up).  It settles at the lowest level whose
 * rows fit the cap (level 0 with cap 0), so samples of shards or threads
 * added up settle where one read of all their rows would.
 */
#define CH_DRIFT_LEVELS 40
struct ch_drift_sample {
	int level;
	uint64_t cap;                   /* pred_sample; 0: every row */
	uint64_t n[CH_DRIFT_LEVELS];
	uint64_t hist[CH_DRIFT_LEVELS][256];
};

/* Adds b to a. */
void ch_drift_sample_merge(struct ch_drift_sample *a,
    const struct ch_drift_sample *b);

/* A data set's counts with its unsettled prediction sample (NULL: none):
 * what one shard gives, and what shards add up to. */
struct ch_drift_profile {
	struct ch_drift_side side;      /* side.pred empty until settled */
	struct ch_drift_sample *smp;
	int loaded;                     /* profiles loaded into it */
};

void ch_drift_profile_init(struct ch_drift_profile *p,
    const struct ch_schema *s);
void ch_drift_profile_free(struct ch_drift_profile *p);

/* ch_drift_read's reading, adding into p without settling the sample. */
int ch_drift_read_profile(const struct ch_drift_read *r, FILE *fp,
    const char *path, struct ch_drift_profile *p, struct ch_err *e);

/* Puts the settled sample into p->side.pred.  Returns 0 or -1 with e
 * filled (a sample whose histograms start above where it settles). */
int ch_drift_profile_settle(struct ch_drift_profile *p, struct ch_err *e);

/*
 * A profile file (churn-drift --profile-out): format, model_version, rows,
 * per feature its counts per code, missing, unseen values by name, and the
 * prediction sample from its settled level up.  NULL with e filled when an
 * unseen value is not UTF-8.
 */
json_t *ch_drift_profile_json(const struct ch_drift_profile *p,
    const struct ch_model *m, struct ch_err *e);

/* Adds the profile file j (name for messages) to p, initialised for m's
 * schema: the model version, the features and their bins, the sample size
 * and the presence of a sample must all agree.  Returns 0 or -1 with e. */
int ch_drift_profile_load(struct ch_drift_profile *p, json_t *j,
    const char *name, const struct ch_model *m, struct ch_err *e);

#endif
