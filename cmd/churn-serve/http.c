/* http.c - libmicrohttpd daemon, routing, answers, read-only routes */
#define _GNU_SOURCE 1           /* accept4 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "auth.h"
#include "guard.h"
#include "http.h"


static atomic_long inflight;
static atomic_int stopping;
static atomic_int draining;     /* SIGTERM: /ready says 503 */

/* --- answers ------------------------------------------------------ */

const char JSON[] = "application/json";

/* Every answer goes out here: the headers each one carries (request id,
 * CORS, Connection: close when closing), then the queue; resp is
 * destroyed, len is its body's size for the access log. */
static enum MHD_Result
queue(struct MHD_Connection *c, struct req *r, int status,
    struct MHD_Response *resp, size_t len)
{
	enum MHD_Result ret;

	MHD_add_response_header(resp, "X-Request-Id", r->id);
	if (r->cors) {
		MHD_add_response_header(resp, "Access-Control-Allow-Origin",
		    r->cors);
		MHD_add_response_header(resp, "Access-Control-Expose-Headers",
		    "X-Request-Id, Retry-After, Warning");
	}
	if (cfg.cors_origins)
		MHD_add_response_header(resp, "Vary", "Origin");
	if (r->warning)
		MHD_add_response_header(resp, "Warning", r->warning);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer");
	if (r->close || atomic_load_explicit(&stopping, memory_order_relaxed) ||
	    atomic_load_explicit(&draining, memory_order_relaxed))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	r->status = status;
	r->sent = strcmp(r->method, "HEAD") ? len : 0;
	ret = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result
send_buf(struct MHD_Connection *c, struct req *r, int status,
    const char *type, void *buf, size_t len, enum MHD_ResponseMemoryMode mode,
    const char *allow)
{
	struct MHD_Response *resp;

	if (!(resp = MHD_create_response_from_buffer(len, buf, mode))) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	return queue(c, r, status, resp, len);
}

/* Answers with j (stolen) as JSON; allow for 405.  j may be NULL (a
 * json_pack that failed): the answer is then a 500. */
static enum MHD_Result
send_json_allow(struct MHD_Connection *c, struct req *r, int status,
    json_t *j, const char *allow)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(10)) : NULL;

	json_decref(j);
	if (!s) {
		slog("error", "answer not encoded", json_pack("{s:s,s:i}",
		    "route", route_name(r->route), "status", status));
		return send_buf(c, r, 500, JSON, "{\"error\":\"out of memory\"}",
		    25, MHD_RESPMEM_PERSISTENT, NULL);
	}
	return send_buf(c, r, status, JSON, s, strlen(s), MHD_RESPMEM_MUST_FREE,
	    allow);
}

enum MHD_Result
send_json(struct MHD_Connection *c, struct req *r, int status, json_t *j)
{
	return send_json_allow(c, r, status, j, NULL);
}

/* {"error": message} with status; allow for 405.  Server-side failures
 * are logged.  The message may quote anything a request carried: it
 * reaches JSON through jtext. */
enum MHD_Result
fail(struct MHD_Connection *c, struct req *r, int status, const char *allow,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

enum MHD_Result
fail(struct MHD_Connection *c, struct req *r, int status, const char *allow,
    const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (status >= 500)
		slog("error", "request failed", json_pack("{s:s,s:i,s:o,s:s}",
		    "route", route_name(r->route), "status", status,
		    "error", jtext(msg), "request_id", r->id));
	return send_json_allow(c, r, status, json_pack("{s:o}", "error",
	    jtext(msg)), allow);
}

/* --- helpers -------------------------------------------------------- */

const char *
header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

const char *
query(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

int
truthy(const char *v)
{
	return v && (!strcmp(v, "1") || !strcasecmp(v, "true") ||
	    !strcasecmp(v, "yes") || !*v);
}

/* Media type of the request without parameters, lowercased, "" when
 * absent. */
void
media_type(struct MHD_Connection *c, char *out, size_t n)
{
	const char *ct = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t i = 0;

	if (ct)
		for (; ct[i] && ct[i] != ';' && ct[i] != ' ' && i + 1 < n; i++)
			out[i] = (char)tolower((unsigned char)ct[i]);
	out[i] = '\0';
}

enum body_kind
body_kind(const char *mt)
{
	if (!*mt || !strcmp(mt, "application/json") || !strcmp(mt, "text/json"))
		return B_JSON;
	if (!strcmp(mt, "application/x-www-form-urlencoded"))
		return B_FORM;      /* what `curl -d` sends */
	if (!strcmp(mt, "text/csv") || !strcmp(mt, "application/csv"))
		return B_CSV;
	if (!strcmp(mt, "application/x-ndjson") ||
	    !strcmp(mt, "application/jsonl") ||
	    !strcmp(mt, "application/x-jsonlines") ||
	    !strcmp(mt, "application/jsonlines"))
		return B_JSONL;
	return B_UNKNOWN;
}

/* A POST must say how long its body is (or send it chunked). */
int
has_length(struct MHD_Connection *c)
{
	const char *te = header(c, MHD_HTTP_HEADER_TRANSFER_ENCODING);

	if (header(c, MHD_HTTP_HEADER_CONTENT_LENGTH))
		return 1;
	for (; te && *te; te++)
		if (!strncasecmp(te, "chunked", 7))
			return 1;
	return 0;
}

/* What the framing headers say: every Content-Length value (one, or
 * repeated equal) and whether Transfer-Encoding came too. */
struct framing {
	const char *cl;
	const char *other;          /* a second, different Content-Length */
	const char *bad;            /* a Content-Length that is not digits */
	int te;
};

static enum MHD_Result
framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct framing *f = cls;

	(void)kind;
	if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		f->te = 1;
	else if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
		if (!value || !*value ||
		    strspn(value, "0123456789") != strlen(value))
			f->bad = value ? value : "";
		else if (f->cl && strcmp(f->cl, value) != 0)
			f->other = value;
		else
			f->cl = value;
	}
	return MHD_YES;
}

/*
 * The body's length must be unambiguous (RFC 9112, 6.3): at most one
 * Content-Length value, all digits, and never with Transfer-Encoding.
 * libmicrohttpd 0.9.75 reads the first length (or the chunks) and goes
 * on, while a proxy in front may read another: the rest of the body
 * would then be taken for a request of its own (request smuggling).
 * Such a request gets 400 and its connection is closed; MHD_YES with
 * nothing answered when the framing is clear.
 */
static enum MHD_Result
check_framing(struct MHD_Connection *c, struct req *r)
{
	struct framing f = { 0 };

	MHD_get_connection_values(c, MHD_HEADER_KIND, framing_header, &f);
	if (!f.bad && !f.other && !(f.te && f.cl))
		return MHD_YES;
	r->close = 1;
	if (f.bad)
		return fail(c, r, 400, NULL, "Content-Length '%s' is not a "
		    "number", f.bad);
	if (f.other)
		return fail(c, r, 400, NULL, "Content-Length '%s' and '%s' "
		    "disagree: the body's length is ambiguous", f.cl, f.other);
	return fail(c, r, 400, NULL, "Content-Length with Transfer-Encoding: "
	    "the body's length is ambiguous");
}

int
admin_ok(struct MHD_Connection *c)
{
	return ch_bearer_ok(header(c, MHD_HTTP_HEADER_AUTHORIZATION),
	    cfg.admin_token);
}

/* --- read-only routes ---------------------------------------------- */

enum MHD_Result
health(struct MHD_Connection *c, struct req *r)
{
	struct loaded *l = model_acquire();
	char last[21];
	json_t *j;

	model_last_reload(last);
	j = json_pack("{s:s,s:o,s:I,s:I,s:f,s:o,s:I}", "status", "ok",
	    "model_version", l ? json_string(l->m->version) : json_null(),
	    "uptime_s", (json_int_t)metrics_uptime(),
	    "requests", (json_int_t)metrics_requests(),
	    "request_rate", metrics_rate(),
	    "last_reload", *last ? json_string(last) : json_null(),
	    "reloads", (json_int_t)model_reload_count());
	model_release(l);
	return send_json(c, r, 200, j);
}

enum MHD_Result
ready(struct MHD_Connection *c, struct req *r)
{
	struct loaded *l;

	/* a load balancer stops sending before the listener closes */
	if (atomic_load_explicit(&draining, memory_order_relaxed))
		return fail(c, r, 503, NULL, "shutting down");
	if (!(l = model_acquire()))
		return fail(c, r, 503, NULL, "no model loaded");
	model_release(l);
	return send_buf(c, r, 200, JSON, "{\"ready\":true}", 14,
	    MHD_RESPMEM_PERSISTENT, NULL);
}

/* GET /predict/schema and GET /model: precomputed at load */
static enum MHD_Result
model_json(struct MHD_Connection *c, struct req *r, int schema)
{
	struct loaded *l = model_acquire();
	enum MHD_Result ret;

	if (!l)
		return fail(c, r, 503, NULL, "no model loaded");
	ret = send_buf(c, r, 200, JSON,
	    schema ? l->schema_json : l->describe_json,
	    schema ? l->schema_len : l->describe_len, MHD_RESPMEM_MUST_COPY,
	    NULL);
	model_release(l);
	return ret;
}

enum MHD_Result
model_schema(struct MHD_Connection *c, struct req *r)
{
	return model_json(c, r, 1);
}

enum MHD_Result
model_info(struct MHD_Connection *c, struct req *r)
{
	return model_json(c, r, 0);
}

/* 503 {"error": e} with Retry-After: retry seconds (the registry view is
 * not there yet), else 502 (the state dir cannot be read) */
static enum MHD_Result
unavailable(struct MHD_Connection *c, struct req *r, const char *what,
    int retry, const struct ch_err *e)
{
	struct MHD_Response *resp;
	char n[16], *s;
	size_t len;
	json_t *j;

	if (retry <= 0)
		return fail(c, r, 502, NULL, "%s: %s", what, e->msg);
	j = json_pack("{s:s++}", "error", what, ": ", e->msg);
	if (!j || !(s = json_dumps(j, JSON_COMPACT))) {
		json_decref(j);
		return fail(c, r, 503, NULL, "%s is not available", what);
	}
	json_decref(j);
	len = strlen(s);
	if (!(resp = MHD_create_response_from_buffer(len, s,
	    MHD_RESPMEM_MUST_FREE))) {
		free(s);
		return MHD_NO;
	}
	snprintf(n, sizeof n, "%d", retry);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, JSON);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, n);
	return queue(c, r, 503, resp, len);
}

/* GET /models and /drift/reports: from the refresher's view of the
 * registry (refresher.c), never from the network */
enum MHD_Result
models(struct MHD_Connection *c, struct req *r)
{
	struct ch_err e;
	int retry;
	json_t *j = models_list(&retry, &e);

	if (!j)
		return unavailable(c, r, "registry", retry, &e);
	return send_json(c, r, 200, j);
}

enum MHD_Result
reports(struct MHD_Connection *c, struct req *r)
{
	const char *lim = query(c, "limit");
	struct ch_err e;
	json_t *j;
	long n = 100;
	int retry;

	if (lim) {
		char *end;
		n = strtol(lim, &end, 10);
		if (*end || n <= 0 || n > 10000)
			return fail(c, r, 400, NULL, "limit '%s' is not a number "
			    "from 1 to 10000", lim);
	}
	if (!(j = drift_reports((int)n, &retry, &e)))
		return unavailable(c, r, "drift history", retry, &e);
	return send_json(c, r, 200, j);
}

enum MHD_Result
metrics_page(struct MHD_Connection *c, struct req *r)
{
	size_t len;
	char *s = metrics_render(&len);

	return send_buf(c, r, 200, "text/plain; version=0.0.4; charset=utf-8",
	    s, len, MHD_RESPMEM_MUST_FREE, NULL);
}

/* GET /, /index.html, /favicon.ico and /static/<file>: the files of
 * ui/ built in */
enum MHD_Result
ui(struct MHD_Connection *c, struct req *r)
{
	const char *url = r->url;
	const struct asset *a = NULL;
	struct MHD_Response *resp;

	if (!strcmp(url, "/favicon.ico") && !(a = asset_find("favicon.ico")))
		return send_buf(c, r, 204, "image/x-icon", "", 0,
		    MHD_RESPMEM_PERSISTENT, NULL);
	if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
		a = asset_find("index.html");
	else if (!strncmp(url, "/static/", 8) && !(a = asset_find(url + 1)))
		a = asset_find(url + 8);    /* ui/app.js as /static/app.js */
	if (!a)
		return fail(c, r, 404, NULL, "no such file: %s", url);
	resp = MHD_create_response_from_buffer(a->len, (void *)a->data,
	    MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	return queue(c, r, 200, resp, a->len);
}

/* --- routing ------------------------------------------------------- */

/* OPTIONS from a listed origin (--cors-origin) asking whether it may
 * send a request: the route's methods and the headers a client sends */
static enum MHD_Result
preflight(struct MHD_Connection *c, struct req *r)
{
	struct MHD_Response *resp;

	if (!(resp = MHD_create_response_from_buffer(0, "",
	    MHD_RESPMEM_PERSISTENT)))
		return MHD_NO;
	MHD_add_response_header(resp, "Access-Control-Allow-Methods",
	    route_allow(r->route));
	MHD_add_response_header(resp, "Access-Control-Allow-Headers",
	    "Authorization, Content-Type, X-Request-Id");
	MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
	return queue(c, r, 204, resp, 0);
}

/* Everything a row of the route table says, checked in the order a
 * client can fix them; then its handler. */
static enum MHD_Result
dispatch(struct MHD_Connection *c, struct req *r, const char *method)
{
	const char *url = r->url;
	const struct route *rt;
	unsigned m = !strcmp(method, "GET") || !strcmp(method, "HEAD") ?
	    RM_GET : !strcmp(method, "POST") ? RM_POST : 0;

	if (r->route < 0)
		return fail(c, r, 404, NULL, "no such route: %s", url);
	rt = &routes[r->route];
	if (r->cors && !strcmp(method, "OPTIONS") &&
	    header(c, "Access-Control-Request-Method"))
		return preflight(c, r);
	if (!(rt->methods & m))
		return fail(c, r, 405, route_allow(r->route),
		    "%s %s: method not allowed", method, url);
	if (rt->flags & RF_ADMIN && !admin_ok(c)) {
		slog("warn", "unauthorised", json_pack("{s:o,s:s}", "route",
		    jtext(url), "request_id", r->id));
		return fail(c, r, 401, NULL, "%s: a valid "
		    "'Authorization: Bearer' token is required", url);
	}
	/* /reload and /drift/check may come without a body (curl -X POST) */
	if (m == RM_POST && rt->flags & RF_BODY && !has_length(c))
		return fail(c, r, 411, NULL, "%s: a body length is required "
		    "(Content-Length)", url);
	if (r->too_big)
		return fail(c, r, 413, NULL, "%s: body larger than %zu bytes",
		    url, cfg.body_limit);
	return rt->handler(c, r);
}

/* The client's X-Request-Id when it is 1 to REQUEST_ID_MAX safe
 * characters (it reaches logs and headers as it is), else 32 random hex
 * digits */
static void
request_id(struct MHD_Connection *c, char id[REQUEST_ID_MAX + 1])
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:+/=@";
	static const char hex[] = "0123456789abcdef";
	static atomic_ulong seq;
	/* the kernel's random bytes fetched 256 at a time, a system call
	 * every 16 requests rather than each */
	static _Thread_local unsigned char pool[256];
	static _Thread_local size_t used = sizeof pool;
	const char *v = header(c, "X-Request-Id");
	unsigned char *b;
	size_t n, i;

	if (v && (n = strlen(v)) > 0 && n <= REQUEST_ID_MAX &&
	    strspn(v, safe) == n) {
		memcpy(id, v, n + 1);
		return;
	}
	if (used == sizeof pool) {
		if (getentropy(pool, sizeof pool) != 0) {
			/* never seen on Linux; unique within the process
			 * still */
			unsigned long k = atomic_fetch_add(&seq, 1);
			used = sizeof pool - 16;
			memset(pool + used, 0, 16);
			memcpy(pool + used, &k, sizeof k);
		} else
			used = 0;
	}
	b = pool + used;
	used += 16;
	for (i = 0; i < 16; i++) {
		id[2 * i] = hex[b[i] >> 4];
		id[2 * i + 1] = hex[b[i] & 15];
	}
	id[32] = '\0';
}

/* The listed origin (--cors-origin) that origin is, "*" when the list
 * holds it, or NULL */
static const char *
cors_origin(const char *origin)
{
	const char *const *o;

	if (!origin || !cfg.cors_origins)
		return NULL;
	for (o = cfg.cors_origins; *o; o++)
		if (!strcmp(*o, "*") || !strcmp(*o, origin))
			return *o;
	return NULL;
}

/* The client's address as text, for the access log */
static void
remote(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, n, "?");
	if (sa)
		getnameinfo(sa, sa->sa_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
		    out, (socklen_t)n, NULL, 0, NI_NUMERICHOST);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upsize, void **ctx)
{
	struct req *r = *ctx;
	enum MHD_Result ret;

	(void)cls, (void)version;
	if (!r) {
		const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);

		r = ch_calloc(1, sizeof *r);
		r->t0 = ch_seconds();
		*ctx = r;
		atomic_fetch_add(&inflight, 1);
		r->route = route_find(url);
		r->url = ch_strdup(url);
		snprintf(r->method, sizeof r->method, "%s", method);
		request_id(c, r->id);
		r->cors = cors_origin(header(c, "Origin"));
		if (cfg.access_log)
			remote(c, r->remote, sizeof r->remote);
		if ((ret = check_framing(c, r)) != MHD_YES || r->status)
			return ret;
		/* refuse a body announced too large before reading it */
		if (cl && strtoull(cl, NULL, 10) > cfg.body_limit) {
			r->too_big = 1;     /* whatever arrives is dropped */
			return fail(c, r, 413, NULL, "%s: body larger than %zu "
			    "bytes", url, cfg.body_limit);
		}
		return MHD_YES;
	}
	if (*upsize) {
		if (!r->too_big && r->len + *upsize > cfg.body_limit) {
			r->too_big = 1;
			free(r->body);
			r->body = NULL;
			r->len = r->cap = 0;
		}
		if (!r->too_big) {
			if (r->len + *upsize + 1 > r->cap) {
				r->cap = (r->len + *upsize + 1) * 2;
				if (r->cap > cfg.body_limit + 1)
					r->cap = cfg.body_limit + 1;
				r->body = ch_realloc(r->body, r->cap);
			}
			memcpy(r->body + r->len, upload, *upsize);
			r->len += *upsize;
			r->body[r->len] = '\0';
		}
		*upsize = 0;
		return MHD_YES;
	}
	if (r->status)      /* answered already (413 up front) */
		return MHD_YES;
	return dispatch(c, r, method);
}

static void
completed(void *cls, struct MHD_Connection *c, void **ctx,
    enum MHD_RequestTerminationCode toe)
{
	struct req *r = *ctx;
	double dt;

	(void)cls, (void)c, (void)toe;
	if (!r)
		return;
	dt = ch_seconds() - r->t0;
	metrics_request(r->route, r->status, dt);
	if (cfg.access_log)
		slog("info", "request", json_pack("{s:o,s:o,s:i,s:f,s:I,s:I,"
		    "s:s,s:s}", "method", jtext(r->method),
		    "path", jtext(r->url ? r->url : ""),
		    "status", r->status, "ms", dt * 1e3,
		    "bytes_in", (json_int_t)r->len,
		    "bytes_out", (json_int_t)r->sent,
		    "remote", r->remote, "request_id", r->id));
	admin_forget(r);
	free(r->body);
	free(r->url);
	free(r->warning);
	free(r);
	*ctx = NULL;
	atomic_fetch_sub(&inflight, 1);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '.'))
		msg[--n] = '\0';
	slog("warn", "libmicrohttpd", json_pack("{s:o}", "detail", jtext(msg)));
}

/* Splits ADDR:PORT (also [v6]:PORT, :PORT, PORT or ADDR) and resolves
 * it; port 8000 when not given. */
static int
resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *sl,
    struct ch_err *e)
{
	char host[256] = "127.0.0.1", port[16] = "8000";
	const char *colon;
	struct addrinfo hints = { 0 }, *ai;
	int rc;

	if (listen[0] == '[') {
		const char *end = strchr(listen, ']');
		if (!end || (size_t)(end - listen - 1) >= sizeof host)
			return ch_errf(e, "listen address '%s' is malformed",
			    listen);
		snprintf(host, sizeof host, "%.*s", (int)(end - listen - 1),
		    listen + 1);
		if (end[1] == ':')
			snprintf(port, sizeof port, "%s", end + 2);
	} else if ((colon = strrchr(listen, ':'))) {
		if (colon > listen)
			snprintf(host, sizeof host, "%.*s",
			    (int)(colon - listen), listen);
		snprintf(port, sizeof port, "%s", colon + 1);
	} else if (strspn(listen, "0123456789") == strlen(listen) && *listen)
		snprintf(port, sizeof port, "%s", listen);
	else
		snprintf(host, sizeof host, "%s", listen);
	if (!*port || strspn(port, "0123456789") != strlen(port) ||
	    atoi(port) > 65535)
		return ch_errf(e, "listen address '%s': port '%s' is not a "
		    "number from 0 to 65535", listen, port);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0)
		return ch_errf(e, "listen address '%s': %s", listen,
		    gai_strerror(rc));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sl = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/*
 * New connections are accepted here, by one thread, and handed to the
 * daemon (MHD_add_connection), which gives each to the worker its
 * descriptor picks (the descriptor modulo the pool's size): a burst of
 * connections is dealt out evenly.  Left to the workers, all polling one
 * listening socket, the first awake took them all - 32 connections at
 * once went 32 to 0, or 22 to 10, to two workers, and one worker served
 * most of the load while the other idled.  libmicrohttpd applies the
 * guard's accept policy to these as to its own.
 */
static struct {
	int fd;                     /* the listening socket, -1 before */
	pthread_t th;
	int running;
	atomic_int stop;
	struct MHD_Daemon *d;
} L = { .fd = -1 };

static void *
acceptor(void *arg)
{
	(void)arg;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(L.fd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (atomic_load(&L.stop)) {
			if (fd >= 0)
				close(fd);
			break;
		}
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EAGAIN || errno == EPROTO)
				continue;
			/* out of descriptors or memory (the guard's limit
			 * keeps well below them): a pause, not a spin */
			if (errno != EMFILE && errno != ENFILE &&
			    errno != ENOBUFS && errno != ENOMEM)
				slog("error", "accept failed", json_pack("{s:s}",
				    "error", strerror(errno)));
			nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 },
			    NULL);
			continue;
		}
		/* refused (the guard, the limit): libmicrohttpd closes it;
		 * let in by the guard but not added: the guard forgets it */
		guard_granted();
		if (MHD_add_connection(L.d, fd, (struct sockaddr *)&ss, sl) !=
		    MHD_YES && guard_granted())
			guard_unaccept((struct sockaddr *)&ss);
	}
	return NULL;
}

/* The listening socket on ss, as libmicrohttpd would make it; -1 with
 * errno set. */
static int
listen_socket(const struct sockaddr_storage *ss, socklen_t sl)
{
	int one = 1, err, fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC,
	    0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    (ss->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof one) != 0) ||
	    bind(fd, (const struct sockaddr *)ss, sl) != 0 ||
	    listen(fd, 1024) != 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* No more new connections; those open go on. */
static void
acceptor_stop(void)
{
	if (L.running) {
		atomic_store(&L.stop, 1);
		shutdown(L.fd, SHUT_RDWR);      /* accept(2) returns */
		pthread_join(L.th, NULL);
		L.running = 0;
	}
	if (L.fd >= 0)
		close(L.fd);
	L.fd = -1;
}

/* The handler and the completion callback as the daemon calls them: the
 * guard learns when a request has arrived whole (the handler's last call,
 * with no upload data) and when it has ended. */
static enum MHD_Result
guarded(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upsize, void **ctx)
{
	if (*ctx && !*upsize)
		guard_busy(c);
	return handler(cls, c, url, method, version, upload, upsize, ctx);
}

static void
guarded_completed(void *cls, struct MHD_Connection *c, void **ctx,
    enum MHD_RequestTerminationCode toe)
{
	completed(cls, c, ctx, toe);
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		guard_idle(c);  /* otherwise it is closing */
}

struct MHD_Daemon *
http_start(const char *listen, char *bound, size_t boundlen,
    struct ch_err *e)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	struct MHD_Daemon *d;
	char port[16] = "0";
	unsigned mhd_limit, poolsize = cfg.timeout;
	enum MHD_OPTION pool = MHD_OPTION_CONNECTION_TIMEOUT;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_TURBO |
	    MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_USE_NO_LISTEN_SOCKET;
	char host[128] = "?";
	int rc;

	if (resolve(listen, &ss, &sl, e) != 0)
		return NULL;
	if ((L.fd = listen_socket(&ss, sl)) < 0) {
		ch_errf(e, "cannot listen on '%s': %s", listen, strerror(errno));
		return NULL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* the guard (guard.c) decides which connections to take and keep */
	mhd_limit = guard_init();
	/* one thread: the daemon's own, no pool (libmicrohttpd warns of a
	 * pool of one or none), so the option's place takes the timeout
	 * again */
	if (cfg.threads > 1)
		pool = MHD_OPTION_THREAD_POOL_SIZE, poolsize = cfg.threads;
	if (guard_start(e) != 0) {
		acceptor_stop();
		return NULL;
	}
	d = MHD_start_daemon(flags, 0, guard_accept, NULL, guarded, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    pool, poolsize,
	    MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, cfg.timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16 * 1024,
	    MHD_OPTION_NOTIFY_COMPLETED, guarded_completed, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, guard_notify, NULL,
	    MHD_OPTION_END);
	if (!d) {
		ch_errf(e, "cannot listen on '%s': %s", listen,
		    errno ? strerror(errno) : "libmicrohttpd refused to start");
		acceptor_stop();
		guard_stop();
		return NULL;
	}
	L.d = d;
	atomic_store(&L.stop, 0);
	if ((rc = pthread_create(&L.th, NULL, acceptor, NULL)) != 0) {
		ch_errf(e, "cannot start the accepting thread: %s", strerror(rc));
		MHD_stop_daemon(d);
		acceptor_stop();
		guard_stop();
		return NULL;
	}
	L.running = 1;
	/* the port bound (port 0: the one the kernel chose) */
	sl = sizeof ss;
	getsockname(L.fd, (struct sockaddr *)&ss, &sl);
	getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, port,
	    sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(bound, boundlen, ss.ss_family == AF_INET6 ? "[%s]:%s" :
	    "%s:%s", host, port);
	return d;
}

void
http_drain(void)
{
	atomic_store(&draining, 1);
}

void
http_stop(struct MHD_Daemon *d, double grace)
{
	double until = ch_seconds() + grace;

	atomic_store(&stopping, 1);
	/* stop accepting; connections already open go on */
	acceptor_stop();
	while (atomic_load(&inflight) > 0 && ch_seconds() < until) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	admin_stop();       /* no request stays suspended, answers go out */
	while (atomic_load(&inflight) > 0 && ch_seconds() < until + 2)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	if (atomic_load(&inflight) > 0)
		slog("warn", "requests still running at shutdown",
		    json_pack("{s:I}", "inflight",
		    (json_int_t)atomic_load(&inflight)));
	MHD_stop_daemon(d);
	guard_stop();
}

const struct asset *
asset_find(const char *path)
{
	size_t i;

	for (i = 0; i < nassets; i++)
		if (!strcmp(assets[i].path, path))
			return &assets[i];
	return NULL;
}
