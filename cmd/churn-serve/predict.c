/* predict.c - POST /predict: JSON object, array or CSV in; explanations */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "http.h"
#include "jsonflat.h"
#include "rollout.h"

/* p rounded to six decimals, as churn-predict prints it (jansson's
 * JSON_REAL_PRECISION(6) of round(p * 1e6) / 1e6), so that the answers of
 * both compare equal as text. */
static int
fmt_prob(char *buf, size_t n, double p)
{
	double q = round(p * 1e6);
	int k, d;

	/* 1e-4 <= q / 1e6 < 1, the common case: "%.6g" writes q's six
	 * digits after "0.", trailing zeros cut (checked against printf for
	 * every q) */
	if (q >= 100 && q < 1e6 && n >= 9) {
		long v = (long)q;

		memcpy(buf, "0.", 2);
		for (d = 7; d >= 2; d--, v /= 10)
			buf[d] = (char)('0' + v % 10);
		for (k = 8; buf[k - 1] == '0'; k--)
			;
		buf[k] = '\0';
		return k;
	}
	k = snprintf(buf, n, "%.6g", q / 1e6);
	if (k > 0 && (size_t)k + 2 < n && !strpbrk(buf, ".e"))
		k += snprintf(buf + k, n - (size_t)k, ".0");
	return k;
}

/* --- the answer's buffer ----------------------------------------- */

/* The answer is built in a struct ch_buf, not an open_memstream stream:
 * a stream costs a request a FILE, a zeroed 8 KiB buffer and stdio's
 * formatting for a hundred bytes of text. */
static int
buf_cb(const char *t, size_t n, void *b)
{
	ch_buf_add(b, t, n);
	return 0;
}

/* v as json_dumpf(v, ..., flags) writes it */
static void
buf_dump(struct ch_buf *b, json_t *v, size_t flags)
{
	json_dump_callback(v, buf_cb, b, flags);
}

/* t[0..n) as a JSON string, as jansson's dump writes it: copied as it
 * is when nothing in it needs an escape */
static void
buf_str(struct ch_buf *b, const char *t, size_t n)
{
	char *o;
	json_t *v;

	if (ch_json_plain(t, n, 1) < n) {
		if ((v = json_stringn(t, n))) {
			buf_dump(b, v, JSON_ENCODE_ANY);
			json_decref(v);
		}
		return;
	}
	o = ch_buf_room(b, n + 2);
	o[0] = '"';
	memcpy(o + 1, t, n);
	o[n + 1] = '"';
	b->len += n + 2;
	b->s[b->len] = '\0';
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

/* A request's models: the champion, the rollout and its challenger (NULL
 * when off), and the draws for rows without a customer id. */
struct scoring {
	const struct loaded *champ;
	struct loaded *chal;
	struct ch_rollout ro;
	struct ch_rng rng;
	uint8_t *codes;             /* room for either model's features */
	json_t **vals;              /* the same: a row's (ch_json_fields) */
	long rows[2];               /* rows answered by each */
	struct plreq *pl;           /* rows for the prediction log, or NULL */
};

/* The customer id of obj as text (a string's, an integer's digits) in
 * buf, or NULL when the row has none. */
static const char *
customer_id(const struct ch_schema *s, json_t *obj, char *buf, size_t n,
    size_t *len)
{
	json_t *id = s->id ? json_object_get(obj, s->id) : NULL;

	if (json_is_string(id)) {
		*len = json_string_length(id);
		return json_string_value(id);
	}
	if (json_is_integer(id)) {
		*len = (size_t)snprintf(buf, n, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(id));
		return buf;
	}
	return NULL;
}

/* Scores one JSON object with the model the rollout picks (the shadow
 * scores it too); appends its answer to ob.  Returns 0, or 422 with
 * msg/field filled. */
static int
score_object(struct scoring *sc, json_t *obj, int want_explain,
    struct ch_buf *ob, char *msg, size_t msglen, const char **field)
{
	const struct loaded *l = sc->champ, *shadow = NULL;
	const struct ch_schema *s;
	uint8_t *codes = sc->codes;
	struct ch_err e;
	int bad = -1, pick = 0, enc;
	double p, ps = 0;
	char pb[32], idb[32];
	const char *cid;
	size_t cidlen = 0;
	json_t *id, *warn;

	if (sc->chal) {
		cid = customer_id(l->m->schema, obj, idb, sizeof idb, &cidlen);
		if ((pick = ch_rollout_pick(&sc->ro, cid, cidlen, &sc->rng)))
			l = sc->chal;
		else if (sc->ro.mode == CH_ROLLOUT_SHADOW)
			shadow = sc->chal;
	}
	s = l->m->schema;
	/* the fields read once, for the encoding, the window and the log */
	ch_json_fields(s, obj, sc->vals);
	if ((enc = ch_encode_fields(s, sc->vals, codes, NULL, NULL, &bad,
	    &e)) < 0) {
		snprintf(msg, msglen, "%s", e.msg);
		*field = bad >= 0 && bad < s->nfeat ? s->f[bad].name : NULL;
		return 422;
	}
	p = ch_model_predict(l->m, codes);
	fmt_prob(pb, sizeof pb, p);
	warn = unseen_warnings(s, obj, codes);
	if (enc > 0) {
		/* not a number: missing, as training takes it (libchurn's rule) */
		char wm[sizeof e.msg + 32];

		snprintf(wm, sizeof wm, "%s, scored as missing", e.msg);
		if (!warn)
			warn = json_array();
		json_array_append_new(warn, jtext(wm));
	}
	sc->rows[pick]++;
	rollout_note(pick, l->m->version, p, 1);
	/* the customer's id, when the schema has one and the object too */
	id = s->id ? json_object_get(obj, s->id) : NULL;
	if (!json_is_string(id) && !json_is_integer(id))
		id = NULL;
	if (!want_explain) {
		ch_buf_add(ob, "{", 1);
		if (id) {
			buf_str(ob, s->id, strlen(s->id));
			ch_buf_add(ob, ":", 1);
			if (json_is_string(id))
				buf_str(ob, json_string_value(id),
				    json_string_length(id));
			else
				buf_dump(ob, id, JSON_ENCODE_ANY);
			ch_buf_add(ob, ",", 1);
		}
		ch_buf_adds(ob, "\"churn_probability\":");
		ch_buf_adds(ob, pb);
		ch_buf_adds(ob, p >= l->m->threshold ? ",\"churn\":true," :
		    ",\"churn\":false,");
		ch_buf_adds(ob, "\"model_version\":\"");
		ch_buf_adds(ob, l->m->version);
		ch_buf_add(ob, "\"", 1);
		if (warn) {
			ch_buf_adds(ob, ",\"warnings\":");
			buf_dump(ob, warn, JSON_COMPACT);
			json_decref(warn);
		}
		ch_buf_add(ob, "}", 1);
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

		ch_buf_adds(ob, t ? t : "null");
		free(t);
		json_decref(j);
	}
	if (shadow) {
		/* its own encoding (its schema may differ); a row it cannot
		 * read is answered all the same, unshadowed */
		struct ch_err se;

		if (ch_encode_json(shadow->m->schema, obj, codes, NULL, NULL,
		    &bad, &se) >= 0) {
			ps = ch_model_predict(shadow->m, codes);
			rollout_note(1, shadow->m->version, ps, 0);
			window_add_shadow(s, obj, sc->vals, p, l->m->version,
			    ps, shadow->m->version);
			predlog_add(sc->pl, obj, sc->vals, 0, p, 1, ps);
			return 0;
		}
	}
	window_add(s, obj, sc->vals, p, l->m->version);
	predlog_add(sc->pl, obj, sc->vals, pick, p, 0, 0);
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
	struct plreq *pl;
	char first[300];            /* the first bad number's warning */
	size_t nbad;
};

/* A numeric cell that is not a number, scored as missing (libchurn's
 * rule): the first said in the answer's Warning header, one line of
 * ASCII, no quote or backslash. */
static void
csv_warn(void *arg, const char *msg)
{
	struct csv_run *run = arg;
	char *p;

	if (run->nbad++)
		return;
	snprintf(run->first, sizeof run->first, "%s", msg);
	for (p = run->first; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '"' || *p == '\\')
			*p = '?';
}

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
	window_add(s, raw, NULL, p, l->m->version);
	rollout_note(0, l->m->version, p, 1);
	if (((struct csv_run *)arg)->pl) {
		/* the log joins by id: it goes in (the window keeps none) */
		if (cols->id >= 0)
			json_object_set_new(raw, s->id, jtextn(rec->field[cols->id],
			    rec->len[cols->id]));
		predlog_add(((struct csv_run *)arg)->pl, raw, NULL, 0, p, 0,
		    0);
	}
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
predict_csv(struct MHD_Connection *c, struct req *r, const struct loaded *l,
    struct plreq *pl)
{
	const struct ch_schema *s = l->m->schema;
	struct csv_run run = { .l = l, .pl = pl };
	struct ch_batch_opts o = { .m = l->m, .name = "request body",
	    .threshold = l->m->threshold, .jobs = 1, .out = csv_out,
	    .row = csv_row, .warn = csv_warn, .arg = &run };
	struct ch_batch_stats st = { 0 };
	struct ch_err e;
	FILE *in;
	char *obuf = NULL;
	size_t olen = 0;
	int status = 0;

	if (r->len == 0 || !(in = fmemopen(r->body, r->len, "r"))) {
		predlog_abort(pl);
		return r->len == 0 ? fail(c, r, 400, NULL, "empty request body: "
		    "expected a CSV header and rows") : fail(c, r, 500, NULL,
		    "fmemopen: %s", strerror(errno));
	}
	st.unseen = ch_calloc((size_t)s->nfeat, sizeof *st.unseen);
	run.out = open_memstream(&obuf, &olen);
	if (ch_batch_score(in, &o, &st, &e) != 0)
		status = st.bad_row ? 422 : 400;
	fclose(run.out);
	fclose(in);
	if (!status) {
		r->warning = unseen_header(s, st.unseen);
		predlog_commit(pl);
	} else
		predlog_abort(pl);
	if (!status && !r->warning && run.nbad) {
		char h[sizeof run.first + 64];

		snprintf(h, sizeof h, "299 churn-serve \"%s (%zu such cell%s)\"",
		    run.first, run.nbad, run.nbad == 1 ? "" : "s");
		r->warning = ch_strdup(h);
	}
	free(st.unseen);
	metrics_predictions((long)st.rows);
	return answer(c, r, status, e.msg, st.bad >= 0 ?
	    s->f[st.bad].name : NULL, "text/csv; charset=utf-8",
	    obuf, olen);
}

/*
 * The CSV route with a challenger: both models score the whole body (each
 * with its own reader of the header, as churn-predict would), each row's
 * features and probability kept by line; then row k's answer is taken
 * from the model the rollout picks for it.  In a canary the answer gains
 * a model_version column; in shadow it is the champion's, byte for byte.
 */
struct csv_seen {
	long line;
	double p;
	char *id;                   /* the id cell, or NULL */
	size_t idlen;
	json_t *raw;                /* the model's features, for the window */
};

struct csv_pass {
	FILE *out;
	const struct loaded *l;
	pthread_mutex_t mu;
	struct csv_seen *v;
	size_t n, cap;
};

static int
csv_pass_out(void *arg, const char *s, size_t n, struct ch_err *e)
{
	(void)e;
	fwrite(s, 1, n, ((struct csv_pass *)arg)->out);
	return 0;
}

static void
csv_pass_row(void *arg, const struct ch_record *rec, const struct ch_cols *cols,
    double p)
{
	struct csv_pass *ps = arg;
	const struct ch_schema *s = ps->l->m->schema;
	struct csv_seen x = { .line = rec->line, .p = p };
	const char *v;
	size_t vl;
	int i;

	x.raw = json_object();
	for (i = 0; i < s->nfeat; i++) {
		v = rec->field[cols->col[i]];
		vl = rec->len[cols->col[i]];
		json_object_set_new(x.raw, s->f[i].name, ch_is_missing(v, vl) ?
		    json_null() : jtextn(v, vl));
	}
	if (cols->id >= 0) {
		x.idlen = rec->len[cols->id];
		x.id = ch_malloc(x.idlen + 1);
		memcpy(x.id, rec->field[cols->id], x.idlen + 1);
		json_object_set_new(x.raw, s->id, jtextn(x.id, x.idlen));
	}
	pthread_mutex_lock(&ps->mu);
	if (ps->n == ps->cap)
		ps->v = ch_reallocarray(ps->v, ps->cap = ps->cap ? 2 * ps->cap :
		    64, sizeof *ps->v);
	ps->v[ps->n++] = x;
	pthread_mutex_unlock(&ps->mu);
}

static int
by_line(const void *a, const void *b)
{
	const struct csv_seen *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

static void
csv_pass_free(struct csv_pass *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++) {
		free(ps->v[i].id);
		json_decref(ps->v[i].raw);
	}
	free(ps->v);
	pthread_mutex_destroy(&ps->mu);
}

/* One model over the body: 0, or -1 with e, st. */
static int
csv_pass_run(struct req *r, struct csv_pass *ps, char **obuf, size_t *olen,
    struct ch_batch_stats *st, struct ch_err *e)
{
	struct ch_batch_opts o = { .m = ps->l->m, .name = "request body",
	    .threshold = ps->l->m->threshold, .jobs = 1, .out = csv_pass_out,
	    .row = csv_pass_row, .arg = ps };
	FILE *in = fmemopen(r->body, r->len, "r");
	int rc;

	if (!in)
		return ch_errf(e, "fmemopen: %s", strerror(errno));
	pthread_mutex_init(&ps->mu, NULL);
	ps->out = open_memstream(obuf, olen);
	rc = ch_batch_score(in, &o, st, e);
	fclose(ps->out);
	fclose(in);
	qsort(ps->v, ps->n, sizeof *ps->v, by_line);
	return rc;
}

/* The line after *p (within end), advancing *p past it. */
static const char *
next_line(const char **p, const char *end, size_t *len)
{
	const char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));

	*len = nl ? (size_t)(nl - s) : (size_t)(end - s);
	*p = nl ? nl + 1 : end;
	return s;
}

static enum MHD_Result
predict_csv_rollout(struct MHD_Connection *c, struct req *r,
    struct scoring *sc)
{
	const struct ch_schema *s = sc->champ->m->schema;
	struct csv_pass pa = { .l = sc->champ }, pb = { .l = sc->chal };
	struct ch_batch_stats sa = { 0 }, sb = { 0 };
	struct ch_err e, eb;
	char *oa = NULL, *ob = NULL, *out = NULL;
	size_t la = 0, lb = 0, lo = 0, k, n1, n2;
	const char *p1, *p2, *e1, *e2, *t1, *t2;
	int canary = sc->ro.mode == CH_ROLLOUT_CANARY, status = 0, both;
	FILE *fp;

	if (r->len == 0) {
		predlog_abort(sc->pl);
		return fail(c, r, 400, NULL, "empty request body: expected "
		    "a CSV header and rows");
	}
	ch_rng_seed(&sc->rng, ch_mix64((uint64_t)(ch_seconds() * 1e9) ^
	    (uint64_t)(uintptr_t)r));
	sa.unseen = ch_calloc((size_t)s->nfeat, sizeof *sa.unseen);
	if (csv_pass_run(r, &pa, &oa, &la, &sa, &e) != 0)
		status = sa.bad_row ? 422 : 400;
	/* the challenger cannot read what the champion can: the champion
	 * answers every row */
	both = !status && csv_pass_run(r, &pb, &ob, &lb, &sb, &eb) == 0 &&
	    pb.n == pa.n;
	if (status) {
		predlog_abort(sc->pl);
		free(sa.unseen);
		csv_pass_free(&pa);
		free(oa);
		return answer(c, r, status, e.msg, sa.bad >= 0 ?
		    s->f[sa.bad].name : NULL, "text/csv; charset=utf-8", NULL, 0);
	}
	r->warning = unseen_header(s, sa.unseen);
	free(sa.unseen);
	fp = open_memstream(&out, &lo);
	p1 = oa, e1 = oa + la, p2 = ob, e2 = ob + lb;
	t1 = next_line(&p1, e1, &n1);
	if (ob)
		next_line(&p2, e2, &n2);
	fwrite(t1, 1, n1, fp);
	fputs(canary ? ",model_version\n" : "\n", fp);
	for (k = 0; k < pa.n && p1 < e1; k++) {
		struct csv_seen *x = &pa.v[k], *y = both ? &pb.v[k] : NULL;
		int pick = y && ch_rollout_pick(&sc->ro, x->id, x->idlen,
		    &sc->rng);
		const struct loaded *l = pick ? sc->chal : sc->champ;

		t1 = next_line(&p1, e1, &n1);
		t2 = y ? next_line(&p2, e2, &n2) : NULL;
		if (pick)
			fwrite(t2, 1, n2, fp);
		else
			fwrite(t1, 1, n1, fp);
		if (canary)
			fprintf(fp, ",%s", l->m->version);
		putc('\n', fp);
		sc->rows[pick]++;
		rollout_note(pick, l->m->version, pick ? y->p : x->p, 1);
		if (y && !canary) {
			rollout_note(1, sc->chal->m->version, y->p, 0);
			window_add_shadow(s, x->raw, NULL, x->p,
			    sc->champ->m->version, y->p, sc->chal->m->version);
			predlog_add(sc->pl, x->raw, NULL, 0, x->p, 1, y->p);
		} else {
			window_add(l->m->schema, pick ? y->raw : x->raw, NULL,
			    pick ? y->p : x->p, l->m->version);
			predlog_add(sc->pl, pick ? y->raw : x->raw, NULL, pick,
			    pick ? y->p : x->p, 0, 0);
		}
	}
	fclose(fp);
	predlog_commit(sc->pl);
	metrics_predictions((long)pa.n);
	csv_pass_free(&pa);
	if (ob || pb.v)
		csv_pass_free(&pb);
	free(oa);
	free(ob);
	return answer(c, r, 0, NULL, NULL, "text/csv; charset=utf-8", out, lo);
}

enum MHD_Result
predict(struct MHD_Connection *c, struct req *r)
{
	struct loaded *l;
	struct scoring sc = { 0 };
	char mt[64], msg[1200];
	const char *field = NULL;
	struct ch_buf ob = { 0 };
	size_t i;
	double t0;
	int n;
	enum body_kind k;
	json_error_t jerr;
	json_t *j;
	uint8_t *codes;
	int status = 0, ex;
	enum MHD_Result ret;

	media_type(c, mt, sizeof mt);
	if ((k = body_kind(mt)) == B_UNKNOWN || k == B_JSONL)
		return fail(c, r, 415, NULL, "content type '%s' is not "
		    "accepted: send application/json or text/csv", mt);
	if (!(l = model_acquire()))
		return fail(c, r, 503, NULL, "no model loaded");
	sc.champ = l;
	sc.chal = rollout_acquire(&sc.ro);
	sc.pl = predlog_begin(l, sc.chal);
	t0 = ch_seconds();
	if (k == B_CSV) {
		sc.rows[0] = !sc.chal;	/* the champion alone: one request */
		ret = sc.chal ? predict_csv_rollout(c, r, &sc) :
		    predict_csv(c, r, l, sc.pl);
		rollout_request(sc.rows, ch_seconds() - t0);
		model_release(sc.chal);
		model_release(l);
		return ret;
	}
	/* one flat object, the common request, is read without jansson's
	 * lexer; anything else (and every error's wording) is jansson's */
	if (!(j = ch_json_flat(r->body ? r->body : "", r->len)) &&
	    !(j = json_loadb(r->body ? r->body : "", r->len, 0, &jerr))) {
		predlog_abort(sc.pl);
		model_release(sc.chal);
		model_release(l);
		return fail(c, r, 400, NULL, "request body: line %d, column %d: "
		    "%s", jerr.line, jerr.column, jerr.text);
	}
	ex = truthy(query(c, "explain"));
	n = l->m->schema->nfeat;
	if (sc.chal && sc.chal->m->schema->nfeat > n)
		n = sc.chal->m->schema->nfeat;
	/* one block: the fields' values, then the codes */
	sc.vals = ch_reallocarray(NULL, (size_t)n + 1, sizeof *sc.vals +
	    sizeof *codes);
	codes = sc.codes = (uint8_t *)(sc.vals + n + 1);
	ch_rng_seed(&sc.rng, ch_mix64((uint64_t)(t0 * 1e9) ^
	    (uint64_t)(uintptr_t)r));
	if (json_is_object(j)) {
		status = score_object(&sc, j, ex, &ob, msg, sizeof msg,
		    &field);
		if (!status)
			metrics_predictions(1);
	} else if (json_is_array(j)) {
		json_t *o;

		ch_buf_add(&ob, "[", 1);
		json_array_foreach(j, i, o) {
			if (!json_is_object(o)) {
				snprintf(msg, sizeof msg, "[%zu]: expected a "
				    "JSON object (one customer)", i);
				status = 422;
				break;
			}
			if (i)
				ch_buf_add(&ob, ",", 1);
			if ((status = score_object(&sc, o, ex, &ob, msg,
			    sizeof msg, &field))) {
				char t[sizeof msg];

				snprintf(t, sizeof t, "[%zu]: %.1100s", i, msg);
				memcpy(msg, t, sizeof msg);
				break;
			}
		}
		ch_buf_add(&ob, "]", 1);
		if (!status)
			metrics_predictions((long)json_array_size(j));
	} else {
		snprintf(msg, sizeof msg, "request body: expected a JSON "
		    "object (one customer) or an array of them");
		status = 400;
	}
	free(sc.vals);
	if (!status)
		predlog_commit(sc.pl);
	else
		predlog_abort(sc.pl);
	json_decref(j);
	if (!status)
		rollout_request(sc.rows, ch_seconds() - t0);
	model_release(sc.chal);
	model_release(l);
	return answer(c, r, status, msg, field, JSON, ob.s, ob.len);
}

