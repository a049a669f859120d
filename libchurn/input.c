/* input.c - a data input by name: a file, stdin or s3://bucket/key */
#define _GNU_SOURCE             /* fopencookie */
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "input.h"

/*
 * s3://: a thread pumps the object into one end of a socket pair (a
 * socket, so that a reader that stops early makes the pump's send fail
 * with EPIPE rather than raise SIGPIPE); the stream reads the other end.
 * At the end of the bytes the pump is joined, and its failure becomes a
 * read error of the stream.
 */
struct pump {
	struct ch_store *store;
	char *key;
	int fd[2];
	pthread_t th;
	int joined, rc;
	int broke;              /* the reader met the failure */
	struct ch_err err;
};

static size_t
pump_sink(const void *p, size_t n, void *arg)
{
	struct pump *x = arg;
	const char *b = p;
	size_t done = 0;
	ssize_t w;

	while (done < n) {
		w = send(x->fd[1], b + done, n - done, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			break;
		done += (size_t)w;
	}
	return done;
}

static void *
pump_run(void *arg)
{
	struct pump *x = arg;

	x->rc = ch_store_stream(x->store, x->key, pump_sink, x, &x->err);
	if (x->rc == 1)
		ch_errf(&x->err, "no such object");
	shutdown(x->fd[1], SHUT_WR);
	return NULL;
}

static void
pump_join(struct pump *x)
{
	if (!x->joined) {
		pthread_join(x->th, NULL);
		x->joined = 1;
	}
}

static ssize_t
pump_read(void *c, char *buf, size_t n)
{
	struct pump *x = c;
	ssize_t r;

	do
		r = read(x->fd[0], buf, n);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		pump_join(x);
		if (x->rc != 0) {
			x->broke = 1;
			errno = EIO;
			return -1;
		}
	}
	return r;
}

static int
pump_close(void *c)
{
	struct pump *x = c;

	close(x->fd[0]);        /* a pump still sending fails and stops */
	pump_join(x);
	close(x->fd[1]);
	return 0;
}

static int
open_s3(struct ch_input *in, const char *url, const struct ch_store_opts *o,
    struct ch_err *e)
{
	static const cookie_io_functions_t io = { pump_read, NULL, NULL,
	    pump_close };
	const char *slash = strchr(url + 5, '/');
	struct pump *x;
	char *bucket;
	size_t len;
	int rc;

	if (!slash || !slash[1])
		return ch_errf(e, "%s: not s3://bucket/key", url);
	x = ch_calloc(1, sizeof *x);
	bucket = ch_strndup(url, (size_t)(slash - url));
	rc = ch_store_open(bucket, o, &x->store, e);
	free(bucket);
	if (rc != 0) {
		free(x);
		return -1;
	}
	x->key = ch_strdup(slash + 1);
	/* fail early and clearly: no such object, no access */
	if ((rc = ch_store_head(x->store, x->key, &len, e)) != 0) {
		if (rc == 1)
			ch_errf(e, "open %s: no such object", url);
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x->fd) != 0) {
		ch_errf(e, "open %s: %s", url, strerror(errno));
		goto fail;
	}
	if (pthread_create(&x->th, NULL, pump_run, x) != 0) {
		ch_errf(e, "open %s: cannot start a thread", url);
		close(x->fd[0]);
		close(x->fd[1]);
		goto fail;
	}
	if (!(in->fp = fopencookie(x, "r", io))) {
		pump_close(x);
		ch_errf(e, "open %s: %s", url, strerror(errno));
		goto fail;
	}
	in->priv = x;
	return 0;
fail:
	ch_store_close(x->store);
	free(x->key);
	free(x);
	return -1;
}

int
ch_input_open(struct ch_input *in, const char *path,
    const struct ch_store_opts *o, struct ch_err *e)
{
	memset(in, 0, sizeof *in);
	in->fd = -1;
	in->name = path;
	if (strcmp(path, "-") == 0) {
		in->fp = stdin;
		in->name = "<stdin>";
	} else if (strncmp(path, "s3://", 5) == 0)
		return open_s3(in, path, o, e);
	else if (!(in->fp = fopen(path, "rb")))
		return ch_errf(e, "open %s: %s", path, strerror(errno));
	in->fd = fileno(in->fp);
	return 0;
}

int
ch_input_close(struct ch_input *in, struct ch_err *e)
{
	struct pump *x = in->priv;
	int rc = 0;

	if (!in->fp)
		return 0;
	if (in->fp != stdin)
		fclose(in->fp);
	in->fp = NULL;
	if (x) {
		if (x->broke)
			rc = ch_errf(e, "read %s: %s", in->name, x->err.msg);
		ch_store_close(x->store);
		free(x->key);
		free(x);
		in->priv = NULL;
	}
	return rc;
}
