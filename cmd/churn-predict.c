/* churn-predict - score customers with a churn model, streaming */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csv.h"
#include "model.h"
#include "predlog.h"
#include "registry.h"
#include "util.h"

#define BATCH 1024

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: churn-predict -m model [--json-in] [--json] [--skip-bad]\n"
	    "                     [--threshold t] [--jobs n] [file | -]\n"
	    "       churn-predict -m model --record [--at time] [--retain days]\n"
	    "                     [--store URL] [--database URL] [...] file\n"
	    "       churn-predict -m model --schema | --describe\n");
	exit(status);
}

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

struct conf {
	const struct ch_model *m;
	int json, skipbad;
	double threshold;
	const char *name, *idname;
	int *col, id_col;
	size_t nhdr;
	/* totals, kept by emit on the main thread */
	size_t rows, skipped, *unseen;
};

/* What one block of rows gives: output text, warnings, counts. */
struct result {
	struct text out, warn;
	size_t rows, skipped, *unseen;
};

/* A batch of encoded rows waiting to be scored. */
struct batch {
	const struct conf *c;
	uint8_t *codes;
	double *p;
	struct text ids;
	size_t *idoff, n;
};

static struct batch *
batch_new(const struct conf *c)
{
	struct batch *b = ch_calloc(1, sizeof *b);

	b->c = c;
	b->codes = ch_malloc((size_t)BATCH * (size_t)c->m->schema->nfeat);
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

/* Scores the batch (with jobs threads) and formats it into out. */
static void
batch_flush(struct batch *b, int jobs, struct text *out)
{
	const struct conf *c = b->c;
	size_t i;
	int churn;

	if (b->n == 0)
		return;
	ch_model_predict_batch(c->m, b->codes, b->n, b->p, jobs);
	for (i = 0; i < b->n; i++) {
		churn = b->p[i] >= c->threshold;
		if (c->json) {
			json_t *j = json_object();
			char *s;

			json_object_set_new(j, c->idname, json_string(b->ids.s + b->idoff[i]));
			json_object_set_new(j, "churn_probability",
			    json_real(round(b->p[i] * 1e6) / 1e6));
			json_object_set_new(j, "churn", json_boolean(churn));
			json_object_set_new(j, "model_version", json_string(c->m->version));
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

static int
header(void *ctx, const struct ch_record *h, struct ch_err *e)
{
	struct conf *c = ctx;

	c->nhdr = h->n;
	if (ch_schema_map_header(c->m->schema, h->field, h->n, c->col,
	    &c->id_col, c->name, e) != 0)
		return -1;
	if (c->id_col < 0)
		c->idname = "row";
	if (!c->json) {
		struct text t = { 0 };

		put_field(&t, c->idname);
		tputs(&t, ",churn_probability,churn\n");
		fwrite(t.s, 1, t.len, stdout);
		free(t.s);
	}
	return 0;
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

/* A bad row: an error, or with --skip-bad a warning and a skip. */
static int
bad_row(const struct conf *c, struct result *r, struct ch_err *e,
    const char *fmt, long line, const char *col, const char *val)
{
	char msg[512];

	snprintf(msg, sizeof msg, fmt, c->name, line, col, val);
	if (!c->skipbad)
		return ch_errf(e, "%s", msg);
	tputs(&r->warn, msg);
	tputs(&r->warn, " (skipped)\n");
	r->skipped++;
	return 0;
}

static int
block(void *w, struct ch_csv *rd, void **result, struct ch_err *e)
{
	struct batch *b = w;
	const struct conf *c = b->c;
	const struct ch_schema *s = c->m->schema;
	struct result *r = ch_calloc(1, sizeof *r);
	struct ch_record rec;
	char idbuf[32];
	uint8_t *x;
	int rc, f;

	*result = r;
	r->unseen = ch_calloc((size_t)s->nfeat, sizeof *r->unseen);
	while ((rc = ch_csv_next(rd, &rec, e)) > 0) {
		if (rec.n != c->nhdr) {
			snprintf(idbuf, sizeof idbuf, "%zu", rec.n);
			if (bad_row(c, r, e, "%s:%ld: ragged row: %s fields, the header "
			    "has more or fewer", rec.line, idbuf, "") != 0)
				return -1;
			continue;
		}
		x = b->codes + b->n * (size_t)s->nfeat;
		for (f = 0; f < s->nfeat; f++) {
			rc = ch_encode_cell(&s->f[f], rec.field[c->col[f]],
			    rec.len[c->col[f]], &x[f]);
			if (rc < 0)
				break;
			r->unseen[f] += (size_t)rc;
		}
		if (f < s->nfeat) {
			char val[48];

			snprintf(val, sizeof val, "%.40s", rec.field[c->col[f]]);
			if (bad_row(c, r, e, "%s:%ld: column '%s': '%s' is not a number",
			    rec.line, s->f[f].name, val) != 0)
				return -1;
			continue;
		}
		r->rows++;
		if (c->id_col >= 0) {
			batch_id(b, rec.field[c->id_col], rec.len[c->id_col]);
		} else {
			snprintf(idbuf, sizeof idbuf, "%ld", rec.line - 1);
			batch_id(b, idbuf, strlen(idbuf));
		}
		if (++b->n == BATCH)
			batch_flush(b, 1, &r->out);
	}
	batch_flush(b, 1, &r->out);
	return rc;
}

static void
discard(void *ctx, void *result)
{
	struct result *r = result;

	(void)ctx;
	if (!r)
		return;
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
	int f;

	(void)e;
	if (r->warn.len)
		fprintf(stderr, "%.*s", (int)r->warn.len, r->warn.s);
	fwrite(r->out.s, 1, r->out.len, stdout);
	c->rows += r->rows;
	c->skipped += r->skipped;
	for (f = 0; f < c->m->schema->nfeat; f++)
		c->unseen[f] += r->unseen[f];
	discard(ctx, r);
	return 0;
}

/*
 * --record: the rows of input scored again by the library and appended to
 * the registry's prediction log at time at, then rows older than retain
 * days pruned.
 */
static void
record(const struct ch_model *m, const char *input, int jsonin, int skipbad,
    time_t at, long retain, const char *store, const char *db)
{
	struct ch_registry_opts o = { 0 };
	struct ch_registry *r;
	struct ch_err e;
	size_t n, gone;

	o.store_url = store;
	o.database_url = db;
	ch_registry_opts_fill(&o, getenv);
	if (ch_registry_open(&o, &r, &e) != 0 ||
	    ch_predlog_record_file(r, m, input, jsonin, skipbad, at, &n,
	    &e) != 0 ||
	    ch_predlog_prune(r, retain, time(NULL), &gone, &e) != 0)
		ch_die(2, "--record: %s", e.msg);
	ch_warn("%zu predictions recorded in the prediction log (%s)", n,
	    ch_registry_db_where(r));
	ch_registry_close(r);
}

/* JSON lines in: one object a line, scored in batches. */
static void
json_lines(struct conf *c, FILE *fp, int jobs)
{
	struct batch *b = batch_new(c);
	struct text out = { 0 };
	struct ch_err err;
	json_error_t je;
	char *line = NULL, idbuf[32];
	size_t cap = 0;
	ssize_t len;
	long lineno = 0, fail = 0;
	json_t *j, *id;
	int u;

	while ((len = getline(&line, &cap, fp)) > 0) {
		lineno++;
		if (strspn(line, " \t\r\n") == (size_t)len)
			continue;
		u = 0;
		j = json_loadb(line, (size_t)len, 0, &je);
		if (!j || ch_encode_json(c->m->schema, j, b->codes +
		    b->n * (size_t)c->m->schema->nfeat, &u, NULL, &err) != 0) {
			if (!j)
				snprintf(err.msg, sizeof err.msg, "%s", je.text);
			json_decref(j);
			if (!c->skipbad) {
				fail = lineno;
				break;
			}
			ch_warn("%s:%ld: %s (skipped)", c->name, lineno, err.msg);
			c->skipped++;
			continue;
		}
		c->unseen[0] += (size_t)u;
		id = json_object_get(j, c->idname);
		if (json_is_string(id))
			batch_id(b, json_string_value(id), json_string_length(id));
		else {
			if (json_is_integer(id))
				snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(id));
			else
				snprintf(idbuf, sizeof idbuf, "%ld", lineno);
			batch_id(b, idbuf, strlen(idbuf));
		}
		json_decref(j);
		c->rows++;
		if (++b->n == BATCH) {
			batch_flush(b, jobs, &out);
			fwrite(out.s, 1, out.len, stdout);
			out.len = 0;
		}
	}
	if (!fail && ferror(fp))
		ch_die(2, "read %s:", c->name);
	if (!fail) {
		batch_flush(b, jobs, &out);
		fwrite(out.s, 1, out.len, stdout);
	}
	free(out.s);
	free(line);
	batch_free(b);
	if (fail)
		ch_die(2, "%s:%ld: %s", c->name, fail, err.msg);
}

int
main(int argc, char *argv[])
{
	enum { O_JSONIN = 256, O_JSON, O_SKIP, O_SCHEMA, O_DESCRIBE, O_THRESHOLD,
	    O_JOBS, O_VERSION, O_RECORD, O_AT, O_RETAIN, O_STORE, O_DATABASE };
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "json-in", no_argument, NULL, O_JSONIN },
		{ "json", no_argument, NULL, O_JSON },
		{ "skip-bad", no_argument, NULL, O_SKIP },
		{ "schema", no_argument, NULL, O_SCHEMA },
		{ "describe", no_argument, NULL, O_DESCRIBE },
		{ "threshold", required_argument, NULL, O_THRESHOLD },
		{ "jobs", required_argument, NULL, O_JOBS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ "record", no_argument, NULL, O_RECORD },
		{ "at", required_argument, NULL, O_AT },
		{ "retain", required_argument, NULL, O_RETAIN },
		{ "store", required_argument, NULL, O_STORE },
		{ "database", required_argument, NULL, O_DATABASE },
		{ NULL, 0, NULL, 0 }
	};
	static const struct ch_csv_ops ops = { header, worker_new, block, emit,
	    discard, worker_free };
	const char *model = NULL, *input = "-", *store = NULL, *db = NULL;
	int rec = 0;
	long retain = CH_PREDLOG_RETAIN_DAYS;
	time_t at = time(NULL);
	int c, jsonin = 0, show = 0, jobs = ch_ncpus(), f;
	size_t unseen_total = 0;
	struct ch_model *m;
	struct ch_err err;
	struct conf cf = { 0 };
	double t;
	FILE *fp;

	ch_setprogname(argv[0]);
	cf.threshold = NAN;
	while ((c = getopt_long(argc, argv, "m:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case O_JSONIN: jsonin = 1; break;
		case O_JSON: cf.json = 1; break;
		case O_SKIP: cf.skipbad = 1; break;
		case O_SCHEMA: show = 1; break;
		case O_DESCRIBE: show = 2; break;
		case O_THRESHOLD:
			if (ch_parse_double(optarg, strlen(optarg), &t) != 0 || t < 0 || t > 1)
				ch_die(2, "--threshold: '%s' is not a number from 0 to 1", optarg);
			cf.threshold = t;
			break;
		case O_JOBS:
			jobs = atoi(optarg);
			if (jobs < 1 || jobs > 1024)
				ch_die(2, "--jobs: '%s' is not a number from 1 to 1024", optarg);
			break;
		case O_VERSION: printf("churn-predict %s\n", CHURN_VERSION); return 0;
		case O_RECORD: rec = 1; break;
		case O_STORE: store = optarg; break;
		case O_DATABASE: db = optarg; break;
		case O_AT:
			if (ch_time_parse(optarg, strlen(optarg), &at) != 0)
				ch_die(2, "--at: '%s' is not a time (YYYY-MM-DD or "
				    "YYYY-MM-DDTHH:MM:SSZ)", optarg);
			break;
		case O_RETAIN:
			if (ch_parse_double(optarg, strlen(optarg), &t) != 0 ||
			    t < 0 || t > 36500 || t != (long)t)
				ch_die(2, "--retain: '%s' is not a number of days "
				    "from 0 to 36500", optarg);
			retain = (long)t;
			break;
		case 'h': usage(0);
		default: usage(2);
		}
	}
	if (!model || argc - optind > 1)
		usage(2);
	if (optind < argc)
		input = argv[optind];
	if (rec && strcmp(input, "-") == 0)
		ch_die(2, "--record: give a file (it is read again to record "
		    "the rows), not stdin");
	if (ch_model_load(model, &m, &err) != 0)
		ch_die(2, "%s", err.msg);
	if (show) {
		json_t *j = show == 1 ? ch_model_schema_json(m) : ch_model_describe(m);

		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		putchar('\n');
		json_decref(j);
		ch_model_free(m);
		ch_fshut(stdout, "<stdout>");
		return 0;
	}
	cf.m = m;
	if (isnan(cf.threshold))
		cf.threshold = m->threshold;
	cf.name = strcmp(input, "-") == 0 ? "<stdin>" : input;
	cf.idname = m->schema->id ? m->schema->id : "row";
	cf.unseen = ch_calloc((size_t)m->schema->nfeat, sizeof *cf.unseen);
	cf.col = ch_calloc((size_t)m->schema->nfeat, sizeof *cf.col);
	fp = strcmp(input, "-") == 0 ? stdin : fopen(input, "rb");
	if (!fp)
		ch_die(2, "open %s:", input);
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);

	if (jsonin)
		json_lines(&cf, fp, jobs);
	else if (ch_csv_parallel(fp, input, jobs, &ops, &cf, &err) != 0)
		ch_die(2, "%s", err.msg);

	for (f = 0; f < m->schema->nfeat; f++)
		unseen_total += cf.unseen[f];
	if (unseen_total > 0) {
		char list[512] = "";
		size_t used = 0;

		for (f = 0; !jsonin && f < m->schema->nfeat && used < sizeof list - 64; f++)
			if (cf.unseen[f])
				used += (size_t)snprintf(list + used, sizeof list - used,
				    "%s%s: %zu", used ? ", " : "", m->schema->f[f].name, cf.unseen[f]);
		ch_warn("%zu values of categories unseen in training treated as missing%s%s%s",
		    unseen_total, used ? " (" : "", list, used ? ")" : "");
	}
	if (cf.skipped)
		ch_warn("%zu bad rows skipped", cf.skipped);
	if (fp != stdin)
		fclose(fp);
	if (rec) {
		ch_fshut(stdout, "<stdout>");
		record(m, input, jsonin, cf.skipbad, at, retain, store, db);
		free(cf.unseen);
		free(cf.col);
		ch_model_free(m);
		return cf.skipped ? 1 : 0;
	}
	free(cf.unseen);
	free(cf.col);
	ch_model_free(m);
	ch_fshut(stdout, "<stdout>");
	return cf.skipped ? 1 : 0;
}
