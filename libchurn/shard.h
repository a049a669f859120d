/* shard.h - training on shards: a summary of each shard's columns, one
 * binning merged from the summaries, and the forests grown per shard on
 * it merged into one model.
 * Calls csv, frame, schema, model, forest, scorer, metrics, input and store
 * (s3:// summaries and prefixes), util. */
#ifndef CHURN_SHARD_H
#define CHURN_SHARD_H

#include <stdio.h>

#include <jansson.h>

#include "frame.h"
#include "model.h"
#include "store.h"
#include "train.h"

/*
 * A column with at most CH_SKETCH_K distinct values is summarised exactly
 * (each value's text and count).  A numeric column with more is kept as a
 * quantile sketch of at most CH_SKETCH_K points: its values in order, cut
 * into blocks of t = ceil(rows / CH_SKETCH_K) rows or more, each block one
 * point (its largest value, its row count).  For any x the rows at or below
 * x that the sketch counts are short of the true count by less than t (a
 * block's rows below its own point), never over; merged sketches add their
 * points, so the merged count is short by less than the sum of their t's:
 * under rows / CH_SKETCH_K in all, 1/4096 of the rows at any edge.  The
 * categories of a text column are always counted exactly.
 */
#define CH_SKETCH_K 4096

/*
 * Reads a labelled CSV shard (named name in messages) in one pass, in
 * memory in proportion to its distinct values, and returns its summary
 * (new reference): the target, id and positive label, the rows and
 * positives, and each feature column's missing count and exact values or
 * sketch ("churn_summary": 1; churn-train(1) describes it).  o gives the
 * target, id, positive label, dropped and forced columns as for training.
 * Returns 0 or -1 with e filled (file, line and column).
 */
int ch_shard_summary(FILE *fp, const char *name, const struct ch_frame_opts *o,
    json_t **out, struct ch_err *e);

/*
 * The binning of the data that summaries sums[0..n) (named names[i] in
 * messages) describe together: the schema a single run over all their rows
 * would infer (types, bins, categories, ranges) -- the same one when every
 * column was summarised exactly; edges within the sketches' error bound
 * otherwise.  o gives --bins (max_bins) and the forced --numeric and
 * --categorical columns.  The reference profiles are empty (counted when a
 * shard is read with it).  *info (new reference) tells the rows, shards
 * and each approximate column's bound on the rank error.  Returns 0 or -1
 * with e filled (summaries that disagree on the target or the columns).
 */
int ch_shard_bins(json_t *const *sums, char *const *names, size_t n,
    const struct ch_frame_opts *o, struct ch_schema **out, json_t **info,
    struct ch_err *e);

/*
 * Reads summaries from a list of paths, or every object under an s3://
 * prefix (a list of one "s3://bucket/prefix/" item, in key order; so
 * opened with so), and merges them as ch_shard_bins.  Returns 0 or -1.
 */
int ch_shard_bins_from(char *const *paths, const struct ch_store_opts *so,
    const struct ch_frame_opts *o, struct ch_schema **out, json_t **info,
    struct ch_err *e);

/*
 * Reads a labelled CSV shard coded with the bins of s (a copy of s becomes
 * the frame's schema, its reference profiles counted on the shard's rows).
 * Returns 0 or -1 with e filled.
 */
int ch_shard_frame_load(FILE *fp, const char *name, const struct ch_schema *s,
    const struct ch_frame_opts *o, struct ch_frame **out, struct ch_err *e);

/* What churn-train --merge does. */
struct ch_merge_opts {
	char *const *parts;      /* the forests' model files */
	size_t nparts;
	const char *valid;       /* a labelled CSV to measure the result, or NULL */
	double threshold;
	int jobs;
	time_t now;
	const char *output;
};

/*
 * Merges forests grown on shards with one binning (ch_shard_bins) into one
 * model written to o->output: the trees concatenated, each shard's trees
 * voting in proportion to its rows (a part with more trees per row than
 * the fewest keeps its first ones, in proportion), the reference profiles
 * summed, no calibration, o->threshold; measured on o->valid when given.
 * Boosted trees do not merge (each round corrects the rounds before it):
 * a part that is not a forest, or binned otherwise, fails.  r is filled as
 * by ch_train (free with ch_train_result_free).  Returns 0 or -1.
 */
int ch_shard_merge(const struct ch_merge_opts *o, struct ch_train_result *r,
    struct ch_err *e);

/*
 * The objects under an s3:// prefix ("s3://bucket/dir/"), as URLs in key
 * order (NULL-terminated; free with ch_strv_free), through the store
 * opened with so.  NULL with e filled on error or when there are none.
 */
char **ch_shard_list(const char *prefix, const struct ch_store_opts *so,
    struct ch_err *e);

#endif
