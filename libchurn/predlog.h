/* predlog.h - the prediction log: scored rows kept with the registry for
 * joining with outcomes; calls store.h, registry.h (and its database) */
#ifndef CHURN_PREDLOG_H
#define CHURN_PREDLOG_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "registry.h"

/*
 * Every scored row worth judging later: who (customer id), when, which
 * model version, the churn probability and the model's features as the
 * customer's fields were received (a JSON object).  It lives with the
 * registry, so churn-models and the pipeline read it from any machine:
 *
 *   - a database configured: table churn_predictions;
 *   - otherwise append-only segment objects in the store (file:// or
 *     s3://), one per append and UTC day, named by the second written and
 *     16 hex digits unique to the segment (before: of its content's hash;
 *     readers take any name):
 *       predictions/<YYYY-MM-DD>/<YYYYMMDDTHHMMSSZ>-<16 hex>.jsonl
 *     one row a line: {"id","time","model_version","probability",
 *     "features"[,"shadow_version","shadow_probability"]}.  Segments
 *     are never rewritten; pruning deletes whole days.
 *
 * In shadow rollout mode the champion answers and the challenger scores
 * the same row too: its version and probability are kept beside the
 * champion's (shadow_version, shadow_p; NULL and NAN otherwise, also in
 * rows written before the fields existed).
 *
 * Rows are kept CH_PREDLOG_RETAIN_DAYS days by default (labels arrive
 * weeks after the prediction); ch_predlog_prune applies a retention.
 */
#define CH_PREDLOG_RETAIN_DAYS 180

struct ch_pred {
	char *id;
	time_t time;
	char *version;
	double p;
	json_t *features;   /* an object (owned); may be NULL when not read */
	char *shadow_version;   /* the shadow challenger's, or NULL */
	double shadow_p;        /* its probability; read only with a version
	                         * (ch_predlog_read gives NAN without one) */
};

/*
 * Appends rows[0..n) as one batch: one INSERT (a transaction), or one
 * segment object per UTC day among the rows.  Ids must be non-empty.
 * Returns 0 or -1 with e filled (nothing, or for the store only whole
 * earlier days' segments, written).
 */
int ch_predlog_append(struct ch_registry *r, const struct ch_pred *rows,
    size_t n, struct ch_err *e);

/*
 * The same for rows already in the segments' form, one JSON object a
 * line (len bytes; no blank line), every one of them of the UTC day of
 * day: for a writer that encodes its rows itself (churn-serve).  The
 * lines are trusted to be rows: a line that is not one fails later
 * readers.  Lines ending in a newline go to the store as they are (no
 * copy).  Returns 0 or -1 with e filled (nothing written).
 */
int ch_predlog_append_jsonl(struct ch_registry *r, const char *lines,
    size_t len, time_t day, struct ch_err *e);

/*
 * Reads the rows with from <= time < to (to 0: no upper bound) into a
 * malloc'd array sorted by (id, time); with_features 0 leaves features
 * NULL (cheaper).  Free with ch_pred_free.  Returns 0 or -1.
 */
int ch_predlog_read(struct ch_registry *r, time_t from, time_t to,
    int with_features, struct ch_pred **rows, size_t *n, struct ch_err *e);
void ch_pred_free(struct ch_pred *rows, size_t n);

/*
 * Marks in found[i] (0/1) whether ids[i] was ever scored (any row in the
 * log).  Returns 0 or -1.
 */
int ch_predlog_scored(struct ch_registry *r, char *const *ids, size_t n,
    unsigned char *found, struct ch_err *e);

/* Deletes rows older than days days before now (whole UTC days for the
 * store); *removed (may be NULL) gets the rows (database) or days
 * (store) removed.  days <= 0 keeps everything. */
int ch_predlog_prune(struct ch_registry *r, long days, time_t now,
    size_t *removed, struct ch_err *e);

/*
 * Scores a CSV (or, json_lines, JSON lines) file with model m and appends
 * every row to the log at time now, in batches of 10,000 rows: what
 * `churn-predict --record` does beside its output.  Rows without an id
 * column/key are refused (an outcome can only be joined by id); a row
 * that does not encode, or has an empty id, is an error (file:line), or
 * with skip_bad left out.  *rows (may be NULL) gets the number recorded.
 * Returns 0 or -1.
 */
struct ch_model;
int ch_predlog_record_file(struct ch_registry *r, const struct ch_model *m,
    const char *path, int json_lines, int skip_bad, time_t now, size_t *rows,
    struct ch_err *e);

/* Times: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS" with an optional fraction
 * and "Z" or "+00:00" (a space may stand for the T); UTC.  Returns 0 or
 * -1.  ch_iso8601 (util.h) writes them back. */
int ch_time_parse(const char *s, size_t len, time_t *t);

#endif
