/* test_store.c - file:// always; s3:// when CHURN_TEST_S3_ENDPOINT is set */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "unit.h"

#include "store.h"

static int
count(char **v)
{
	int n = 0;

	while (v[n])
		n++;
	return n;
}

/* list and remove_all: names one level down, each once; everything
 * below a key removed, its bytes counted */
static void
listing(struct ch_store *s, const char *tag)
{
	struct ch_err e = {{0}};
	unsigned long long bytes = 0;
	char key[128], **v;

	snprintf(key, sizeof key, "%s/l/v1/model.churn", tag);
	ck_assert_int_eq(ch_store_put(s, key, "abcd", 4, &e), 0);
	snprintf(key, sizeof key, "%s/l/v1/manifest.json", tag);
	ck_assert_int_eq(ch_store_put(s, key, "{}", 2, &e), 0);
	snprintf(key, sizeof key, "%s/l/v2/model.churn", tag);
	ck_assert_int_eq(ch_store_put(s, key, "xyz", 3, &e), 0);
	snprintf(key, sizeof key, "%s/l", tag);
	ck_assert_ptr_nonnull(v = ch_store_list(s, key, &e));
	ck_assert_int_eq(count(v), 2);
	ck_assert(ch_strv_has(v, "v1") && ch_strv_has(v, "v2"));
	ch_strv_free(v);
	snprintf(key, sizeof key, "%s/l/v1", tag);
	ck_assert_ptr_nonnull(v = ch_store_list(s, key, &e));
	ck_assert_int_eq(count(v), 2);
	ch_strv_free(v);
	ck_assert_int_eq(ch_store_remove_all(s, key, &bytes, &e), 0);
	ck_assert_uint_eq(bytes, 6);
	snprintf(key, sizeof key, "%s/l", tag);
	ck_assert_ptr_nonnull(v = ch_store_list(s, key, &e));
	ck_assert_int_eq(count(v), 1);
	ck_assert_str_eq(v[0], "v2");
	ch_strv_free(v);
	snprintf(key, sizeof key, "%s/nothing", tag);
	ck_assert_ptr_nonnull(v = ch_store_list(s, key, &e));
	ck_assert_int_eq(count(v), 0);
	ch_strv_free(v);
	ck_assert_int_eq(ch_store_remove_all(s, key, &bytes, &e), 0);
	ck_assert_uint_eq(bytes, 0);
	/* rename: file:// only, replacing a directory in the way */
	snprintf(key, sizeof key, "%s/l/v2", tag);
	if (ch_store_is_local(s)) {
		char to[128];
		unsigned char *got;
		size_t len;

		snprintf(to, sizeof to, "%s/l/v3/model.churn", tag);
		ck_assert_int_eq(ch_store_put(s, to, "old!", 4, &e), 0);
		snprintf(to, sizeof to, "%s/l/v3", tag);
		ck_assert_msg(ch_store_rename(s, key, to, &e) == 0, "%s", e.msg);
		snprintf(to, sizeof to, "%s/l/v3/model.churn", tag);
		ck_assert_int_eq(ch_store_get(s, to, &got, &len, &e), 0);
		ck_assert_str_eq((char *)got, "xyz");
		free(got);
		snprintf(key, sizeof key, "%s/l", tag);
		ck_assert_ptr_nonnull(v = ch_store_list(s, key, &e));
		ck_assert_int_eq(count(v), 1);
		ck_assert_str_eq(v[0], "v3");
		ch_strv_free(v);
	} else
		ck_assert_int_eq(ch_store_rename(s, key, "x", &e), -1);
}

/* The common contract, run against any store. */
static void
roundtrip(struct ch_store *s, const char *tag)
{
	struct ch_err e = {{0}};
	unsigned char blob[3000], *got;
	char key[128];
	size_t len, i;

	for (i = 0; i < sizeof blob; i++)
		blob[i] = (unsigned char)(i * 7 + 3);	/* NUL bytes included */
	snprintf(key, sizeof key, "%s/a/b.bin", tag);
	ck_assert_int_eq(ch_store_put(s, key, blob, sizeof blob, &e), 0);
	ck_assert_int_eq(ch_store_head(s, key, &len, &e), 0);
	ck_assert_uint_eq(len, sizeof blob);
	ck_assert_int_eq(ch_store_get(s, key, &got, &len, &e), 0);
	ck_assert_uint_eq(len, sizeof blob);
	ck_assert_mem_eq(got, blob, sizeof blob);
	free(got);
	/* replace: readers see the new object whole */
	ck_assert_int_eq(ch_store_put(s, key, "xyz", 3, &e), 0);
	ck_assert_int_eq(ch_store_get(s, key, &got, &len, &e), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_str_eq((char *)got, "xyz");
	free(got);
	/* a big one (curl may use Expect: 100-continue) */
	{
		size_t big = 3u << 20;
		unsigned char *bb = malloc(big);
		ck_assert_ptr_nonnull(bb);
		for (i = 0; i < big; i++)
			bb[i] = (unsigned char)(i >> 3);
		snprintf(key, sizeof key, "%s/big", tag);
		ck_assert_msg(ch_store_put(s, key, bb, big, &e) == 0, "%s", e.msg);
		ck_assert_int_eq(ch_store_get(s, key, &got, &len, &e), 0);
		ck_assert_uint_eq(len, big);
		ck_assert_mem_eq(got, bb, big);
		free(got);
		free(bb);
	}
	/* empty object */
	snprintf(key, sizeof key, "%s/empty", tag);
	ck_assert_int_eq(ch_store_put(s, key, "", 0, &e), 0);
	ck_assert_int_eq(ch_store_get(s, key, &got, &len, &e), 0);
	ck_assert_uint_eq(len, 0);
	free(got);
	/* missing is 1, not an error */
	snprintf(key, sizeof key, "%s/nope", tag);
	ck_assert_int_eq(ch_store_get(s, key, &got, &len, &e), 1);
	ck_assert_int_eq(ch_store_head(s, key, &len, &e), 1);
	/* delete */
	snprintf(key, sizeof key, "%s/a/b.bin", tag);
	ck_assert_int_eq(ch_store_delete(s, key, &e), 0);
	ck_assert_int_eq(ch_store_get(s, key, &got, &len, &e), 1);
	ck_assert_int_eq(ch_store_delete(s, key, &e), 0);
	/* keys that could escape the store are refused */
	ck_assert_int_eq(ch_store_put(s, "../x", "a", 1, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "bad store key"));
	ck_assert_int_eq(ch_store_put(s, "/etc/x", "a", 1, &e), -1);
	ck_assert_int_eq(ch_store_put(s, "a b", "a", 1, &e), -1);
	listing(s, tag);
}

START_TEST(file_roundtrip)
{
	struct ch_store *s;
	struct ch_err e = {{0}};
	char url[300];

	unit_tmpdir();
	snprintf(url, sizeof url, "file://%s/store", unit_dir);
	ck_assert_int_eq(ch_store_open(url, NULL, &s, &e), 0);
	ck_assert_int_ne(ch_store_is_local(s), 0);
	ck_assert_str_eq(ch_store_where(s), url);
	ck_assert_int_eq(ch_store_init(s, &e), 0);
	ck_assert_int_eq(ch_store_init(s, &e), 0);
	roundtrip(s, "t");
	ch_store_close(s);
	/* a plain path works too */
	snprintf(url, sizeof url, "%s/plain", unit_dir);
	ck_assert_int_eq(ch_store_open(url, NULL, &s, &e), 0);
	roundtrip(s, "u");
	ch_store_close(s);
	unit_rmdir();
}
END_TEST

START_TEST(bad_urls)
{
	struct ch_store *s;
	struct ch_err e = {{0}};
	struct ch_store_opts o = {.endpoint = "http://127.0.0.1:1",
	    .access_key = "k", .secret_key = "s"};

	ck_assert_int_eq(ch_store_open("ftp://x", NULL, &s, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "unknown scheme"));
	ck_assert_int_eq(ch_store_open("s3://Bad_Bucket/x", &o, &s, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "bad bucket name"));
	ck_assert_int_eq(ch_store_open("s3://b/x", NULL, &s, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "CHURN_S3_ENDPOINT"));
	o.secret_key = NULL;
	ck_assert_int_eq(ch_store_open("s3://b/x", &o, &s, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "AWS_SECRET_ACCESS_KEY"));
	o.secret_key = "s";
	o.endpoint = "127.0.0.1:9000";
	ck_assert_int_eq(ch_store_open("s3://b/x", &o, &s, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "not an http"));
}
END_TEST

/* The lock excludes another process: the child holds it while the parent
 * waits, then sees the child's write. */
START_TEST(file_lock)
{
	struct ch_store *s;
	struct ch_err e = {{0}};
	unsigned char *got;
	size_t len;
	int fds[2], st;
	char c;
	pid_t pid;

	unit_tmpdir();
	ck_assert_int_eq(ch_store_open(unit_dir, NULL, &s, &e), 0);
	ck_assert_int_eq(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		struct ch_store *cs;
		close(fds[0]);
		if (ch_store_open(unit_dir, NULL, &cs, &e) < 0 ||
		    ch_store_lock(cs, "reg/index", &e) < 0)
			_exit(1);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		usleep(200000);
		ch_store_put(cs, "reg/index", "child", 5, &e);
		ch_store_unlock(cs);
		ch_store_close(cs);
		_exit(0);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	ck_assert_int_eq(ch_store_lock(s, "reg/index", &e), 0);
	ck_assert_int_eq(ch_store_get(s, "reg/index", &got, &len, &e), 0);
	ck_assert_str_eq((char *)got, "child");
	free(got);
	ch_store_unlock(s);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(st, 0);
	ch_store_close(s);
	close(fds[0]);
	unit_rmdir();
}
END_TEST

static int
have_s3(void)
{
	return unit_env("CHURN_TEST_S3_ENDPOINT") && unit_env("CHURN_TEST_S3_BUCKET") &&
	    unit_env("AWS_ACCESS_KEY_ID") && unit_env("AWS_SECRET_ACCESS_KEY");
}

static struct ch_store_opts
s3_opts(void)
{
	struct ch_store_opts o = {.endpoint = unit_env("CHURN_TEST_S3_ENDPOINT"),
	    .access_key = unit_env("AWS_ACCESS_KEY_ID"),
	    .secret_key = unit_env("AWS_SECRET_ACCESS_KEY"), .retries = 1};
	return o;
}

START_TEST(s3_roundtrip)
{
	struct ch_store_opts o = s3_opts();
	struct ch_store *s;
	struct ch_err e = {{0}};
	char url[256], where[300];

	snprintf(url, sizeof url, "s3://%s/unit-%ld/x", unit_env("CHURN_TEST_S3_BUCKET"),
	    (long)getpid());
	ck_assert_int_eq(ch_store_open(url, &o, &s, &e), 0);
	ck_assert_int_eq(ch_store_is_local(s), 0);
	snprintf(where, sizeof where, "%s at %s", url, o.endpoint);
	ck_assert_str_eq(ch_store_where(s), where);
	ck_assert_int_eq(ch_store_init(s, &e), 0);
	roundtrip(s, "t");
	ch_store_close(s);
}
END_TEST

START_TEST(s3_new_bucket)
{
	struct ch_store_opts o = s3_opts();
	struct ch_store *s;
	struct ch_err e = {{0}};
	unsigned char *got;
	size_t len;
	char url[256];

	snprintf(url, sizeof url, "s3://fresh-%ld", (long)getpid());
	ck_assert_int_eq(ch_store_open(url, &o, &s, &e), 0);
	/* no bucket yet: a clear message, and no "missing object" */
	ck_assert_int_eq(ch_store_get(s, "k", &got, &len, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "does not exist"));
	ck_assert_ptr_nonnull(strstr(e.msg, o.endpoint));
	ck_assert_int_eq(ch_store_head(s, "k", &len, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "does not exist"));
	ck_assert_int_eq(ch_store_put(s, "k", "v", 1, &e), -1);
	ck_assert_int_eq(ch_store_init(s, &e), 0);
	ck_assert_int_eq(ch_store_init(s, &e), 0);
	ck_assert_int_eq(ch_store_put(s, "k", "v", 1, &e), 0);
	ck_assert_int_eq(ch_store_get(s, "k", &got, &len, &e), 0);
	ck_assert_str_eq((char *)got, "v");
	free(got);
	ch_store_close(s);
}
END_TEST

START_TEST(s3_wrong_secret)
{
	struct ch_store_opts o = s3_opts();
	struct ch_store *s;
	struct ch_err e = {{0}};
	unsigned char *got;
	size_t len;
	char url[256];

	o.secret_key = "not-the-secret-0123";
	snprintf(url, sizeof url, "s3://%s/unit", unit_env("CHURN_TEST_S3_BUCKET"));
	ck_assert_int_eq(ch_store_open(url, &o, &s, &e), 0);
	ck_assert_int_eq(ch_store_put(s, "k", "v", 1, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, o.endpoint));
	ck_assert_ptr_nonnull(strstr(e.msg, "refused"));
	ck_assert_ptr_nonnull(strstr(e.msg, "SignatureDoesNotMatch"));
	ck_assert_ptr_null(strstr(e.msg, "not-the-secret"));
	ck_assert_int_eq(ch_store_get(s, "k", &got, &len, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "403"));
	ch_store_close(s);
}
END_TEST

START_TEST(s3_unreachable)
{
	struct ch_store_opts o = {.endpoint = "http://127.0.0.1:1",
	    .access_key = "k", .secret_key = "s", .retries = 1};
	struct ch_store *s;
	struct ch_err e = {{0}};

	ck_assert_int_eq(ch_store_open("s3://b/p", &o, &s, &e), 0);
	ck_assert_int_eq(ch_store_put(s, "k", "v", 1, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "cannot reach s3 endpoint http://127.0.0.1:1"));
	ch_store_close(s);
}
END_TEST

/*
 * A fake S3 endpoint in a child process: answers the first `fail`
 * requests with 503, the rest with 200 "ok"; returns its port.
 */
static pid_t fake_pid;

static int
fake_server(int fail)
{
	struct sockaddr_in a = {0};
	socklen_t al = sizeof a;
	int ls = socket(AF_INET, SOCK_STREAM, 0), n = 0, one = 1;

	ck_assert_int_ge(ls, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(ls, 8), 0);
	ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&a, &al), 0);
	if ((fake_pid = fork()) == 0) {
		for (;;) {
			char buf[8192];
			const char *resp;
			int c = accept(ls, NULL, NULL);
			size_t got = 0;
			ssize_t r;
			if (c < 0)
				_exit(1);
			/* read the request head (GET: no body) */
			while (got < sizeof buf - 1 &&
			    (r = read(c, buf + got, sizeof buf - 1 - got)) > 0) {
				got += (size_t)r;
				buf[got] = '\0';
				if (strstr(buf, "\r\n\r\n"))
					break;
			}
			resp = n++ < fail ?
			    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" :
			    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
			if (write(c, resp, strlen(resp)) < 0)
				_exit(1);
			close(c);
		}
	}
	close(ls);
	return ntohs(a.sin_port);
}

static void
fake_stop(void)
{
	kill(fake_pid, SIGKILL);
	waitpid(fake_pid, NULL, 0);
}

/* 5xx answers are retried with backoff; enough of them give up, naming
 * the status. */
START_TEST(s3_retries)
{
	struct ch_store_opts o = {.access_key = "k", .secret_key = "s", .retries = 3};
	struct ch_store *s;
	struct ch_err e = {{0}};
	unsigned char *got;
	size_t len;
	char ep[64];

	snprintf(ep, sizeof ep, "http://127.0.0.1:%d", fake_server(2));
	o.endpoint = ep;
	ck_assert_int_eq(ch_store_open("s3://b/p", &o, &s, &e), 0);
	ck_assert_msg(ch_store_get(s, "k", &got, &len, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(len, 2);
	ck_assert_str_eq((char *)got, "ok");
	free(got);
	ch_store_close(s);
	fake_stop();

	snprintf(ep, sizeof ep, "http://127.0.0.1:%d", fake_server(5));
	o.retries = 2;
	ck_assert_int_eq(ch_store_open("s3://b/p", &o, &s, &e), 0);
	ck_assert_int_eq(ch_store_get(s, "k", &got, &len, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "503"));
	ck_assert_ptr_nonnull(strstr(e.msg, ep));
	ch_store_close(s);
	fake_stop();
}
END_TEST

int
main(void)
{
	Suite *su = suite_create("store");
	TCase *tc = tcase_create("file");

	tcase_add_test(tc, file_roundtrip);
	tcase_add_test(tc, file_lock);
	tcase_add_test(tc, bad_urls);
	tcase_add_test(tc, s3_unreachable);
	tcase_add_test(tc, s3_retries);
	suite_add_tcase(su, tc);
	if (have_s3()) {
		tc = tcase_create("s3");
		tcase_set_timeout(tc, 30);
		tcase_add_test(tc, s3_roundtrip);
		tcase_add_test(tc, s3_new_bucket);
		tcase_add_test(tc, s3_wrong_secret);
		suite_add_tcase(su, tc);
	} else
		printf("test_store: s3 tests skipped: CHURN_TEST_S3_ENDPOINT, "
		    "CHURN_TEST_S3_BUCKET, AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY not set\n");
	return unit_run(su);
}
