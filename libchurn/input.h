/* input.h - a data input by name: a file, "-" (stdin) or s3://bucket/key,
 * streamed; the one way churn-predict and churn-drift open what they read.
 * Calls store (for s3://). */
#ifndef CHURN_INPUT_H
#define CHURN_INPUT_H

#include <stdio.h>

#include "store.h"
#include "util.h"

struct ch_input {
	FILE *fp;           /* read it like any stream */
	const char *name;   /* for messages: the path, "<stdin>" or the URL */
	int fd;             /* the file's descriptor for progress, or -1 */
	void *priv;
};

/*
 * Opens path: "-" is stdin, "s3://bucket/key" is fetched from the S3
 * endpoint in o (CHURN_S3_ENDPOINT and the AWS_* keys, as
 * ch_registry_opts_fill finds them) and streamed as it arrives, in
 * constant memory; anything else is a file.  A missing object or a
 * refusal fails here.  Returns 0 or -1 with e filled.
 */
int ch_input_open(struct ch_input *in, const char *path,
    const struct ch_store_opts *o, struct ch_err *e);

/*
 * Closes the input.  Returns -1 with e filled when an s3:// stream broke
 * on the way (the reader saw a read error or an early end), else 0: call
 * it before reporting a reader's error, whose message it explains.
 */
int ch_input_close(struct ch_input *in, struct ch_err *e);

#endif
