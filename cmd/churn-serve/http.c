/* http.c - libmicrohttpd daemon, routing, requests and answers */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
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
#include "csv.h"
#include "serve.h"

/* One request: its route, start time and body. */
struct req {
	double t0;
	enum route route;
	int status;
	int too_big;
	char *body;
	size_t len, cap;
	char *url;                  /* kept for the access log only */
	char method[8];
};

static atomic_long inflight;
static atomic_int stopping;

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --- answers ------------------------------------------------------ */

static const char JSON[] = "application/json";

static enum MHD_Result
send_buf(struct MHD_Connection *c, struct req *r, int status,
    const char *type, void *buf, size_t len, enum MHD_ResponseMemoryMode mode,
    const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!(resp = MHD_create_response_from_buffer(len, buf, mode))) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer");
	if (atomic_load_explicit(&stopping, memory_order_relaxed))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	r->status = status;
	ret = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Answers with j (stolen) as JSON. */
static enum MHD_Result
send_json(struct MHD_Connection *c, struct req *r, int status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(10)) : NULL;

	json_decref(j);
	if (!s)
		return send_buf(c, r, 500, JSON, "{\"error\":\"out of memory\"}",
		    25, MHD_RESPMEM_PERSISTENT, NULL);
	return send_buf(c, r, status, JSON, s, strlen(s), MHD_RESPMEM_MUST_FREE,
	    NULL);
}

/* {"error": message} with status; allow for 405.  Server-side failures
 * are logged. */
static enum MHD_Result
fail(struct MHD_Connection *c, struct req *r, int status, const char *allow,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum MHD_Result
fail(struct MHD_Connection *c, struct req *r, int status, const char *allow,
    const char *fmt, ...)
{
	char msg[2048], *s;
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (status >= 500)
		slog("error", "request failed", json_pack("{s:s,s:i,s:s}",
		    "route", route_name[r->route], "status", status,
		    "error", msg));
	j = json_pack("{s:s}", "error", msg);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return send_buf(c, r, status, JSON, s, strlen(s), MHD_RESPMEM_MUST_FREE,
	    allow);
}

/* --- helpers -------------------------------------------------------- */

static const char *
header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static const char *
query(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static int
truthy(const char *v)
{
	return v && (!strcmp(v, "1") || !strcasecmp(v, "true") ||
	    !strcasecmp(v, "yes") || !*v);
}

/* Media type of the request without parameters, lowercased, "" when
 * absent. */
static void
media_type(struct MHD_Connection *c, char *out, size_t n)
{
	const char *ct = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t i = 0;

	if (ct)
		for (; ct[i] && ct[i] != ';' && ct[i] != ' ' && i + 1 < n; i++)
			out[i] = (char)tolower((unsigned char)ct[i]);
	out[i] = '\0';
}

enum body_kind { B_JSON, B_JSONL, B_CSV, B_FORM, B_UNKNOWN };

static enum body_kind
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
static int
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

static int
admin_ok(struct MHD_Connection *c)
{
	return ch_bearer_ok(header(c, MHD_HTTP_HEADER_AUTHORIZATION),
	    cfg.admin_token);
}

/* p rounded to six decimals, as churn-predict prints it (jansson's
 * JSON_REAL_PRECISION(6) of round(p * 1e6) / 1e6), so that the answers of
 * both compare equal as text. */
static int
fmt_prob(char *buf, size_t n, double p)
{
	int k = snprintf(buf, n, "%.6g", round(p * 1e6) / 1e6);

	if (k > 0 && (size_t)k + 2 < n && !strpbrk(buf, ".e"))
		k += snprintf(buf + k, n - (size_t)k, ".0");
	return k;
}

/* CSV form: six decimals, as churn-predict */
static void
put_prob(FILE *fp, double p)
{
	long u = lround(p * 1e6);

	if (u >= 1000000)
		fputs("1.000000", fp);
	else
		fprintf(fp, "0.%06ld", u < 0 ? 0 : u);
}

/* --- prediction --------------------------------------------------- */

struct delta {
	int feat;
	double d;
};

static int
by_abs_delta(const void *a, const void *b)
{
	const struct delta *x = a, *y = b;
	double dx = fabs(x->d), dy = fabs(y->d);

	if (dx != dy)
		return dx < dy ? 1 : -1;
	return x->feat - y->feat;
}

/* Per-feature explanation: p minus the probability with that feature
 * set to its reference value, largest change first. */
static json_t *
explain(const struct loaded *l, json_t *obj, uint8_t *codes, double p)
{
	const struct ch_schema *s = l->m->schema;
	struct delta *d = ch_calloc((size_t)s->nfeat, sizeof *d);
	json_t *out = json_array();
	int i;

	for (i = 0; i < s->nfeat; i++) {
		uint8_t save = codes[i];

		codes[i] = l->refcode[i];
		d[i].feat = i;
		d[i].d = p - ch_model_predict(l->m, codes);
		codes[i] = save;
	}
	qsort(d, (size_t)s->nfeat, sizeof *d, by_abs_delta);
	for (i = 0; i < s->nfeat; i++) {
		const char *name = s->f[d[i].feat].name;
		json_t *v = json_object_get(obj, name);

		json_array_append_new(out, json_pack("{s:s,s:O,s:O,s:f}",
		    "feature", name, "value", v ? v : json_null(),
		    "reference", l->refval[d[i].feat], "delta", d[i].d));
	}
	free(d);
	return out;
}

/* Scores one JSON object; appends its answer to fp.  Returns 0, or 422
 * with msg/field filled. */
static int
score_object(const struct loaded *l, json_t *obj, const char *raw,
    size_t rawlen, int want_explain, uint8_t *codes, FILE *fp, char *msg,
    size_t msglen, const char **field)
{
	const struct ch_schema *s = l->m->schema;
	struct ch_err e;
	int bad = -1;
	double p;
	char pb[32];
	json_t *id;

	if (ch_encode_json(s, obj, codes, NULL, &bad, &e) != 0) {
		snprintf(msg, msglen, "%s", e.msg);
		*field = bad >= 0 && bad < s->nfeat ? s->f[bad].name : NULL;
		return 422;
	}
	p = ch_model_predict(l->m, codes);
	fmt_prob(pb, sizeof pb, p);
	/* the customer's id, when the schema has one and the object too */
	id = s->id ? json_object_get(obj, s->id) : NULL;
	if (!json_is_string(id) && !json_is_integer(id))
		id = NULL;
	if (!want_explain) {
		putc('{', fp);
		if (id) {
			json_t *k = json_string(s->id);

			json_dumpf(k, fp, JSON_ENCODE_ANY);
			putc(':', fp);
			json_dumpf(id, fp, JSON_ENCODE_ANY);
			putc(',', fp);
			json_decref(k);
		}
		fprintf(fp, "\"churn_probability\":%s,\"churn\":%s,"
		    "\"model_version\":\"%s\"}", pb,
		    p >= l->m->threshold ? "true" : "false", l->m->version);
	} else {
		json_t *j = json_object();
		char *t;

		if (id)
			json_object_set(j, s->id, id);
		json_object_set_new(j, "churn_probability",
		    json_real(round(p * 1e6) / 1e6));
		json_object_set_new(j, "churn",
		    json_boolean(p >= l->m->threshold));
		json_object_set_new(j, "model_version",
		    json_string(l->m->version));
		json_object_set_new(j, "explanation",
		    explain(l, obj, codes, p));
		t = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
		    JSON_REAL_PRECISION(6));

		fputs(t ? t : "null", fp);
		free(t);
		json_decref(j);
	}
	if (raw)
		window_add_raw(s, obj, raw, rawlen, p, l->m->version);
	else
		window_add(s, obj, p, l->m->version);
	return 0;
}

static enum MHD_Result
fail_field(struct MHD_Connection *c, struct req *r, const char *msg,
    const char *field)
{
	json_t *j = json_pack("{s:s}", "error", msg);

	if (field)
		json_object_set_new(j, "field", json_string(field));
	return send_json(c, r, 422, j);
}

/* Writes one CSV field, quoted when it needs to be. */
static void
csv_field(FILE *fp, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, fp);
		return;
	}
	putc('"', fp);
	for (; *s; s++) {
		if (*s == '"')
			putc('"', fp);
		putc(*s, fp);
	}
	putc('"', fp);
}

/* text/csv: a header naming the features (extra columns ignored), one
 * customer a row; answers as churn-predict does: id (the schema's id
 * column, else the row number), churn_probability, churn (1/0). */
static enum MHD_Result
predict_csv(struct MHD_Connection *c, struct req *r, const struct loaded *l)
{
	const struct ch_schema *s = l->m->schema;
	struct ch_err e;
	struct ch_record rec;
	struct ch_csv *cs;
	FILE *in, *out;
	char *obuf = NULL, *idname = NULL;
	size_t olen = 0;
	int *col, idcol = -1, rc, i, status = 0;
	uint8_t *codes;
	long rows = 0;
	char msg[1200];
	const char *field = NULL;

	if (r->len == 0)
		return fail(c, r, 400, NULL, "empty request body: expected "
		    "a CSV header and rows");
	if (!(in = fmemopen(r->body, r->len, "r")))
		return fail(c, r, 500, NULL, "fmemopen: %s", strerror(errno));
	if (!(cs = ch_csv_open(in, "request body", &e))) {
		fclose(in);
		return fail(c, r, 500, NULL, "%s", e.msg);
	}
	if ((rc = ch_csv_next(cs, &rec, &e)) <= 0) {
		ch_csv_close(cs), fclose(in);
		return rc < 0 ? fail(c, r, 400, NULL, "%s", e.msg) :
		    fail(c, r, 400, NULL, "request body: no CSV header");
	}
	col = ch_calloc((size_t)s->nfeat, sizeof *col);
	if (ch_schema_map_header(s, rec.field, rec.n, col, &idcol,
	    "request body", &e) != 0) {
		free(col), ch_csv_close(cs), fclose(in);
		return fail_field(c, r, e.msg, NULL);
	}
	/* the answer is churn-predict's CSV: id (or row number), p, 0/1 */
	idname = ch_strdup(idcol >= 0 ? rec.field[idcol] : "row");
	codes = ch_malloc((size_t)s->nfeat);
	out = open_memstream(&obuf, &olen);
	csv_field(out, idname);
	fputs(",churn_probability,churn\n", out);
	while ((rc = ch_csv_next(cs, &rec, &e)) > 0) {
		json_t *raw = json_object();
		double p;

		for (i = 0; i < s->nfeat; i++) {
			const char *v;
			size_t vl;

			if ((size_t)col[i] >= rec.n) {
				snprintf(msg, sizeof msg, "request body:%ld: "
				    "%zu fields, the header has more", rec.line,
				    rec.n);
				status = 422;
				break;
			}
			v = rec.field[col[i]];
			vl = rec.len[col[i]];
			if (ch_encode_cell(&s->f[i], v, vl, &codes[i]) < 0) {
				snprintf(msg, sizeof msg, "request body:%ld: "
				    "column '%s': '%.100s' is not a number",
				    rec.line, s->f[i].name, v);
				field = s->f[i].name;
				status = 422;
				break;
			}
			json_object_set_new(raw, s->f[i].name,
			    ch_is_missing(v, vl) ? json_null() :
			    json_stringn(v, vl));
		}
		if (status) {
			json_decref(raw);
			break;
		}
		p = ch_model_predict(l->m, codes);
		window_add(s, raw, p, l->m->version);
		json_decref(raw);
		rows++;
		if (idcol >= 0)
			csv_field(out, rec.field[idcol]);
		else
			fprintf(out, "%ld", rows);
		putc(',', out);
		put_prob(out, p);
		fputs(p >= l->m->threshold ? ",1\n" : ",0\n", out);
	}
	if (rc < 0 && !status) {
		snprintf(msg, sizeof msg, "%s", e.msg);
		status = 400;
	}
	fclose(out);
	free(codes), free(col), free(idname);
	ch_csv_close(cs), fclose(in);
	metrics_predictions(rows);
	if (status == 422) {
		free(obuf);
		return fail_field(c, r, msg, field);
	}
	if (status) {
		free(obuf);
		return fail(c, r, status, NULL, "%s", msg);
	}
	return send_buf(c, r, 200, "text/csv; charset=utf-8", obuf, olen,
	    MHD_RESPMEM_MUST_FREE, NULL);
}

static enum MHD_Result
predict(struct MHD_Connection *c, struct req *r)
{
	struct loaded *l;
	char mt[64], msg[1200], *obuf = NULL;
	const char *field = NULL;
	size_t olen = 0, i;
	enum body_kind k;
	json_error_t jerr;
	json_t *j;
	uint8_t *codes;
	FILE *fp;
	int status = 0, ex;
	enum MHD_Result ret;

	media_type(c, mt, sizeof mt);
	if ((k = body_kind(mt)) == B_UNKNOWN || k == B_JSONL)
		return fail(c, r, 415, NULL, "content type '%s' is not "
		    "accepted: send application/json or text/csv", mt);
	if (!(l = model_acquire()))
		return fail(c, r, 503, NULL, "no model loaded");
	if (k == B_CSV) {
		ret = predict_csv(c, r, l);
		model_release(l);
		return ret;
	}
	if (!(j = json_loadb(r->body ? r->body : "", r->len, 0, &jerr))) {
		model_release(l);
		return fail(c, r, 400, NULL, "request body: line %d, column %d: "
		    "%s", jerr.line, jerr.column, jerr.text);
	}
	ex = truthy(query(c, "explain"));
	codes = ch_malloc((size_t)l->m->schema->nfeat);
	fp = open_memstream(&obuf, &olen);
	if (json_is_object(j)) {
		status = score_object(l, j, r->body, r->len, ex, codes, fp,
		    msg, sizeof msg, &field);
		if (!status)
			metrics_predictions(1);
	} else if (json_is_array(j)) {
		json_t *o;

		putc('[', fp);
		json_array_foreach(j, i, o) {
			if (!json_is_object(o)) {
				snprintf(msg, sizeof msg, "[%zu]: expected a "
				    "JSON object (one customer)", i);
				status = 422;
				break;
			}
			if (i)
				putc(',', fp);
			if ((status = score_object(l, o, NULL, 0, ex, codes,
			    fp, msg, sizeof msg, &field))) {
				char t[sizeof msg];

				snprintf(t, sizeof t, "[%zu]: %.1100s", i, msg);
				memcpy(msg, t, sizeof msg);
				break;
			}
		}
		putc(']', fp);
		if (!status)
			metrics_predictions((long)json_array_size(j));
	} else {
		snprintf(msg, sizeof msg, "request body: expected a JSON "
		    "object (one customer) or an array of them");
		status = 400;
	}
	fclose(fp);
	free(codes);
	json_decref(j);
	model_release(l);
	if (status == 422) {
		free(obuf);
		return fail_field(c, r, msg, field);
	}
	if (status) {
		free(obuf);
		return fail(c, r, status, NULL, "%s", msg);
	}
	return send_buf(c, r, 200, JSON, obuf, olen, MHD_RESPMEM_MUST_FREE,
	    NULL);
}

/* --- admin: reload, drift check, retrain, webhook -------------------- */

static enum MHD_Result
reload(struct MHD_Connection *c, struct req *r)
{
	struct ch_err e;
	char v[17];
	const char *name = query(c, "model");
	struct loaded *l = model_acquire();
	json_t *prev = l ? json_string(l->m->version) : json_null();

	model_release(l);
	if (name && !*name)
		name = NULL;
	if (model_reload(name, v, &e) != 0) {
		json_t *j;

		slog("error", "reload failed", json_pack("{s:s,s:O}", "error",
		    e.msg, "model_version", prev));
		j = json_pack("{s:s,s:b,s:o}", "error", e.msg, "reloaded", 0,
		    "model_version", prev);
		return send_json(c, r, 500, j);
	}
	slog("info", "reloaded", json_pack("{s:s,s:O,s:s}", "model_version", v,
	    "previous", prev, "source", name ? name : cfg.model));
	return send_json(c, r, 200, json_pack("{s:b,s:s,s:o}", "reloaded", 1,
	    "model_version", v, "previous", prev));
}

/* Runs `drift_cmd -m MODEL [--json-in] -` over the posted data or the
 * live-traffic window; exit 0 or 1 both carry a report. */
static enum MHD_Result
drift_check(struct MHD_Connection *c, struct req *r)
{
	struct child_result res;
	struct loaded *l;
	struct ch_err e;
	char mt[64], *data, *argv[8];
	size_t len;
	long rows = 0;
	int jsonl, n = 0, posted = r->len > 0;
	json_t *rep;
	enum MHD_Result ret;

	if (!(l = model_acquire()))
		return fail(c, r, 503, NULL, "no model loaded");
	if (posted) {
		media_type(c, mt, sizeof mt);
		switch (body_kind(mt)) {
		case B_CSV:
			jsonl = 0;
			break;
		case B_JSON:
		case B_JSONL:
			jsonl = 1;
			break;
		case B_FORM:        /* curl --data-binary @file: sniff it */
			jsonl = r->body[strspn(r->body, " \t\r\n")] == '{';
			break;
		default:
			model_release(l);
			return fail(c, r, 415, NULL, "content type '%s' is not "
			    "accepted: send text/csv or application/x-ndjson",
			    mt);
		}
		data = r->body;
		len = r->len;
	} else {
		data = window_snapshot(&len, &rows);
		jsonl = 1;
		if (len == 0) {
			free(data);
			model_release(l);
			return fail(c, r, 422, NULL, "the live-traffic window "
			    "is empty: score some customers first, or post "
			    "CSV or JSON lines to check");
		}
	}
	argv[n++] = (char *)cfg.drift_cmd;
	argv[n++] = "-m";
	argv[n++] = l->path;
	if (jsonl)
		argv[n++] = "--json-in";
	argv[n++] = "-";
	argv[n] = NULL;
	if (bridge_run(argv, data, len, cfg.child_timeout,
	    cfg.child_output_limit, &res, &e) != 0) {
		if (!posted)
			free(data);
		model_release(l);
		return fail(c, r, 500, NULL, "%s: %s", cfg.drift_cmd, e.msg);
	}
	if (!posted)
		free(data);
	model_release(l);
	if (res.timed_out) {
		bridge_result_free(&res);
		return fail(c, r, 504, NULL, "%s: no answer within %g s",
		    cfg.drift_cmd, cfg.child_timeout);
	}
	if (res.too_big) {
		bridge_result_free(&res);
		return fail(c, r, 502, NULL, "%s: report larger than %zu bytes",
		    cfg.drift_cmd, cfg.child_output_limit);
	}
	if (!res.exited || (res.code != 0 && res.code != 1)) {
		char *nl, *last = res.err;

		/* the last line of its stderr says what went wrong */
		while ((nl = strrchr(res.err, '\n')) && nl[1] == '\0')
			*nl = '\0';
		if ((nl = strrchr(res.err, '\n')))
			last = nl + 1;
		ret = res.exited && posted && res.code == 2 ?
		    fail(c, r, 422, NULL, "%s", *last ? last :
		    "the posted data could not be checked") :
		    fail(c, r, 502, NULL, "%s %s %d: %s", cfg.drift_cmd,
		    res.exited ? "exited with" : "killed by signal", res.code,
		    *last ? last : "no message");
		bridge_result_free(&res);
		return ret;
	}
	if (!(rep = json_loadb(res.out, res.outlen, 0, NULL)) ||
	    !json_is_object(rep)) {
		json_decref(rep);
		bridge_result_free(&res);
		return fail(c, r, 502, NULL, "%s printed no JSON report",
		    cfg.drift_cmd);
	}
	bridge_result_free(&res);
	/* the exit status is the verdict when the report lacks it */
	if (!json_object_get(rep, "drift"))
		json_object_set_new(rep, "drift", json_boolean(res.code == 1));
	if (drift_record(rep, &e) != 0)
		slog("error", "drift report not recorded", json_pack("{s:s}",
		    "error", e.msg));
	metrics_drift(json_is_true(json_object_get(rep, "drift")),
	    json_number_value(json_object_get(rep, "drift_share")),
	    json_string_value(json_object_get(rep, "model_version")));
	slog("info", "drift checked", json_pack("{s:b,s:s,s:I}", "drift",
	    json_is_true(json_object_get(rep, "drift")), "data",
	    posted ? "posted" : "window", "rows",
	    (json_int_t)(posted ? 0 : rows)));
	return send_json(c, r, 200, rep);
}

static enum MHD_Result
retrain(struct MHD_Connection *c, struct req *r)
{
	struct child_result res;
	struct ch_err e;
	char *argv[] = { "/bin/sh", "-c", (char *)cfg.retrain_cmd, NULL };
	json_t *j;

	if (!cfg.retrain_cmd)
		return fail(c, r, 503, NULL, "retraining is not configured "
		    "(--retrain-cmd)");
	slog("info", "retrain started", NULL);
	if (bridge_run(argv, r->body, r->len, cfg.retrain_timeout,
	    cfg.child_output_limit, &res, &e) != 0)
		return fail(c, r, 500, NULL, "retrain: %s", e.msg);
	if (res.timed_out || res.too_big || !res.exited || res.code != 0) {
		enum MHD_Result ret = res.timed_out ?
		    fail(c, r, 504, NULL, "retrain: no answer within %g s",
		    cfg.retrain_timeout) : res.too_big ?
		    fail(c, r, 502, NULL, "retrain: output larger than %zu bytes",
		    cfg.child_output_limit) :
		    fail(c, r, 502, NULL, "retrain: %s %d: %s", res.exited ?
		    "exited with" : "killed by signal", res.code, res.err);
		bridge_result_free(&res);
		return ret;
	}
	if (!(j = json_loadb(res.out, res.outlen, 0, NULL)))
		j = json_pack("{s:s%}", "output", res.out, res.outlen);
	bridge_result_free(&res);
	slog("info", "retrain finished", NULL);
	return send_json(c, r, 200, j);
}

static enum MHD_Result
github_hook(struct MHD_Connection *c, struct req *r)
{
	const char *sig = header(c, "X-Hub-Signature-256");
	const char *ev = header(c, "X-GitHub-Event");
	const char *delivery = header(c, "X-GitHub-Delivery");
	char mt[64], logpath[4096], *env[4];
	char eref[600], esha[120], edel[120];
	struct ch_err e;
	json_t *j;
	pid_t pid;

	if (!cfg.webhook_secret)
		return fail(c, r, 503, NULL, "webhooks are not configured "
		    "(CHURN_WEBHOOK_SECRET)");
	media_type(c, mt, sizeof mt);
	if (strcmp(mt, "application/json") != 0)
		return fail(c, r, 415, NULL, "content type '%s' is not "
		    "accepted: configure the webhook with application/json", mt);
	if (!sig)
		return fail(c, r, 401, NULL, "missing X-Hub-Signature-256");
	if (!ch_signature_ok(sig, cfg.webhook_secret, r->body ? r->body : "",
	    r->len)) {
		slog("warn", "webhook signature mismatch", NULL);
		return fail(c, r, 401, NULL, "X-Hub-Signature-256 does not "
		    "match the body");
	}
	if (!ev)
		return fail(c, r, 400, NULL, "missing X-GitHub-Event");
	if (!(j = json_loadb(r->body ? r->body : "", r->len, 0, NULL)) ||
	    !json_is_object(j)) {
		json_decref(j);
		return fail(c, r, 400, NULL, "webhook payload is not a JSON "
		    "object");
	}
	if (!strcmp(ev, "ping")) {
		json_decref(j);
		return send_json(c, r, 200, json_pack("{s:b,s:s}", "ok", 1,
		    "event", "ping"));
	}
	if (strcmp(ev, "push") != 0) {
		json_decref(j);
		return fail(c, r, 400, NULL, "event '%s' is not accepted: "
		    "push only", ev);
	}
	if (!cfg.pipeline_cmd) {
		json_decref(j);
		return fail(c, r, 503, NULL, "no pipeline is configured "
		    "(--pipeline-cmd)");
	}
	snprintf(eref, sizeof eref, "CHURN_HOOK_REF=%s",
	    json_string_value(json_object_get(j, "ref")) ?
	    json_string_value(json_object_get(j, "ref")) : "");
	snprintf(esha, sizeof esha, "CHURN_HOOK_SHA=%s",
	    json_string_value(json_object_get(j, "after")) ?
	    json_string_value(json_object_get(j, "after")) : "");
	snprintf(edel, sizeof edel, "CHURN_HOOK_DELIVERY=%s",
	    delivery ? delivery : "");
	json_decref(j);
	env[0] = eref, env[1] = esha, env[2] = edel, env[3] = NULL;
	snprintf(logpath, sizeof logpath, "%s/pipeline.log", cfg.state_dir);
	if ((pid = bridge_background(cfg.pipeline_cmd, logpath, env, &e)) < 0)
		return fail(c, r, 500, NULL, "pipeline: %s", e.msg);
	slog("info", "pipeline started", json_pack("{s:i,s:s,s:s}", "pid",
	    (int)pid, "ref", eref + 15, "delivery", delivery ? delivery : ""));
	return send_json(c, r, 202, json_pack("{s:b,s:s,s:i}", "accepted", 1,
	    "event", "push", "pid", (int)pid));
}

/* --- read-only routes ---------------------------------------------- */

static enum MHD_Result
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

static enum MHD_Result
ready(struct MHD_Connection *c, struct req *r)
{
	struct loaded *l = model_acquire();

	if (!l)
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

static enum MHD_Result
models(struct MHD_Connection *c, struct req *r)
{
	struct ch_err e;
	json_t *j = models_list(&e);

	if (!j)
		return fail(c, r, 502, NULL, "registry: %s", e.msg);
	return send_json(c, r, 200, j);
}

static enum MHD_Result
reports(struct MHD_Connection *c, struct req *r)
{
	const char *lim = query(c, "limit");
	struct ch_err e;
	json_t *j;
	long n = 100;

	if (lim) {
		char *end;
		n = strtol(lim, &end, 10);
		if (*end || n <= 0 || n > 10000)
			return fail(c, r, 400, NULL, "limit '%s' is not a number "
			    "from 1 to 10000", lim);
	}
	if (!(j = drift_reports((int)n, &e)))
		return fail(c, r, 502, NULL, "drift history: %s", e.msg);
	return send_json(c, r, 200, j);
}

static enum MHD_Result
metrics(struct MHD_Connection *c, struct req *r)
{
	size_t len;
	char *s = metrics_render(&len);

	return send_buf(c, r, 200, "text/plain; version=0.0.4; charset=utf-8",
	    s, len, MHD_RESPMEM_MUST_FREE, NULL);
}

static enum MHD_Result
ui(struct MHD_Connection *c, struct req *r, const char *url)
{
	const struct asset *a = NULL;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (r->route == R_FAVICON && !(a = asset_find("favicon.ico")))
		return send_buf(c, r, 204, "image/x-icon", "", 0,
		    MHD_RESPMEM_PERSISTENT, NULL);
	if (r->route == R_UI)
		a = asset_find("index.html");
	else if (r->route == R_STATIC && !(a = asset_find(url + 1)))
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
	r->status = 200;
	ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* --- routing ------------------------------------------------------- */

static const struct {
	const char *path;
	enum route route;
	int post;                   /* 1: POST only; 0: GET and HEAD */
	int admin;                  /* needs the bearer token */
	int body;                   /* needs a body */
} routes[] = {
	{ "/", R_UI, 0, 0, 0 },
	{ "/index.html", R_UI, 0, 0, 0 },
	{ "/favicon.ico", R_FAVICON, 0, 0, 0 },
	{ "/health", R_HEALTH, 0, 0, 0 },
	{ "/ready", R_READY, 0, 0, 0 },
	{ "/predict/schema", R_SCHEMA, 0, 0, 0 },
	{ "/predict", R_PREDICT, 1, 0, 1 },
	{ "/model", R_MODEL, 0, 0, 0 },
	{ "/models", R_MODELS, 0, 0, 0 },
	{ "/drift/reports", R_DRIFT_REPORTS, 0, 0, 0 },
	{ "/drift/check", R_DRIFT_CHECK, 1, 1, 0 },
	{ "/reload", R_RELOAD, 1, 1, 0 },
	{ "/retrain", R_RETRAIN, 1, 1, 0 },
	{ "/hooks/github", R_HOOK, 1, 0, 1 },
	{ "/metrics", R_METRICS, 0, 0, 0 },
};
#define NROUTES (sizeof routes / sizeof routes[0])

static int
route_of(const char *url)
{
	size_t i;

	for (i = 0; i < NROUTES; i++)
		if (!strcmp(url, routes[i].path))
			return (int)i;
	return -1;
}

static enum MHD_Result
dispatch(struct MHD_Connection *c, struct req *r, const char *url,
    const char *method, int i)
{
	int post = !strcmp(method, "POST");
	int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");

	if (r->route == R_STATIC) {
		if (!get)
			return fail(c, r, 405, "GET, HEAD", "%s %s: method not "
			    "allowed", method, url);
		return ui(c, r, url);
	}
	if (i < 0)
		return fail(c, r, 404, NULL, "no such route: %s", url);
	if (routes[i].post ? !post : !get)
		return fail(c, r, 405, routes[i].post ? "POST" : "GET, HEAD",
		    "%s %s: method not allowed", method, url);
	if (routes[i].admin && !admin_ok(c)) {
		slog("warn", "unauthorised", json_pack("{s:s}", "route", url));
		return fail(c, r, 401, NULL, "%s: a valid "
		    "'Authorization: Bearer' token is required", url);
	}
	/* /reload and /drift/check may come without a body (curl -X POST) */
	if (routes[i].post && routes[i].body && !has_length(c))
		return fail(c, r, 411, NULL, "%s: a body length is required "
		    "(Content-Length)", url);
	if (r->too_big)
		return fail(c, r, 413, NULL, "%s: body larger than %zu bytes",
		    url, cfg.body_limit);
	switch (r->route) {
	case R_UI:
	case R_FAVICON:
		return ui(c, r, url);
	case R_HEALTH:
		return health(c, r);
	case R_READY:
		return ready(c, r);
	case R_SCHEMA:
		return model_json(c, r, 1);
	case R_MODEL:
		return model_json(c, r, 0);
	case R_MODELS:
		return models(c, r);
	case R_DRIFT_REPORTS:
		return reports(c, r);
	case R_METRICS:
		return metrics(c, r);
	case R_PREDICT:
		return predict(c, r);
	case R_RELOAD:
		return reload(c, r);
	case R_DRIFT_CHECK:
		return drift_check(c, r);
	case R_RETRAIN:
		return retrain(c, r);
	case R_HOOK:
		return github_hook(c, r);
	default:
		return fail(c, r, 404, NULL, "no such route: %s", url);
	}
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upsize, void **ctx)
{
	struct req *r = *ctx;
	int i;

	(void)cls, (void)version;
	if (!r) {
		const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);

		r = ch_calloc(1, sizeof *r);
		r->t0 = mono();
		*ctx = r;
		atomic_fetch_add(&inflight, 1);
		i = route_of(url);
		r->route = i >= 0 ? routes[i].route :
		    !strncmp(url, "/static/", 8) ? R_STATIC : R_NOTFOUND;
		if (cfg.access_log) {
			r->url = ch_strdup(url);
			snprintf(r->method, sizeof r->method, "%s", method);
		}
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
	return dispatch(c, r, url, method, route_of(url));
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
	dt = mono() - r->t0;
	metrics_request(r->route, r->status, dt);
	if (cfg.access_log)
		slog("info", "request", json_pack("{s:s,s:s,s:i,s:f,s:I}",
		    "method", r->method, "path", r->url ? r->url : "",
		    "status", r->status, "ms", dt * 1e3,
		    "bytes_in", (json_int_t)r->len));
	free(r->body);
	free(r->url);
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
	slog("warn", "libmicrohttpd", json_pack("{s:s}", "detail", msg));
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

struct MHD_Daemon *
http_start(const char *listen, char *bound, size_t boundlen,
    struct ch_err *e)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *di;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_TURBO |
	    MHD_USE_ERROR_LOG;
	char host[128] = "?";

	if (resolve(listen, &ss, &sl, e) != 0)
		return NULL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d = MHD_start_daemon(flags, 0, NULL, NULL, handler, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, cfg.threads,
	    MHD_OPTION_CONNECTION_LIMIT, cfg.conn_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, cfg.timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16 * 1024,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_END);
	if (!d) {
		ch_errf(e, "cannot listen on '%s': %s", listen,
		    errno ? strerror(errno) : "libmicrohttpd refused to start");
		return NULL;
	}
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, NULL, 0,
	    NI_NUMERICHOST);
	snprintf(bound, boundlen, ss.ss_family == AF_INET6 ? "[%s]:%u" :
	    "%s:%u", host, di ? di->port : 0);
	return d;
}

void
http_stop(struct MHD_Daemon *d, double grace)
{
	double until = mono() + grace;
	MHD_socket s;

	atomic_store(&stopping, 1);
	/* stop accepting; connections already open go on */
	if ((s = MHD_quiesce_daemon(d)) != MHD_INVALID_SOCKET)
		close(s);
	while (atomic_load(&inflight) > 0 && mono() < until) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&inflight) > 0)
		slog("warn", "requests still running at shutdown",
		    json_pack("{s:I}", "inflight",
		    (json_int_t)atomic_load(&inflight)));
	MHD_stop_daemon(d);
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
