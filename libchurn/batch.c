/* batch.c - batch scoring: a CSV or JSON-lines stream in, answers out */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

#define BATCH 1024

/* growing text buffer */
struct text {
	char *s;
	size_t len, cap;
};

static void
tput(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		while (t->len + n + 1 > t->cap)
			t->cap = t->cap ? 2 * t->cap : 65536;
		t->s = ch_realloc(t->s, t->cap);
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
}

static void
tputs(struct text *t, const char *s)
{
	tput(t, s, strlen(s));
}

/* A CSV field, quoted only when it must be (RFC 4180). */
static void
put_field(struct text *t, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		tputs(t, s);
		return;
	}
	tput(t, "\"", 1);
	for (; *s; s++) {
		if (*s == '"')
			tput(t, "\"", 1);
		tput(t, s, 1);
	}
	tput(t, "\"", 1);
}

/* p with six decimals, without printf's cost per row */
static void
put_prob(struct text *t, double p)
{
	char b[8];
	long u = lround(p * 1e6);
	int i;

	if (u >= 1000000) {
		tput(t, "1.000000", 8);
		return;
	}
	if (u < 0)
		u = 0;
	b[0] = '0', b[1] = '.';
	for (i = 7; i >= 2; i--, u /= 10)
		b[i] = (char)('0' + u % 10);
	tput(t, b, 8);
}

/* The run: options, header mapping, totals (kept on the calling thread). */
struct conf {
	const struct ch_batch_opts *o;
	const char *name, *idname;
	struct ch_cols cols;
	struct ch_batch_stats *st;
	int failed;              /* st->bad, st->bad_row are set */
};

/* What one block of rows gives: output text, warnings, counts. */
struct result {
	struct text out, warn;
	size_t rows, skipped, *unseen;
	int failed, bad, bad_row;
};

/* A batch of encoded rows waiting to be scored (one a worker). */
struct batch {
	const struct conf *c;
	uint8_t *codes;
	double *p;
	struct text ids;
	size_t *idoff, n;
	size_t *unseen;          /* where unseen categories are counted now */
};

static struct batch *
batch_new(const struct conf *c)
{
	struct batch *b = ch_calloc(1, sizeof *b);

	b->c = c;
	b->codes = ch_malloc((size_t)BATCH * (size_t)c->o->m->schema->nfeat);
	b->p = ch_malloc(BATCH * sizeof *b->p);
	b->idoff = ch_malloc(BATCH * sizeof *b->idoff);
	return b;
}

static void
batch_free(struct batch *b)
{
	if (!b)
		return;
	free(b->codes);
	free(b->p);
	free(b->idoff);
	free(b->ids.s);
	free(b);
}

static void
batch_id(struct batch *b, const char *s, size_t len)
{
	b->idoff[b->n] = b->ids.len;
	tput(&b->ids, s, len);
	tput(&b->ids, "", 1);
}

static void
count_unseen(void *arg, int f, const char *s, size_t len)
{
	struct batch *b = arg;

	(void)s, (void)len;
	if (b->unseen)
		b->unseen[f]++;
}

/* Scores the batch (with jobs threads) and formats it into out. */
static void
batch_flush(struct batch *b, int jobs, struct text *out)
{
	const struct conf *c = b->c;
	const struct ch_model *m = c->o->m;
	size_t i;
	int churn;

	if (b->n == 0)
		return;
	ch_model_predict_batch(m, b->codes, b->n, b->p, jobs);
	for (i = 0; i < b->n; i++) {
		churn = b->p[i] >= c->o->threshold;
		if (c->o->json_out) {
			json_t *j = json_object();
			char *s;

			json_object_set_new(j, c->idname, json_string(b->ids.s + b->idoff[i]));
			json_object_set_new(j, "churn_probability",
			    json_real(round(b->p[i] * 1e6) / 1e6));
			json_object_set_new(j, "churn", json_boolean(churn));
			json_object_set_new(j, "model_version", json_string(m->version));
			s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
			tputs(out, s);
			free(s);
			json_decref(j);
		} else {
			put_field(out, b->ids.s + b->idoff[i]);
			tput(out, ",", 1);
			put_prob(out, b->p[i]);
			tputs(out, churn ? ",1" : ",0");
		}
		tput(out, "\n", 1);
	}
	b->n = 0;
	b->ids.len = 0;
}

/* CSV */

static int
header(void *ctx, const struct ch_record *h, struct ch_err *e)
{
	struct conf *c = ctx;
	struct text t = { 0 };
	int rc = 0;

	if (ch_schema_map_header(c->o->m->schema, h->field, h->n, &c->cols,
	    c->name, e) != 0) {
		c->st->bad_row = c->failed = 1;
		return -1;
	}
	if (c->cols.id < 0)
		c->idname = "row";
	if (!c->o->json_out && !c->o->no_header) {
		put_field(&t, c->idname);
		tputs(&t, ",churn_probability,churn\n");
		rc = c->o->out(c->o->arg, t.s, t.len, e);
		free(t.s);
	}
	return rc;
}

static void *
worker_new(void *ctx)
{
	return batch_new(ctx);
}

static void
worker_free(void *w)
{
	batch_free(w);
}

/* A numeric cell that is not a number (e says which): scored as missing,
 * as training takes it, with a warning. */
static void
bad_cell(struct result *r, const struct ch_err *e)
{
	tputs(&r->warn, e->msg);
	tputs(&r->warn, ", scored as missing");
	tput(&r->warn, "", 1);
}

/* A bad row: an error, or when skipping a warning and a skip. */
static int
bad_row(const struct conf *c, struct result *r, int bad, struct ch_err *e)
{
	r->bad = bad;
	r->bad_row = 1;
	if (!c->o->skip_bad)
		return -1;
	tputs(&r->warn, e->msg);
	tputs(&r->warn, " (skipped)");
	tput(&r->warn, "", 1);
	r->skipped++;
	return 0;
}

static int
block(void *w, struct ch_csv *rd, void **result, struct ch_err *e)
{
	struct batch *b = w;
	const struct conf *c = b->c;
	const struct ch_schema *s = c->o->m->schema;
	struct result *r = ch_calloc(1, sizeof *r);
	struct ch_record rec;
	char idbuf[32];
	uint8_t *x;
	int rc, bad, enc;

	*result = r;
	r->unseen = ch_calloc((size_t)s->nfeat, sizeof *r->unseen);
	b->unseen = r->unseen;
	b->n = b->ids.len = 0;  /* nothing left by a block that failed */
	while ((rc = ch_csv_next(rd, &rec, e)) > 0) {
		x = b->codes + b->n * (size_t)s->nfeat;
		if ((enc = ch_encode_record(s, &c->cols, &rec, c->name, x,
		    count_unseen, b, &bad, e)) < 0) {
			if (bad_row(c, r, bad, e) != 0) {
				r->failed = 1;
				return -1;
			}
			continue;
		}
		if (enc > 0)
			bad_cell(r, e);
		if (c->o->row)
			c->o->row(c->o->arg, &rec, &c->cols,
			    ch_model_predict(c->o->m, x));
		r->rows++;
		if (c->cols.id >= 0) {
			batch_id(b, rec.field[c->cols.id], rec.len[c->cols.id]);
		} else {
			snprintf(idbuf, sizeof idbuf, "%ld",
			    rec.line - 1 + c->o->row_offset);
			batch_id(b, idbuf, strlen(idbuf));
		}
		if (++b->n == BATCH)
			batch_flush(b, 1, &r->out);
	}
	if (rc < 0) {
		r->failed = 1;
		r->bad = -1;
		r->bad_row = 0;
	}
	batch_flush(b, 1, &r->out);
	return rc;
}

static void
discard(void *ctx, void *result)
{
	struct conf *c = ctx;
	struct result *r = result;

	if (!r)
		return;
	if (r->failed && !c->failed) {  /* the first failure in input order */
		c->failed = 1;
		c->st->bad = r->bad;
		c->st->bad_row = r->bad_row;
	}
	free(r->out.s);
	free(r->warn.s);
	free(r->unseen);
	free(r);
}

static int
emit(void *ctx, void *result, struct ch_err *e)
{
	struct conf *c = ctx;
	struct result *r = result;
	const char *w;
	int f, rc;

	for (w = r->warn.s; c->o->warn && w && w < r->warn.s + r->warn.len;
	    w += strlen(w) + 1)
		c->o->warn(c->o->arg, w);
	rc = r->out.len ? c->o->out(c->o->arg, r->out.s, r->out.len, e) : 0;
	c->st->rows += r->rows;
	ch_progress_set(c->o->progress, c->st->rows);
	c->st->skipped += r->skipped;
	for (f = 0; c->st->unseen && f < c->o->m->schema->nfeat; f++)
		c->st->unseen[f] += r->unseen[f];
	discard(ctx, r);
	return rc;
}

static int
score_csv(struct conf *c, FILE *fp, struct ch_err *e)
{
	static const struct ch_csv_ops ops = { header, worker_new, block, emit,
	    discard, worker_free };

	return ch_csv_parallel(fp, c->o->name, c->o->jobs, &ops, c, e);
}

/* JSON lines in: one object a line, read here, scored in batches. */
static int
score_json(struct conf *c, FILE *fp, struct ch_err *e)
{
	const struct ch_schema *s = c->o->m->schema;
	struct batch *b = batch_new(c);
	struct text out = { 0 };
	struct ch_err why;
	json_error_t je;
	char *line = NULL, idbuf[32], msg[sizeof why.msg + 64];
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	json_t *j, *id;
	int rc = 0, bad = -1, enc = 0;

	b->unseen = c->st->unseen;
	while (rc == 0 && (len = getline(&line, &cap, fp)) > 0) {
		lineno++;
		if (strspn(line, " \t\r\n") == (size_t)len)
			continue;
		j = json_loadb(line, (size_t)len, 0, &je);
		if (!j || (enc = ch_encode_json(s, j, b->codes + b->n *
		    (size_t)s->nfeat, count_unseen, b, &bad, &why)) < 0) {
			if (!j)
				snprintf(why.msg, sizeof why.msg, "%s", je.text);
			json_decref(j);
			if (!c->o->skip_bad) {
				c->st->bad = bad;
				c->st->bad_row = 1;
				rc = ch_errf(e, "%s:%ld: %s", c->name, lineno, why.msg);
				break;
			}
			snprintf(msg, sizeof msg, "%s:%ld: %s (skipped)", c->name,
			    lineno, why.msg);
			if (c->o->warn)
				c->o->warn(c->o->arg, msg);
			c->st->skipped++;
			continue;
		}
		if (enc > 0 && c->o->warn) {
			snprintf(msg, sizeof msg, "%s:%ld: %s, scored as missing",
			    c->name, lineno, why.msg);
			c->o->warn(c->o->arg, msg);
		}
		id = json_object_get(j, c->idname);
		if (json_is_string(id))
			batch_id(b, json_string_value(id), json_string_length(id));
		else {
			if (json_is_integer(id))
				snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(id));
			else
				snprintf(idbuf, sizeof idbuf, "%ld",
				    lineno + c->o->row_offset);
			batch_id(b, idbuf, strlen(idbuf));
		}
		json_decref(j);
		ch_progress_set(c->o->progress, ++c->st->rows);
		if (++b->n == BATCH) {
			batch_flush(b, c->o->jobs, &out);
			rc = c->o->out(c->o->arg, out.s, out.len, e);
			out.len = 0;
		}
	}
	if (rc == 0 && ferror(fp)) {
		rc = ch_errf(e, "read %s: %s", c->name, strerror(errno));
		c->st->bad = -1;
		c->st->bad_row = 0;
	}
	if (rc == 0) {
		batch_flush(b, c->o->jobs, &out);
		if (out.len)
			rc = c->o->out(c->o->arg, out.s, out.len, e);
	}
	free(out.s);
	free(line);
	batch_free(b);
	return rc;
}

int
ch_batch_score(FILE *fp, const struct ch_batch_opts *o,
    struct ch_batch_stats *st, struct ch_err *e)
{
	struct conf c = { .o = o, .st = st };
	int rc;

	st->rows = st->skipped = 0;
	st->bad = -1;
	st->bad_row = 0;
	c.name = strcmp(o->name, "-") == 0 ? "<stdin>" : o->name;
	c.idname = o->m->schema->id ? o->m->schema->id : "row";
	rc = o->json_in ? score_json(&c, fp, e) : score_csv(&c, fp, e);
	ch_cols_free(&c.cols);
	return rc;
}
