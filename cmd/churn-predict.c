/* churn-predict - score customers with a churn model, streaming */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "model.h"
#include "util.h"

#define BATCH 4096

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: churn-predict -m model [--json-in] [--json] [--skip-bad]\n"
	    "                     [--threshold t] [--jobs n] [file | -]\n"
	    "       churn-predict -m model --schema | --describe\n");
	exit(status);
}

struct out {
	const struct ch_model *m;
	int json, jobs;
	double threshold;
	const char *idname;
	/* the batch: codes row-major, ids in an arena */
	uint8_t *codes;
	size_t n;
	char *ids;
	size_t *idoff, idlen, idcap;
	double *p;
};

static void
add_id(struct out *o, const char *s, size_t len)
{
	while (o->idlen + len + 1 > o->idcap)
		o->ids = ch_realloc(o->ids, o->idcap = o->idcap ? 2 * o->idcap : 65536);
	memcpy(o->ids + o->idlen, s, len);
	o->ids[o->idlen + len] = '\0';
	o->idoff[o->n] = o->idlen;
	o->idlen += len + 1;
}

/* A CSV field, quoted only when it must be (RFC 4180). */
static void
put_field(const char *s, FILE *fp)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
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

/* p with six decimals, without printf's cost per row */
static void
put_prob(double p, FILE *fp)
{
	char b[9];
	long u = lround(p * 1e6);
	int i;

	if (u >= 1000000) {
		fputs("1.000000", fp);
		return;
	}
	if (u < 0)
		u = 0;
	b[0] = '0', b[1] = '.';
	for (i = 7; i >= 2; i--, u /= 10)
		b[i] = (char)('0' + u % 10);
	b[8] = '\0';
	fputs(b, fp);
}

static void
put_header(const struct out *o)
{
	if (o->json)
		return;
	put_field(o->idname, stdout);
	fputs(",churn_probability,churn\n", stdout);
}

static void
flush_batch(struct out *o)
{
	size_t i;
	int churn;

	if (o->n == 0)
		return;
	ch_model_predict_batch(o->m, o->codes, o->n, o->p, o->jobs);
	for (i = 0; i < o->n; i++) {
		churn = o->p[i] >= o->threshold;
		if (o->json) {
			json_t *j = json_object();

			json_object_set_new(j, o->idname, json_string(o->ids + o->idoff[i]));
			json_object_set_new(j, "churn_probability",
			    json_real(round(o->p[i] * 1e6) / 1e6));
			json_object_set_new(j, "churn", json_boolean(churn));
			json_object_set_new(j, "model_version", json_string(o->m->version));
			json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
			json_decref(j);
		} else {
			put_field(o->ids + o->idoff[i], stdout);
			putchar(',');
			put_prob(o->p[i], stdout);
			fputs(churn ? ",1" : ",0", stdout);
		}
		putchar('\n');
	}
	o->n = 0;
	o->idlen = 0;
}

int
main(int argc, char *argv[])
{
	enum { O_JSONIN = 256, O_JSON, O_SKIP, O_SCHEMA, O_DESCRIBE, O_THRESHOLD,
	    O_JOBS, O_VERSION };
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
		{ NULL, 0, NULL, 0 }
	};
	const char *model = NULL, *input = "-", *name;
	int c, jsonin = 0, skipbad = 0, show = 0, *col, id_col = -1, f, rc;
	size_t skipped = 0, unseen_total = 0, *unseen, rows = 0;
	struct ch_model *m;
	struct ch_err err;
	struct out o = { 0 };
	double t;
	FILE *fp;

	ch_setprogname(argv[0]);
	o.threshold = NAN;
	o.jobs = ch_ncpus();
	while ((c = getopt_long(argc, argv, "m:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case O_JSONIN: jsonin = 1; break;
		case O_JSON: o.json = 1; break;
		case O_SKIP: skipbad = 1; break;
		case O_SCHEMA: show = 1; break;
		case O_DESCRIBE: show = 2; break;
		case O_THRESHOLD:
			if (ch_parse_double(optarg, strlen(optarg), &t) != 0 || t < 0 || t > 1)
				ch_die(2, "--threshold: '%s' is not a number from 0 to 1", optarg);
			o.threshold = t;
			break;
		case O_JOBS:
			o.jobs = atoi(optarg);
			if (o.jobs < 1 || o.jobs > 1024)
				ch_die(2, "--jobs: '%s' is not a number from 1 to 1024", optarg);
			break;
		case O_VERSION: printf("churn-predict %s\n", CHURN_VERSION); return 0;
		case 'h': usage(0);
		default: usage(2);
		}
	}
	if (!model || argc - optind > 1)
		usage(2);
	if (optind < argc)
		input = argv[optind];
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
	o.m = m;
	if (isnan(o.threshold))
		o.threshold = m->threshold;
	o.codes = ch_malloc((size_t)BATCH * (size_t)m->schema->nfeat);
	o.idoff = ch_malloc(BATCH * sizeof *o.idoff);
	o.p = ch_malloc(BATCH * sizeof *o.p);
	o.idname = m->schema->id ? m->schema->id : "row";
	unseen = ch_calloc((size_t)m->schema->nfeat, sizeof *unseen);
	col = ch_calloc((size_t)m->schema->nfeat, sizeof *col);
	fp = strcmp(input, "-") == 0 ? stdin : fopen(input, "rb");
	if (!fp)
		ch_die(2, "open %s:", input);
	name = strcmp(input, "-") == 0 ? "<stdin>" : input;
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);

	if (jsonin) {
		char *line = NULL, idbuf[32];
		size_t cap = 0;
		ssize_t len;
		long lineno = 0;
		json_error_t je;
		int bad;

		put_header(&o);
		while ((len = getline(&line, &cap, fp)) > 0) {
			json_t *j, *id;
			int u = 0;

			lineno++;
			if (strspn(line, " \t\r\n") == (size_t)len)
				continue;
			j = json_loadb(line, (size_t)len, 0, &je);
			if (!j || ch_encode_json(m->schema, j, o.codes +
			    o.n * (size_t)m->schema->nfeat, &u, &bad, &err) != 0) {
				if (!j)
					snprintf(err.msg, sizeof err.msg, "%s", je.text);
				json_decref(j);
				if (!skipbad)
					ch_die(2, "%s:%ld: %s", name, lineno, err.msg);
				ch_warn("%s:%ld: %s (skipped)", name, lineno, err.msg);
				skipped++;
				continue;
			}
			unseen_total += (size_t)u;
			id = json_object_get(j, o.idname);
			if (json_is_string(id))
				add_id(&o, json_string_value(id), json_string_length(id));
			else if (json_is_integer(id)) {
				snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(id));
				add_id(&o, idbuf, strlen(idbuf));
			} else {
				snprintf(idbuf, sizeof idbuf, "%ld", lineno);
				add_id(&o, idbuf, strlen(idbuf));
			}
			json_decref(j);
			rows++;
			if (++o.n == BATCH)
				flush_batch(&o);
		}
		free(line);
		if (ferror(fp))
			ch_die(2, "read %s:", name);
	} else {
		struct ch_csv *r = ch_csv_open(fp, input, &err);
		struct ch_record rec;
		size_t nhdr;
		char idbuf[32];

		if (!r)
			ch_die(2, "%s", err.msg);
		rc = ch_csv_next(r, &rec, &err);
		if (rc < 0)
			ch_die(2, "%s", err.msg);
		if (rc == 0)
			ch_die(2, "%s: empty file (no header)", name);
		nhdr = rec.n;
		if (ch_schema_map_header(m->schema, rec.field, rec.n, col, &id_col,
		    name, &err) != 0)
			ch_die(2, "%s", err.msg);
		if (id_col < 0)
			o.idname = "row";
		put_header(&o);
		while ((rc = ch_csv_next(r, &rec, &err)) > 0) {
			uint8_t *x = o.codes + o.n * (size_t)m->schema->nfeat;

			if (rec.n != nhdr) {
				if (!skipbad)
					ch_die(2, "%s:%ld: ragged row: %zu fields, the header has %zu",
					    name, rec.line, rec.n, nhdr);
				ch_warn("%s:%ld: ragged row (skipped)", name, rec.line);
				skipped++;
				continue;
			}
			for (f = 0; f < m->schema->nfeat; f++) {
				rc = ch_encode_cell(&m->schema->f[f], rec.field[col[f]],
				    rec.len[col[f]], &x[f]);
				if (rc > 0)
					unseen[f]++;
				else if (rc < 0)
					break;
			}
			if (f < m->schema->nfeat) {
				if (!skipbad)
					ch_die(2, "%s:%ld: column '%s': '%.40s' is not a number",
					    name, rec.line, m->schema->f[f].name, rec.field[col[f]]);
				ch_warn("%s:%ld: column '%s': '%.40s' is not a number (skipped)",
				    name, rec.line, m->schema->f[f].name, rec.field[col[f]]);
				skipped++;
				continue;
			}
			rows++;
			if (id_col >= 0) {
				add_id(&o, rec.field[id_col], rec.len[id_col]);
			} else {
				snprintf(idbuf, sizeof idbuf, "%zu", rows);
				add_id(&o, idbuf, strlen(idbuf));
			}
			if (++o.n == BATCH)
				flush_batch(&o);
		}
		if (rc < 0)
			ch_die(2, "%s", err.msg);
		ch_csv_close(r);
	}
	flush_batch(&o);
	for (f = 0; f < m->schema->nfeat; f++)
		unseen_total += unseen[f];
	if (unseen_total > 0) {
		char list[512] = "";
		size_t used = 0;

		for (f = 0; f < m->schema->nfeat && used < sizeof list - 64; f++)
			if (unseen[f])
				used += (size_t)snprintf(list + used, sizeof list - used,
				    "%s%s: %zu", used ? ", " : "", m->schema->f[f].name, unseen[f]);
		ch_warn("%zu values of categories unseen in training treated as missing%s%s%s",
		    unseen_total, used ? " (" : "", list, used ? ")" : "");
	}
	if (skipped)
		ch_warn("%zu bad rows skipped", skipped);
	if (fp != stdin)
		fclose(fp);
	free(o.codes);
	free(o.idoff);
	free(o.p);
	free(o.ids);
	free(unseen);
	free(col);
	ch_model_free(m);
	ch_fshut(stdout, "<stdout>");
	return skipped ? 1 : 0;
}
