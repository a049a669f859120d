/*
 * store_s3.c - the S3 half of the artifact store: s3:// handles opened,
 * and the S3 client (path-style requests signed with SigV4 by libcurl,
 * retries, listing, removal) behind store.h's dispatch in store.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_impl.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* s opened as the S3 store of url ("s3://bucket[/prefix]") with o's
 * endpoint and credentials; -1 leaves s for the caller to close. */
int
s3_open(struct ch_store *s, const char *url, const struct ch_store_opts *o,
    struct ch_err *e)
{
	const char *p, *slash;
	size_t n;

	s->kind = S3;
	p = url + 5;
	slash = strchr(p, '/');
	n = slash ? (size_t)(slash - p) : strlen(p);
	s->bucket = ch_strndup(p, n);
	if (n == 0 || n > 63 || strspn(s->bucket,
	    "abcdefghijklmnopqrstuvwxyz0123456789.-") != n) {
		ch_errf(e, "store '%s': bad bucket name '%s'", url, s->bucket);
		return -1;
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
		return -1;
	}
	if (!o || !o->endpoint || !*o->endpoint) {
		ch_errf(e, "store '%s': no s3 endpoint given (set CHURN_S3_ENDPOINT or AWS_ENDPOINT_URL)", url);
		return -1;
	}
	if (strncmp(o->endpoint, "http://", 7) != 0 &&
	    strncmp(o->endpoint, "https://", 8) != 0) {
		ch_errf(e, "s3 endpoint '%s' is not an http:// or https:// URL", o->endpoint);
		return -1;
	}
	if (!o->access_key || !*o->access_key || !o->secret_key || !*o->secret_key) {
		ch_errf(e, "store '%s': no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", url);
		return -1;
	}
	s->endpoint = ch_strdup(o->endpoint);
	n = strlen(s->endpoint);
	while (n > 0 && s->endpoint[n - 1] == '/')
		s->endpoint[--n] = '\0';
	s->region = ch_strdup(o->region && *o->region ? o->region : "us-east-1");
	s->access_key = ch_strdup(o->access_key);
	s->secret_key = ch_strdup(o->secret_key);
	if (o->session_token && *o->session_token) {
		n = strlen(o->session_token) + 24;
		s->token_header = ch_malloc(n);
		snprintf(s->token_header, n, "x-amz-security-token: %s", o->session_token);
	}
	s->retries = o->retries < 0 ? 0 : o->retries > 0 ? o->retries : 3;
	s->timeout_s = o->timeout_s > 0 ? o->timeout_s : 30;
	n = strlen(url) + strlen(s->endpoint) + 8;
	s->where = ch_malloc(n);
	snprintf(s->where, n, "%s at %s", url, s->endpoint);
	pthread_once(&curl_once, curl_init_once);
	if (!(s->curl = curl_easy_init())) {
		ch_errf(e, "cannot initialise libcurl");
		return -1;
	}
	return 0;
}

struct membuf {
	unsigned char *b;
	size_t n, cap;
	/* streaming (ch_store_stream): a 200 answer's body goes to sink */
	size_t (*sink)(const void *, size_t, void *);
	void *arg;
	CURL *c;
	int sent;
};

static size_t
collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct membuf *m = ud;
	size_t n = size * nmemb;
	long st = 0;

	if (m->sink && curl_easy_getinfo(m->c, CURLINFO_RESPONSE_CODE, &st) ==
	    CURLE_OK && st == 200) {
		m->sent = 1;
		return m->sink(ptr, n, m->arg);
	}

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

/* Percent-encodes s but RFC 3986's unreserved characters and those in
 * keep: a key for the signed path keeps '/' (curl 7.88 signs the path as
 * given), a query value keeps nothing else. */
static void
append_encoded(struct membuf *u, const char *s, const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";
	char t[3];

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') ||
		    ('0' <= c && c <= '9') || strchr("-._~", c) ||
		    strchr(keep, c)) {
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
 * One S3 request with retries.  key NULL addresses the bucket; query (may
 * be NULL) is appended as given, so it must be sorted and encoded (curl
 * 7.88 signs it as it is).  Returns 0 with *status set (any HTTP status),
 * or -1 when no answer came.
 */
static int
s3_request_q(struct ch_store *s, const char *method, const char *key,
    const char *query, const void *body, size_t blen, long *status,
    struct membuf *resp, struct ch_err *e)
{
	struct membuf url = {0};
	struct curl_slist *hd = NULL;
	char sigv4[128], sha[65], h[128], cerr[CURL_ERROR_SIZE];
	CURLcode cc = CURLE_OK;
	int attempt;

	collect(s->endpoint, 1, strlen(s->endpoint), &url);
	collect("/", 1, 1, &url);
	collect(s->bucket, 1, strlen(s->bucket), &url);
	if (key) {
		collect("/", 1, 1, &url);
		append_encoded(&url, s->prefix, "/");
		append_encoded(&url, key, "/");
	}
	if (query) {
		collect("?", 1, 1, &url);
		collect((char *)query, 1, strlen(query), &url);
	}
	snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", s->region);
	ch_sha256_hex(body ? body : "", body ? blen : 0, sha);
	snprintf(h, sizeof h, "x-amz-content-sha256: %s", sha);
	hd = curl_slist_append(hd, h);
	if (body)
		hd = curl_slist_append(hd, "Content-Type: application/octet-stream");
	/* a header curl sends is a header it signs */
	if (s->token_header)
		hd = curl_slist_append(hd, s->token_header);

	for (attempt = 0; ; attempt++) {
		CURL *c = s->curl;

		resp->n = 0;
		if (resp->b)
			resp->b[0] = '\0';
		curl_easy_reset(c);
		resp->c = c;
		curl_easy_setopt(c, CURLOPT_URL, (char *)url.b);
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
		curl_easy_setopt(c, CURLOPT_USERNAME, s->access_key);
		curl_easy_setopt(c, CURLOPT_PASSWORD, s->secret_key);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
		    s->timeout_s < 10 ? s->timeout_s : 10L);
		if (resp->sink) {	/* a long stream: only a stall ends it */
			curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
			curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s->timeout_s);
		} else
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
		if (attempt >= s->retries || resp->sent)
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

static int
s3_request(struct ch_store *s, const char *method, const char *key,
    const void *body, size_t blen, long *status, struct membuf *resp,
    struct ch_err *e)
{
	/* GET on the bucket: a one-key listing, to learn whether it exists
	 * and whether we may read it */
	return s3_request_q(s, method, key, !key && strcmp(method, "GET") == 0 ?
	    "list-type=2&max-keys=1" : NULL, body, blen, status, resp, e);
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

int
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

int
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

int
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

int
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

int
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

/*
 * ListObjectsV2 of the keys under "<prefix>dir/", page by page: fn gets
 * each key (or, with delim, each name one level down) relative to
 * "dir/", and its size.
 */
static int
s3_list(struct ch_store *s, const char *dir, int delim,
    void (*fn)(void *, const char *, size_t, unsigned long long), void *arg,
    struct ch_err *e)
{
	struct membuf q = {0}, r = {0};
	char token[1024] = "", *full;
	size_t n = strlen(s->prefix) + strlen(dir) + 2, base;
	long st;
	int rc = 0;

	full = ch_malloc(n);
	snprintf(full, n, "%s%s/", s->prefix, dir);
	base = strlen(full);
	do {
		const char *p, *end;
		char trunc[16];

		q.n = 0;
		if (*token) {
			collect("continuation-token=", 1, 19, &q);
			append_encoded(&q, token, "");
			collect("&", 1, 1, &q);
		}
		if (delim)
			collect("delimiter=%2F&", 1, 14, &q);
		collect("list-type=2&prefix=", 1, 19, &q);
		append_encoded(&q, full, "");
		if ((rc = s3_request_q(s, "GET", NULL, (char *)q.b, NULL, 0, &st, &r,
		    e)) < 0)
			break;
		if (st != 200) {
			rc = s3_fail(s, "GET", NULL, st, &r, e);
			break;
		}
		for (p = (char *)r.b; (p = strstr(p, "<Contents>")); p = end) {
			char key[1024], size[32];

			if (!(end = strstr(p, "</Contents>")))
				break;
			xml_field((unsigned char *)p, "Key", key, sizeof key);
			xml_field((unsigned char *)p, "Size", size, sizeof size);
			if (strncmp(key, full, base) == 0 && key[base])
				fn(arg, key + base, strlen(key + base), strtoull(size, NULL, 10));
		}
		for (p = (char *)r.b; (p = strstr(p, "<CommonPrefixes>")); p = end) {
			char pre[1024];
			size_t l;

			if (!(end = strstr(p, "</CommonPrefixes>")))
				break;
			xml_field((unsigned char *)p, "Prefix", pre, sizeof pre);
			l = strlen(pre);
			if (strncmp(pre, full, base) == 0 && l > base + 1)
				fn(arg, pre + base, l - base - 1, 0);
		}
		xml_field(r.b, "IsTruncated", trunc, sizeof trunc);
		xml_field(r.b, "NextContinuationToken", token, sizeof token);
		if (strcmp(trunc, "true") != 0)
			*token = '\0';
	} while (*token);
	free(q.b);
	free(r.b);
	free(full);
	return rc;
}

struct names {
	char **v;
	size_t n;
};

static void
add_name(void *arg, const char *name, size_t len, unsigned long long size)
{
	struct names *x = arg;
	const char *slash = memchr(name, '/', len);

	(void)size;
	strv_add(&x->v, &x->n, name, slash ? (size_t)(slash - name) : len);
}

char **
s3_list_names(struct ch_store *s, const char *dir, struct ch_err *e)
{
	struct names x = {ch_calloc(1, sizeof(char *)), 0};

	if (s3_list(s, dir, 1, add_name, &x, e) < 0) {
		ch_strv_free(x.v);
		return NULL;
	}
	return x.v;
}

struct keys {
	char **v;
	size_t n;
	unsigned long long bytes;
};

static void
add_key(void *arg, const char *key, size_t len, unsigned long long size)
{
	struct keys *k = arg;

	k->v = ch_reallocarray(k->v, k->n + 2, sizeof *k->v);
	k->v[k->n++] = ch_strndup(key, len);
	k->v[k->n] = NULL;
	k->bytes += size;
}

int
s3_remove_all(struct ch_store *s, const char *key, unsigned long long *bytes,
    struct ch_err *e)
{
	struct keys k = {ch_calloc(1, sizeof(char *)), 0, 0};
	size_t i;
	int rc;

	rc = s3_list(s, key, 0, add_key, &k, e);
	for (i = 0; rc == 0 && i < k.n; i++) {
		size_t m = strlen(key) + strlen(k.v[i]) + 2;
		char *full = ch_malloc(m);

		snprintf(full, m, "%s/%s", key, k.v[i]);
		rc = s3_delete(s, full, e);
		free(full);
	}
	if (rc == 0)
		rc = s3_delete(s, key, e);
	if (rc == 0)
		*bytes += k.bytes;
	ch_strv_free(k.v);
	return rc;
}

/* key's bytes streamed to sink from S3: 0, 1 when there is no such key,
 * -1 on error (ch_store_stream's S3 half). */
int
s3_stream(struct ch_store *s, const char *key,
    size_t (*sink)(const void *, size_t, void *), void *arg, struct ch_err *e)
{
	struct membuf r = {0};
	char code[128];
	long st;
	int rc;

	r.sink = sink;
	r.arg = arg;
	if (s3_request(s, "GET", key, NULL, 0, &st, &r, e) < 0)
		rc = -1;
	else if (st == 200)
		rc = 0;
	else {
		xml_field(r.b, "Code", code, sizeof code);
		rc = st == 404 && strcmp(code, "NoSuchBucket") != 0 ? 1 :
		    s3_fail(s, "GET", key, st, &r, e);
	}
	free(r.b);
	return rc;
}
