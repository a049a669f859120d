/* predict.c - POST /predict: JSON object, array or CSV in; explanations */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "http.h"

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

/*
 * What churn-predict says on stderr, said in the answer: each value of a
 * categorical feature that training never saw (a number there included)
 * is scored as missing, with a warning naming the field and the value.
 * Returns the list of warnings, or NULL when there are none.
 */
static json_t *
unseen_warnings(const struct ch_schema *s, json_t *obj, const uint8_t *codes)
{
	json_t *w = NULL, *v;
	char msg[512], *num;
	const char *t;
	size_t n;
	int i;

	for (i = 0; i < s->nfeat; i++) {
		if (s->f[i].type != CH_CATEGORICAL || codes[i] != CH_MISSING)
			continue;
		v = json_object_get(obj, s->f[i].name);
		if (json_is_string(v)) {
			t = json_string_value(v);
			if (ch_is_missing(t, n = json_string_length(v)))
				continue;
			/* at most 64 bytes, not cut inside a character */
			if (n > 64)
				for (n = 64; n > 0 &&
				    ((unsigned char)t[n] & 0xc0) == 0x80; n--)
					;
			snprintf(msg, sizeof msg, "field '%s': '%.*s'%s is a "
			    "category unseen in training, scored as missing",
			    s->f[i].name, (int)n, t,
			    n < json_string_length(v) ? "..." : "");
		} else if (json_is_number(v) &&
		    (num = json_dumps(v, JSON_ENCODE_ANY))) {
			snprintf(msg, sizeof msg, "field '%s': %s is a number, "
			    "not a category seen in training, scored as missing",
			    s->f[i].name, num);
			free(num);
		} else
			continue;
		if (!w)
			w = json_array();
		json_array_append_new(w, jtext(msg));
	}
	return w;
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
	json_t *id, *warn;

	if (ch_encode_json(s, obj, codes, NULL, NULL, &bad, &e) != 0) {
		snprintf(msg, msglen, "%s", e.msg);
		*field = bad >= 0 && bad < s->nfeat ? s->f[bad].name : NULL;
		return 422;
	}
	p = ch_model_predict(l->m, codes);
	fmt_prob(pb, sizeof pb, p);
	warn = unseen_warnings(s, obj, codes);
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
		    "\"model_version\":\"%s\"", pb,
		    p >= l->m->threshold ? "true" : "false", l->m->version);
		if (warn) {
			fputs(",\"warnings\":", fp);
			json_dumpf(warn, fp, JSON_COMPACT);
			json_decref(warn);
		}
		putc('}', fp);
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
		if (warn)
			json_object_set_new(j, "warnings", warn);
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

enum MHD_Result
fail_field(struct MHD_Connection *c, struct req *r, const char *msg,
    const char *field)
{
	json_t *j = json_pack("{s:o}", "error", jtext(msg));

	if (j && field)
		json_object_set_new(j, "field", jtext(field));
	return send_json(c, r, 422, j);
}

/* The answer to a scoring request: the output (status 0), or the error,
 * 422 naming the field; obuf is freed either way. */
static enum MHD_Result
answer(struct MHD_Connection *c, struct req *r, int status, const char *msg,
    const char *field, const char *ctype, char *obuf, size_t olen)
{
	if (status == 0)
		return send_buf(c, r, 200, ctype, obuf, olen,
		    MHD_RESPMEM_MUST_FREE, NULL);
	free(obuf);
	if (status == 422)
		return fail_field(c, r, msg, field);
	return fail(c, r, status, NULL, "%s", msg);
}

/* The CSV route's run: the answer's stream and the model. */
struct csv_run {
	FILE *out;
	const struct loaded *l;
};

static int
csv_out(void *arg, const char *s, size_t n, struct ch_err *e)
{
	(void)e;
	fwrite(s, 1, n, ((struct csv_run *)arg)->out);
	return 0;
}

/* Each scored row joins the live window, as a JSON one does. */
static void
csv_row(void *arg, const struct ch_record *rec, const struct ch_cols *cols,
    double p)
{
	const struct loaded *l = ((struct csv_run *)arg)->l;
	const struct ch_schema *s = l->m->schema;
	json_t *raw = json_object();
	const char *v;
	size_t vl;
	int i;

	for (i = 0; i < s->nfeat; i++) {
		v = rec->field[cols->col[i]];
		vl = rec->len[cols->col[i]];
		json_object_set_new(raw, s->f[i].name, ch_is_missing(v, vl) ?
		    json_null() : jtextn(v, vl));
	}
	window_add(s, raw, p, l->m->version);
	json_decref(raw);
}

/* churn-predict's warning of unseen categories (unseen[nfeat] counts per
 * feature) as a Warning header value, or NULL when there were none. */
static char *
unseen_header(const struct ch_schema *s, const size_t *unseen)
{
	char *h = NULL, *p;
	size_t len = 0, total = 0, used = 0;
	FILE *fp;
	int i;

	for (i = 0; i < s->nfeat; i++)
		total += unseen[i];
	if (!total || !(fp = open_memstream(&h, &len)))
		return NULL;
	fprintf(fp, "299 churn-serve \"%zu values of categories unseen in "
	    "training treated as missing (", total);
	for (i = 0; i < s->nfeat; i++)
		if (unseen[i])
			fprintf(fp, "%s%s: %zu", used++ ? ", " : "",
			    s->f[i].name, unseen[i]);
	fputs(")\"", fp);
	if (fclose(fp) != 0 || !h) {
		free(h);
		return NULL;
	}
	/* a quoted-string of one line: no quote, backslash or control
	 * character from a feature's name */
	for (p = h + 17; p[1]; p++)
		if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\' ||
		    *p == 0x7f)
			*p = '?';
	return h;
}

/* text/csv: a header naming the features (extra columns ignored), one
 * customer a row; answers as churn-predict does (libchurn's batch
 * scorer): id (the schema's id column, else the row number),
 * churn_probability, churn (1/0). */
static enum MHD_Result
predict_csv(struct MHD_Connection *c, struct req *r, const struct loaded *l)
{
	const struct ch_schema *s = l->m->schema;
	struct csv_run run = { .l = l };
	struct ch_batch_opts o = { .m = l->m, .name = "request body",
	    .threshold = l->m->threshold, .jobs = 1, .out = csv_out,
	    .row = csv_row, .arg = &run };
	struct ch_batch_stats st = { 0 };
	struct ch_err e;
	FILE *in;
	char *obuf = NULL;
	size_t olen = 0;
	int status = 0;

	if (r->len == 0)
		return fail(c, r, 400, NULL, "empty request body: expected "
		    "a CSV header and rows");
	if (!(in = fmemopen(r->body, r->len, "r")))
		return fail(c, r, 500, NULL, "fmemopen: %s", strerror(errno));
	st.unseen = ch_calloc((size_t)s->nfeat, sizeof *st.unseen);
	run.out = open_memstream(&obuf, &olen);
	if (ch_batch_score(in, &o, &st, &e) != 0)
		status = st.bad_row ? 422 : 400;
	fclose(run.out);
	fclose(in);
	if (!status)
		r->warning = unseen_header(s, st.unseen);
	free(st.unseen);
	metrics_predictions((long)st.rows);
	return answer(c, r, status, e.msg, st.bad >= 0 ?
	    s->f[st.bad].name : NULL, "text/csv; charset=utf-8",
	    obuf, olen);
}

enum MHD_Result
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
	return answer(c, r, status, msg, field, JSON, obuf, olen);
}

