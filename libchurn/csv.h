/* csv.h - streaming CSV records (RFC 4180, through libcsv)
 * Owns the one CSV reader every tool uses: records, line numbers, the
 * header's checks, NUL refusal, parallel blocks.  Calls util and libcsv. */
#ifndef CHURN_CSV_H
#define CHURN_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "util.h"

/*
 * A reader streams records from a FILE in fixed-size chunks: memory stays
 * flat however long the input.  RFC 4180 quoting (quoted commas, doubled
 * quotes, newlines inside quotes), LF, CRLF or CR line ends (each one
 * line for the line numbers) and a UTF-8 byte-order mark are handled;
 * blank lines are skipped.  A NUL byte anywhere is refused with one
 * message, "file:line: column 'x': a NUL byte in the value".  The reader
 * also keeps a SHA-256 of every byte it read (the data fingerprint).
 *
 *	struct ch_csv *r = ch_csv_open(stdin, "-", &err);
 *	struct ch_record rec;
 *	if (ch_csv_header(r, &rec, &err) != 0) ...
 *	while ((rc = ch_csv_next(r, &rec, &err)) > 0)
 *		use(rec.field[0], rec.len[0]);
 */
struct ch_record {
	char **field;   /* NUL-terminated field texts, valid until the next call */
	size_t *len;    /* their lengths */
	size_t n;       /* number of fields */
	long line;      /* line number (1-based) where the record ends */
};

struct ch_csv;

/* name is used in messages only ("-" reads as "<stdin>").  The reader does
 * not close fp. */
struct ch_csv *ch_csv_open(FILE *fp, const char *name, struct ch_err *e);

/* Returns 1 with rec filled, 0 at end of input, -1 on a read or syntax
 * error ("file:line: ..." in e). */
int ch_csv_next(struct ch_csv *r, struct ch_record *rec, struct ch_err *e);

/* Reads the first record as the header: an empty input fails ("file:
 * empty file (no header)"), and so does a name that appears twice
 * ("file:1: column 'x' appears twice").  The names are kept to name the
 * column of a later NUL byte.  Returns 0 with hdr filled, or -1. */
int ch_csv_header(struct ch_csv *r, struct ch_record *hdr, struct ch_err *e);

/* Every record through libcsv: whole unquoted lines are otherwise split
 * by a faster path giving the same records (tests compare the two). */
void ch_csv_libcsv_only(struct ch_csv *r);

/* Records handed out by ch_csv_next since the header (or the start). */
size_t ch_csv_rows(const struct ch_csv *r);

/* The name given to ch_csv_open, for messages. */
const char *ch_csv_name(const struct ch_csv *r);

/* SHA-256 hex of all bytes consumed so far (complete once next gave 0). */
void ch_csv_sha256(struct ch_csv *r, char hex[65]);

void ch_csv_close(struct ch_csv *r);

/*
 * Parallel parsing.  ch_csv_parallel reads fp itself: it hands the header
 * record (checked as ch_csv_header does) to ops->header, then cuts the
 * rest of the input into blocks of whole records (a line end is a record
 * boundary when an even number of quotes precedes it) and has `jobs`
 * threads parse them, each with its own reader over a block: the records
 * and line numbers are those ch_csv_next gives.  ops->block runs on a worker thread with that
 * thread's state (ops->worker_new) and returns a result; ops->emit gets the
 * results in input order on the calling thread, so output keeps the order
 * of the input.  The first error in input order stops the run.  Memory
 * stays bounded: a few blocks per thread are in flight.  Bytes after the
 * header's line end that give no record (blank lines) fail ("file: no data
 * rows after the header"); a header alone is a success.  Returns 0, or -1 with e filled.
 */
struct ch_csv_ops {
	int (*header)(void *ctx, const struct ch_record *hdr, struct ch_err *e);
	void *(*worker_new)(void *ctx);
	int (*block)(void *worker, struct ch_csv *r, void **result,
	    struct ch_err *e);
	int (*emit)(void *ctx, void *result, struct ch_err *e);
	void (*discard)(void *ctx, void *result);  /* results not emitted */
	void (*worker_free)(void *worker);
};

int ch_csv_parallel(FILE *fp, const char *name, int jobs,
    const struct ch_csv_ops *ops, void *ctx, struct ch_err *e);

#endif
