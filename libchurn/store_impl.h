/*
 * store_impl.h - inside the store: the handle, shared by store.c (the
 * interface, dispatch and the file:// store) and store_s3.c (the S3
 * client, which may call check_key, strv_add and libcurl); only store*.c include it.
 */
#ifndef CHURN_STORE_IMPL_H
#define CHURN_STORE_IMPL_H

#include <curl/curl.h>

#include "store.h"

enum { LOCAL, S3 };

struct ch_store {
	int kind;
	char *where;       /* for messages */
	/* file:// */
	char *root;
	int lockfd;
	/* s3:// */
	char *endpoint;    /* no trailing '/' */
	char *bucket;
	char *prefix;      /* "" or "a/b/" */
	char *region;
	char *access_key;
	char *secret_key;
	char *token_header; /* "x-amz-security-token: ..." or NULL */
	int retries;
	long timeout_s;
	CURL *curl;
	int locked;
};

/* store.c: 0 when key is a safe relative key, else -1 (e may be NULL). */
int check_key(const char *key, struct ch_err *e);
/* store.c: adds name to the NULL-terminated vector *v of *n names, once. */
void strv_add(char ***v, size_t *n, const char *name, size_t len);

/* store_s3.c: the S3 halves of store.h's calls, with the same contracts
 * (keys already checked); s3_open fills the handle ch_store_open made
 * (on -1 the caller closes it). */
int s3_open(struct ch_store *s, const char *url, const struct ch_store_opts *o,
    struct ch_err *e);
int s3_init(struct ch_store *s, struct ch_err *e);
int s3_put(struct ch_store *s, const char *key, const void *buf, size_t len,
    struct ch_err *e);
int s3_get(struct ch_store *s, const char *key, unsigned char **buf,
    size_t *len, struct ch_err *e);
int s3_head(struct ch_store *s, const char *key, size_t *len, struct ch_err *e);
int s3_delete(struct ch_store *s, const char *key, struct ch_err *e);
char **s3_list_names(struct ch_store *s, const char *dir, struct ch_err *e);
int s3_remove_all(struct ch_store *s, const char *key, unsigned long long *bytes,
    struct ch_err *e);
int s3_stream(struct ch_store *s, const char *key,
    size_t (*sink)(const void *, size_t, void *), void *arg, struct ch_err *e);

#endif
