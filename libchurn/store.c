/* store.c - artifact stores: a local directory (file://) or an S3 bucket */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
	int retries;
	long timeout_s;
	CURL *curl;
	int locked;
	const char *list_query;  /* ch_store_list: the bucket GET's query */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t s3_lock = PTHREAD_MUTEX_INITIALIZER;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Keys are relative, '/'-separated names of safe characters; no "..". */
static int
check_key(const char *key, struct ch_err *e)
{
	const char *p;

	if (!key || !*key || key[0] == '/' || strstr(key, ".."))
		return ch_errf(e, "bad store key '%s'", key ? key : "");
	for (p = key; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') ||
		    ('0' <= *p && *p <= '9') || strchr("/._-", *p)))
			return ch_errf(e, "bad store key '%s'", key);
	return 0;
}

int
ch_store_open(const char *url, const struct ch_store_opts *o,
    struct ch_store **out, struct ch_err *e)
{
	struct ch_store *s;
	const char *p, *slash;
	size_t n;

	*out = NULL;
	if (!url || !*url)
		return ch_errf(e, "empty store URL");
	s = ch_calloc(1, sizeof *s);
	s->lockfd = -1;
	if (strncmp(url, "s3://", 5) == 0) {
		s->kind = S3;
		p = url + 5;
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		s->bucket = ch_strndup(p, n);
		if (n == 0 || n > 63 || strspn(s->bucket,
		    "abcdefghijklmnopqrstuvwxyz0123456789.-") != n) {
			ch_errf(e, "store '%s': bad bucket name '%s'", url, s->bucket);
			goto bad;
		}
		p = slash ? slash + 1 : "";
		while (*p == '/')
			p++;
		n = strlen(p);
		while (n > 0 && p[n - 1] == '/')
			n--;
		s->prefix = ch_malloc(n + 2);
		memcpy(s->prefix, p, n);
		if (n)
			s->prefix[n++] = '/';
		s->prefix[n] = '\0';
		if (n && check_key(s->prefix, NULL) < 0) {
			ch_errf(e, "store '%s': bad prefix '%s'", url, s->prefix);
			goto bad;
		}
		if (!o || !o->endpoint || !*o->endpoint) {
			ch_errf(e, "store '%s': no s3 endpoint given (set CHURN_S3_ENDPOINT)", url);
			goto bad;
		}
		if (strncmp(o->endpoint, "http://", 7) != 0 &&
		    strncmp(o->endpoint, "https://", 8) != 0) {
			ch_errf(e, "s3 endpoint '%s' is not an http:// or https:// URL", o->endpoint);
			goto bad;
		}
		if (!o->access_key || !*o->access_key || !o->secret_key || !*o->secret_key) {
			ch_errf(e, "store '%s': no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", url);
			goto bad;
		}
		s->endpoint = ch_strdup(o->endpoint);
		n = strlen(s->endpoint);
		while (n > 0 && s->endpoint[n - 1] == '/')
			s->endpoint[--n] = '\0';
		s->region = ch_strdup(o->region && *o->region ? o->region : "us-east-1");
		s->access_key = ch_strdup(o->access_key);
		s->secret_key = ch_strdup(o->secret_key);
		s->retries = o->retries < 0 ? 0 : o->retries > 0 ? o->retries : 3;
		s->timeout_s = o->timeout_s > 0 ? o->timeout_s : 30;
		n = strlen(url) + strlen(s->endpoint) + 8;
		s->where = ch_malloc(n);
		snprintf(s->where, n, "%s at %s", url, s->endpoint);
		pthread_once(&curl_once, curl_init_once);
		if (!(s->curl = curl_easy_init())) {
			ch_errf(e, "cannot initialise libcurl");
			goto bad;
		}
	} else {
		s->kind = LOCAL;
		if (strncmp(url, "file://", 7) == 0)
			p = url + 7;
		else if (strstr(url, "://")) {
			ch_errf(e, "store '%s': unknown scheme (use file:// or s3://)", url);
			goto bad;
		} else
			p = url;
		if (!*p) {
			ch_errf(e, "store '%s': empty path", url);
			goto bad;
		}
		s->root = ch_strdup(p);
		n = strlen(s->root);
		while (n > 1 && s->root[n - 1] == '/')
			s->root[--n] = '\0';
		n = strlen(s->root) + 8;
		s->where = ch_malloc(n);
		snprintf(s->where, n, "file://%s", s->root);
	}
	*out = s;
	return 0;
bad:
	ch_store_close(s);
	return -1;
}

void
ch_store_close(struct ch_store *s)
{
	if (!s)
		return;
	ch_store_unlock(s);
	if (s->curl)
		curl_easy_cleanup(s->curl);
	if (s->secret_key) {
		/* leave no secret behind in freed memory */
		volatile char *v = s->secret_key;
		while (*v)
			*v++ = '\0';
	}
	free(s->where);
	free(s->root);
	free(s->endpoint);
	free(s->bucket);
	free(s->prefix);
	free(s->region);
	free(s->access_key);
	free(s->secret_key);
	free(s);
}

const char *
ch_store_where(const struct ch_store *s)
{
	return s->where;
}

int
ch_store_is_local(const struct ch_store *s)
{
	return s->kind == LOCAL;
}

/* ---- file:// ---- */

static char *
local_path(const struct ch_store *s, const char *key)
{
	size_t n = strlen(s->root) + strlen(key) + 2;
	char *p = ch_malloc(n);

	snprintf(p, n, "%s/%s", s->root, key);
	return p;
}

/* mkdir -p of the directories above path (path itself is a file). */
static int
mkdirs_for(const char *path, struct ch_err *e)
{
	char *d = ch_strdup(path), *p;

	for (p = d + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(d, 0777) < 0 && errno != EEXIST) {
			ch_errf(e, "cannot create directory '%s': %s", d, strerror(errno));
			free(d);
			return -1;
		}
		*p = '/';
	}
	free(d);
	return 0;
}

static int
local_init(struct ch_store *s, struct ch_err *e)
{
	char *p = local_path(s, "x");
	int rc = mkdirs_for(p, e);

	free(p);
	return rc;
}

static int
local_put(struct ch_store *s, const char *key, const void *buf, size_t len,
    struct ch_err *e)
{
	char *p = local_path(s, key);
	int rc = mkdirs_for(p, e);

	if (rc == 0)
		rc = ch_write_atomic(p, buf, len, e);
	free(p);
	return rc;
}

static int
local_get(struct ch_store *s, const char *key, unsigned char **buf, size_t *len,
    struct ch_err *e)
{
	char *p = local_path(s, key);
	unsigned char *b = NULL;
	size_t n = 0, cap = 0;
	ssize_t r;
	int fd;

	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
		int rc = errno == ENOENT ? 1 : ch_errf(e, "%s: %s", p, strerror(errno));
		free(p);
		return rc;
	}
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 65536;
			b = ch_realloc(b, cap + 1);
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ch_errf(e, "%s: read: %s", p, strerror(errno));
			free(b);
			close(fd);
			free(p);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	free(p);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

static int
local_head(struct ch_store *s, const char *key, size_t *len, struct ch_err *e)
{
	char *p = local_path(s, key);
	struct stat st;
	int rc = 0;

	if (stat(p, &st) < 0)
		rc = errno == ENOENT ? 1 : ch_errf(e, "%s: %s", p, strerror(errno));
	else
		*len = (size_t)st.st_size;
	free(p);
	return rc;
}

static int
local_delete(struct ch_store *s, const char *key, struct ch_err *e)
{
	char *p = local_path(s, key);
	int rc = 0;

	if (unlink(p) < 0 && errno != ENOENT)
		rc = ch_errf(e, "%s: %s", p, strerror(errno));
	free(p);
	return rc;
}

/* ---- s3:// ---- */

struct membuf {
	unsigned char *b;
	size_t n, cap;
};

static size_t
collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct membuf *m = ud;
	size_t n = size * nmemb;

	if (m->cap - m->n < n + 1) {
		while (m->cap - m->n < n + 1)
			m->cap = m->cap ? m->cap * 2 : 16384;
		m->b = ch_realloc(m->b, m->cap);
	}
	memcpy(m->b + m->n, ptr, n);
	m->n += n;
	m->b[m->n] = '\0';
	return n;
}

/* Percent-encodes a key for the signed path, keeping '/' (curl 7.88 signs
 * the path as given). */
static void
append_encoded(struct membuf *u, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char t[3];

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') ||
		    ('0' <= c && c <= '9') || strchr("/-._~", c)) {
			collect((char *)&c, 1, 1, u);
		} else {
			t[0] = '%';
			t[1] = hex[c >> 4];
			t[2] = hex[c & 15];
			collect(t, 1, 3, u);
		}
	}
}

/* The text between <tag> and </tag> in an XML error body, or "". */
static void
xml_field(const unsigned char *body, const char *tag, char *out, size_t n)
{
	char open[64], close[64];
	const char *a, *b;
	size_t len;

	out[0] = '\0';
	if (!body)
		return;
	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	if (!(a = strstr((const char *)body, open)))
		return;
	a += strlen(open);
	if (!(b = strstr(a, close)))
		return;
	len = (size_t)(b - a);
	if (len >= n)
		len = n - 1;
	memcpy(out, a, len);
	out[len] = '\0';
}

static const char *
status_code_name(long status)
{
	switch (status) {
	case 400: return "BadRequest";
	case 403: return "AccessDenied";
	case 404: return "NotFound";
	case 409: return "Conflict";
	case 500: return "InternalError";
	case 503: return "ServiceUnavailable";
	default: return "error";
	}
}

/*
 * One S3 request with retries.  key NULL addresses the bucket.  Returns 0
 * with *status set (any HTTP status), or -1 when no answer came.
 */
static int
s3_request(struct ch_store *s, const char *method, const char *key,
    const void *body, size_t blen, long *status, struct membuf *resp,
    struct ch_err *e)
{
	struct membuf url = {0};
	struct curl_slist *hd = NULL;
	char sigv4[128], sha[65], h[128], cerr[CURL_ERROR_SIZE];
	CURLcode cc = CURLE_OK;
	int attempt;

	collect(s->endpoint, 1, strlen(s->endpoint), &url);
	collect("/", 1, 1, &url);
	collect(s->bucket, 1, strlen(s->bucket), &url);
	/* GET on the bucket: a one-key listing, to learn whether it exists
	 * and whether we may read it (the query is signed as given: sorted) */
	if (!key && strcmp(method, "GET") == 0) {
		const char *q = s->list_query ? s->list_query :
		    "?list-type=2&max-keys=1";
		collect((char *)q, 1, strlen(q), &url);
	}
	if (key) {
		collect("/", 1, 1, &url);
		append_encoded(&url, s->prefix);
		append_encoded(&url, key);
	}
	snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", s->region);
	ch_sha256_hex(body ? body : "", body ? blen : 0, sha);
	snprintf(h, sizeof h, "x-amz-content-sha256: %s", sha);
	hd = curl_slist_append(hd, h);
	if (body)
		hd = curl_slist_append(hd, "Content-Type: application/octet-stream");

	for (attempt = 0; ; attempt++) {
		CURL *c = s->curl;

		resp->n = 0;
		if (resp->b)
			resp->b[0] = '\0';
		curl_easy_reset(c);
		curl_easy_setopt(c, CURLOPT_URL, (char *)url.b);
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
		curl_easy_setopt(c, CURLOPT_USERNAME, s->access_key);
		curl_easy_setopt(c, CURLOPT_PASSWORD, s->secret_key);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
		    s->timeout_s < 10 ? s->timeout_s : 10L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, s->timeout_s);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
		if (strcmp(method, "HEAD") == 0)
			curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		else if (strcmp(method, "GET") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		if (body) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
		} else if (strcmp(method, "PUT") == 0) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		}
		cerr[0] = '\0';
		cc = curl_easy_perform(c);
		*status = 0;
		if (cc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
		if (cc == CURLE_OK && *status < 500)
			break;
		if (attempt >= s->retries)
			break;
		/* backoff 0.1 s, 0.2 s, 0.4 s, ... */
		{
			struct timespec ts = {0, 100000000L};
			long ms = 100L << (attempt < 5 ? attempt : 5);
			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (ms % 1000) * 1000000L;
			nanosleep(&ts, NULL);
		}
	}
	curl_slist_free_all(hd);
	free(url.b);
	if (cc != CURLE_OK)
		return ch_errf(e, "cannot reach s3 endpoint %s (bucket '%s'): %s",
		    s->endpoint, s->bucket, cerr[0] ? cerr : curl_easy_strerror(cc));
	return 0;
}

/* Error message for an unexpected status. */
static int
s3_fail(struct ch_store *s, const char *method, const char *key, long status,
    const struct membuf *resp, struct ch_err *e)
{
	char code[128], msg[256];

	xml_field(resp->b, "Code", code, sizeof code);
	xml_field(resp->b, "Message", msg, sizeof msg);
	if (!*code)
		snprintf(code, sizeof code, "%s", status_code_name(status));
	if (strcmp(code, "NoSuchBucket") == 0 || (status == 404 && !key))
		return ch_errf(e, "bucket '%s' does not exist at s3 endpoint %s "
		    "(create it with churn-push --init)", s->bucket, s->endpoint);
	if (status == 403)
		return ch_errf(e, "s3 endpoint %s refused %s of s3://%s%s%s%s: %ld %s%s%s "
		    "(check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
		    s->endpoint, method, s->bucket, key ? "/" : "", key ? s->prefix : "",
		    key ? key : "", status, code, *msg ? ": " : "", msg);
	return ch_errf(e, "s3 endpoint %s: %s of s3://%s%s%s%s failed: %ld %s%s%s",
	    s->endpoint, method, s->bucket, key ? "/" : "", key ? s->prefix : "",
	    key ? key : "", status, code, *msg ? ": " : "", msg);
}

static int
s3_init(struct ch_store *s, struct ch_err *e)
{
	struct membuf r = {0};
	char code[128];
	long st;
	int rc;

	if ((rc = s3_request(s, "GET", NULL, NULL, 0, &st, &r, e)) == 0 &&
	    st != 200) {
		xml_field(r.b, "Code", code, sizeof code);
		if (st == 404 && strcmp(code, "NoSuchBucket") == 0) {
			if ((rc = s3_request(s, "PUT", NULL, NULL, 0, &st, &r, e)) == 0 &&
			    st != 200) {
				xml_field(r.b, "Code", code, sizeof code);
				if (strcmp(code, "BucketAlreadyOwnedByYou") != 0)
					rc = s3_fail(s, "PUT", NULL, st, &r, e);
			}
		} else
			rc = s3_fail(s, "GET", NULL, st, &r, e);
	}
	free(r.b);
	return rc;
}

static int
s3_put(struct ch_store *s, const char *key, const void *buf, size_t len,
    struct ch_err *e)
{
	struct membuf r = {0};
	long st;
	int rc;

	if ((rc = s3_request(s, "PUT", key, buf ? buf : "", len, &st, &r, e)) == 0 &&
	    st != 200)
		rc = s3_fail(s, "PUT", key, st, &r, e);
	free(r.b);
	return rc;
}

static int
s3_get(struct ch_store *s, const char *key, unsigned char **buf, size_t *len,
    struct ch_err *e)
{
	struct membuf r = {0};
	char code[128];
	long st;

	if (s3_request(s, "GET", key, NULL, 0, &st, &r, e) < 0) {
		free(r.b);
		return -1;
	}
	if (st == 200) {
		if (!r.b)
			r.b = ch_calloc(1, 1);
		*buf = r.b;
		*len = r.n;
		return 0;
	}
	xml_field(r.b, "Code", code, sizeof code);
	if (st == 404 && strcmp(code, "NoSuchBucket") != 0) {
		free(r.b);
		return 1;
	}
	s3_fail(s, "GET", key, st, &r, e);
	free(r.b);
	return -1;
}

static int
s3_head(struct ch_store *s, const char *key, size_t *len, struct ch_err *e)
{
	struct membuf r = {0};
	curl_off_t cl = -1;
	long st;
	int rc;

	if ((rc = s3_request(s, "HEAD", key, NULL, 0, &st, &r, e)) == 0) {
		if (st == 200) {
			curl_easy_getinfo(s->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
			*len = cl < 0 ? 0 : (size_t)cl;
		} else if (st == 404) {
			/* HEAD has no body: tell a missing bucket from a missing key */
			long bst;
			struct membuf b = {0};
			rc = s3_request(s, "HEAD", NULL, NULL, 0, &bst, &b, e);
			free(b.b);
			if (rc == 0)
				rc = bst == 200 ? 1 : s3_fail(s, "HEAD", NULL, 404, &r, e);
		} else
			rc = s3_fail(s, "HEAD", key, st, &r, e);
	}
	free(r.b);
	return rc;
}

static int
s3_delete(struct ch_store *s, const char *key, struct ch_err *e)
{
	struct membuf r = {0};
	long st;
	int rc;

	if ((rc = s3_request(s, "DELETE", key, NULL, 0, &st, &r, e)) == 0 &&
	    st != 204 && st != 200 && st != 404)
		rc = s3_fail(s, "DELETE", key, st, &r, e);
	free(r.b);
	return rc;
}

/* ---- dispatch ---- */

int
ch_store_init(struct ch_store *s, struct ch_err *e)
{
	return s->kind == LOCAL ? local_init(s, e) : s3_init(s, e);
}

int
ch_store_put(struct ch_store *s, const char *key, const void *buf, size_t len,
    struct ch_err *e)
{
	if (check_key(key, e) < 0)
		return -1;
	return s->kind == LOCAL ? local_put(s, key, buf, len, e) :
	    s3_put(s, key, buf, len, e);
}

int
ch_store_get(struct ch_store *s, const char *key, unsigned char **buf,
    size_t *len, struct ch_err *e)
{
	*buf = NULL;
	*len = 0;
	if (check_key(key, e) < 0)
		return -1;
	return s->kind == LOCAL ? local_get(s, key, buf, len, e) :
	    s3_get(s, key, buf, len, e);
}

int
ch_store_head(struct ch_store *s, const char *key, size_t *len, struct ch_err *e)
{
	if (check_key(key, e) < 0)
		return -1;
	return s->kind == LOCAL ? local_head(s, key, len, e) :
	    s3_head(s, key, len, e);
}

int
ch_store_delete(struct ch_store *s, const char *key, struct ch_err *e)
{
	if (check_key(key, e) < 0)
		return -1;
	return s->kind == LOCAL ? local_delete(s, key, e) : s3_delete(s, key, e);
}

int
ch_store_lock(struct ch_store *s, const char *key, struct ch_err *e)
{
	char *p, *lk;
	size_t n;
	int fd;

	if (s->locked)
		return ch_errf(e, "store %s: lock already held", s->where);
	if (check_key(key, e) < 0)
		return -1;
	if (s->kind == S3) {
		pthread_mutex_lock(&s3_lock);
		s->locked = 1;
		return 0;
	}
	p = local_path(s, key);
	n = strlen(p) + 6;
	lk = ch_malloc(n);
	snprintf(lk, n, "%s.lock", p);
	free(p);
	if (mkdirs_for(lk, e) < 0) {
		free(lk);
		return -1;
	}
	if ((fd = open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0) {
		ch_errf(e, "cannot open lock file '%s': %s", lk, strerror(errno));
		free(lk);
		return -1;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		ch_errf(e, "cannot lock '%s': %s", lk, strerror(errno));
		close(fd);
		free(lk);
		return -1;
	}
	free(lk);
	s->lockfd = fd;
	s->locked = 1;
	return 0;
}

void
ch_store_unlock(struct ch_store *s)
{
	if (!s->locked)
		return;
	if (s->kind == S3)
		pthread_mutex_unlock(&s3_lock);
	else if (s->lockfd >= 0) {
		flock(s->lockfd, LOCK_UN);
		close(s->lockfd);
		s->lockfd = -1;
	}
	s->locked = 0;
}

/* ---- listing ---- */

struct keylist {
	char **k;
	size_t n, cap;
};

static void
keylist_add(struct keylist *l, const char *k, size_t len)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->k = ch_reallocarray(l->k, l->cap, sizeof *l->k);
	}
	l->k[l->n++] = ch_strndup(k, len);
}

static int
cmp_key(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walks dir (the key prefix rel, "" or "a/b/") into l. */
static int
local_walk(const char *dir, const char *rel, struct keylist *l,
    struct ch_err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	int rc = 0;

	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 :
		    ch_errf(e, "%s: %s", dir, strerror(errno));
	while (rc == 0 && (de = readdir(d))) {
		size_t nd = strlen(dir) + strlen(de->d_name) + 2;
		size_t nr = strlen(rel) + strlen(de->d_name) + 2;
		char *p, *r;

		/* dot files, temporary files of ch_write_atomic, lock files */
		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp.") ||
		    (strlen(de->d_name) > 5 && strcmp(de->d_name +
		    strlen(de->d_name) - 5, ".lock") == 0))
			continue;
		p = ch_malloc(nd);
		r = ch_malloc(nr);
		snprintf(p, nd, "%s/%s", dir, de->d_name);
		snprintf(r, nr, "%s%s", rel, de->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			snprintf(r, nr, "%s%s/", rel, de->d_name);
			rc = local_walk(p, r, l, e);
		} else if (S_ISREG(st.st_mode))
			keylist_add(l, r, strlen(r));
		free(p);
		free(r);
	}
	closedir(d);
	return rc;
}

static int
local_list(struct ch_store *s, const char *prefix, struct keylist *l,
    struct ch_err *e)
{
	/* the directory part of the prefix, then a filter on the rest */
	const char *slash = strrchr(prefix, '/');
	char *dirrel = ch_strndup(prefix, slash ? (size_t)(slash - prefix) + 1 : 0);
	char *dir = *dirrel ? local_path(s, dirrel) : ch_strdup(s->root);
	size_t i, j = 0;
	int rc;

	if (*dirrel && dir[strlen(dir) - 1] == '/')
		dir[strlen(dir) - 1] = '\0';
	rc = local_walk(dir, dirrel, l, e);
	for (i = 0; i < l->n; i++) {
		if (strncmp(l->k[i], prefix, strlen(prefix)) == 0)
			l->k[j++] = l->k[i];
		else
			free(l->k[i]);
	}
	l->n = j;
	free(dir);
	free(dirrel);
	return rc;
}

/* Percent-encodes a query value: RFC 3986 unreserved characters only. */
static void
append_query_value(struct membuf *u, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char t[3];

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') ||
		    ('0' <= c && c <= '9') || strchr("-._~", c)) {
			collect((char *)&c, 1, 1, u);
		} else {
			t[0] = '%';
			t[1] = hex[c >> 4];
			t[2] = hex[c & 15];
			collect(t, 1, 3, u);
		}
	}
}

/* Unescapes the five XML entities in place. */
static size_t
xml_unescape(char *s, size_t n)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' },
	};
	size_t i, j = 0, k;

	for (i = 0; i < n; ) {
		for (k = 0; k < sizeof ents / sizeof ents[0]; k++) {
			size_t el = strlen(ents[k].ent);
			if (i + el <= n && memcmp(s + i, ents[k].ent, el) == 0)
				break;
		}
		if (k < sizeof ents / sizeof ents[0]) {
			s[j++] = ents[k].c;
			i += strlen(ents[k].ent);
		} else
			s[j++] = s[i++];
	}
	return j;
}

/* ListObjectsV2, page by page (the query sorted by name: curl 7.88 signs
 * it as given). */
static int
s3_list(struct ch_store *s, const char *prefix, struct keylist *l,
    struct ch_err *e)
{
	char token[1024] = "";
	size_t plen = strlen(s->prefix);
	int rc = 0;

	do {
		struct membuf q = {0}, r = {0};
		const char *a, *b;
		long st;

		collect("?", 1, 1, &q);
		if (*token) {
			collect("continuation-token=", 1, 19, &q);
			append_query_value(&q, token);
			collect("&", 1, 1, &q);
		}
		collect("list-type=2&prefix=", 1, 19, &q);
		{
			size_t n = plen + strlen(prefix) + 1;
			char *full = ch_malloc(n);

			snprintf(full, n, "%s%s", s->prefix, prefix);
			append_query_value(&q, full);
			free(full);
		}
		s->list_query = (const char *)q.b;
		rc = s3_request(s, "GET", NULL, NULL, 0, &st, &r, e);
		s->list_query = NULL;
		free(q.b);
		if (rc == 0 && st != 200)
			rc = s3_fail(s, "GET", NULL, st, &r, e);
		token[0] = '\0';
		for (a = (const char *)r.b; rc == 0 && a &&
		    (a = strstr(a, "<Key>")); a = b) {
			char *k;
			size_t n;

			a += 5;
			if (!(b = strstr(a, "</Key>")))
				break;
			k = ch_strndup(a, (size_t)(b - a));
			n = xml_unescape(k, (size_t)(b - a));
			if (n >= plen && strncmp(k, s->prefix, plen) == 0)
				keylist_add(l, k + plen, n - plen);
			free(k);
		}
		if (rc == 0 && r.b && strstr((const char *)r.b,
		    "<IsTruncated>true</IsTruncated>")) {
			xml_field(r.b, "NextContinuationToken", token, sizeof token);
			if (!*token)
				rc = ch_errf(e, "s3 endpoint %s: a truncated listing of "
				    "bucket '%s' without a continuation token",
				    s->endpoint, s->bucket);
		}
		free(r.b);
	} while (rc == 0 && *token);
	return rc;
}

int
ch_store_list(struct ch_store *s, const char *prefix, char ***keys,
    size_t *n, struct ch_err *e)
{
	struct keylist l = {0};
	size_t i;
	int rc;

	*keys = NULL;
	*n = 0;
	rc = s->kind == LOCAL ? local_list(s, prefix, &l, e) :
	    s3_list(s, prefix, &l, e);
	if (rc < 0) {
		for (i = 0; i < l.n; i++)
			free(l.k[i]);
		free(l.k);
		return -1;
	}
	if (l.n)
		qsort(l.k, l.n, sizeof *l.k, cmp_key);
	*keys = l.k;
	*n = l.n;
	return 0;
}

void
ch_store_keys_free(char **keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}
