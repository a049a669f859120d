/* store.h - artifact stores: a local directory (file://) or an S3 bucket
 * Owns keys, put/get/stream/list/remove/rename and the store lock; store.c
 * (file://) and store_s3.c (S3 through libcurl's SigV4) call util only. */
#ifndef CHURN_STORE_H
#define CHURN_STORE_H

#include <stddef.h>

#include "util.h"

/*
 * An artifact store holds whole objects named by keys ("models/v1/model.churn").
 * Two kinds, chosen by URL:
 *
 *   file:///abs/dir, file://rel/dir or a plain path   a local directory
 *   s3://bucket[/prefix]                               an S3-compatible bucket
 *
 * For s3:// the endpoint (e.g. "http://127.0.0.1:9000") and credentials
 * come in struct ch_store_opts; requests use path-style URLs and AWS SigV4
 * (libcurl's CURLOPT_AWS_SIGV4), send x-amz-content-sha256 with the body's
 * SHA-256, and retry with backoff on connection errors and 5xx answers.
 * The library reads no environment: the caller passes everything.
 *
 * Messages name the store and the endpoint, never a secret.
 * A handle is not safe for concurrent use by several threads.
 */
struct ch_store;

struct ch_store_opts {
	const char *endpoint;    /* s3:// only: http(s)://host:port */
	const char *region;      /* default "us-east-1" */
	const char *access_key;  /* AWS_ACCESS_KEY_ID */
	const char *secret_key;  /* AWS_SECRET_ACCESS_KEY */
	const char *session_token; /* AWS_SESSION_TOKEN (temporary credentials:
	                            sent signed as x-amz-security-token), or NULL */
	int retries;             /* extra attempts on 5xx/connection errors;
	                            0 = default (3), negative = none */
	long timeout_s;          /* per attempt, connecting included;
	                            0 = default (30; connecting at most 10) */
};

/* Opens a store by URL (opts may be NULL for file://).  Nothing is
 * contacted yet.  Returns 0, or -1 with e filled (bad URL, s3:// without
 * endpoint or credentials). */
int ch_store_open(const char *url, const struct ch_store_opts *opts,
    struct ch_store **out, struct ch_err *e);
void ch_store_close(struct ch_store *s);

/* "file:///abs/dir" or "s3://bucket/prefix at http://host:port", for
 * messages. */
const char *ch_store_where(const struct ch_store *s);
/* Nonzero for a local directory store. */
int ch_store_is_local(const struct ch_store *s);

/* Creates the directory or the bucket when missing (idempotent). */
int ch_store_init(struct ch_store *s, struct ch_err *e);

/* Stores len bytes under key, replacing any object there; atomic for
 * readers (temp file + fsync + rename, or one PUT). */
int ch_store_put(struct ch_store *s, const char *key, const void *buf,
    size_t len, struct ch_err *e);

/* Reads the object at key into a malloc'd buffer (NUL added, not counted).
 * Returns 0, 1 when there is no such object (e left empty) or -1. */
int ch_store_get(struct ch_store *s, const char *key, unsigned char **buf,
    size_t *len, struct ch_err *e);

/* Streams the object at key to sink, piece by piece as it arrives (a
 * sink that takes fewer bytes than given stops it).  No retry once a byte
 * went out, and no limit on the whole time: only a stall as long as the
 * store's timeout ends it.  Returns 0, 1 when there is no such object, or
 * -1 with e filled. */
int ch_store_stream(struct ch_store *s, const char *key,
    size_t (*sink)(const void *, size_t, void *), void *arg, struct ch_err *e);

/* Size of the object: 0 and *len set, 1 when missing, -1 on error. */
int ch_store_head(struct ch_store *s, const char *key, size_t *len,
    struct ch_err *e);

/* Removes the object (missing is fine). */
int ch_store_delete(struct ch_store *s, const char *key, struct ch_err *e);

/*
 * The names one level below the "directory" dir ("models" gives "v1",
 * ".push-12", ...), each once, as a NULL-terminated vector to free with
 * ch_strv_free; empty when there is nothing below dir.  file:// reads the
 * directory; s3:// lists the keys under "dir/" with delimiter '/'.
 * NULL with e filled on error.
 */
char **ch_store_list(struct ch_store *s, const char *dir, struct ch_err *e);

/* Removes the object at key and every object below "key/" (missing is
 * fine); *bytes (may be NULL) receives the bytes they held. */
int ch_store_remove_all(struct ch_store *s, const char *key,
    unsigned long long *bytes, struct ch_err *e);

/*
 * file:// only: moves the object or directory from to to in one rename(2),
 * so that readers see either nothing or all of it; a directory already at
 * to is moved aside first and removed after.  s3:// has no rename and
 * fails.
 */
int ch_store_rename(struct ch_store *s, const char *from, const char *to,
    struct ch_err *e);

/*
 * Exclusive lock for read-modify-write of a small object (the registry
 * index).  file:// takes flock(2) on "<dir>/<key>.lock", waiting for it;
 * s3:// has no lock primitive and takes only a process-local lock
 * (documented: use a database for several writers on S3).
 */
int ch_store_lock(struct ch_store *s, const char *key, struct ch_err *e);
void ch_store_unlock(struct ch_store *s);

#endif
