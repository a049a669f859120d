/* churn-predict - score customers with a churn model, streaming */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "model.h"
#include "util.h"

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: churn-predict -m model [--json-in] [--json] [--skip-bad]\n"
	    "                     [--threshold t] [--jobs n] [--no-header]\n"
	    "                     [--row-offset n] [file | -]\n"
	    "       churn-predict -m model --schema | --describe\n");
	exit(status);
}

static int
out(void *arg, const char *s, size_t n, struct ch_err *e)
{
	(void)arg, (void)e;
	fwrite(s, 1, n, stdout);
	return 0;
}

static void
warn(void *arg, const char *msg)
{
	(void)arg;
	ch_warn("%s (skipped)", msg);
}

int
main(int argc, char *argv[])
{
	enum { O_JSONIN = 256, O_JSON, O_SKIP, O_SCHEMA, O_DESCRIBE, O_THRESHOLD,
	    O_JOBS, O_VERSION, O_NOHEADER, O_ROWOFFSET };
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "json-in", no_argument, NULL, O_JSONIN },
		{ "json", no_argument, NULL, O_JSON },
		{ "skip-bad", no_argument, NULL, O_SKIP },
		{ "schema", no_argument, NULL, O_SCHEMA },
		{ "describe", no_argument, NULL, O_DESCRIBE },
		{ "threshold", required_argument, NULL, O_THRESHOLD },
		{ "jobs", required_argument, NULL, O_JOBS },
		{ "no-header", no_argument, NULL, O_NOHEADER },
		{ "row-offset", required_argument, NULL, O_ROWOFFSET },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	const char *model = NULL, *input = "-";
	int c, show = 0, f;
	size_t unseen_total = 0;
	struct ch_model *m;
	struct ch_err err;
	struct ch_batch_opts o = { .out = out, .warn = warn };
	struct ch_batch_stats st = { 0 };
	double t;
	FILE *fp;

	ch_setprogname(argv[0]);
	o.threshold = NAN;
	o.jobs = ch_ncpus();
	while ((c = getopt_long(argc, argv, "m:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case O_JSONIN: o.json_in = 1; break;
		case O_JSON: o.json_out = 1; break;
		case O_SKIP: o.skip_bad = 1; break;
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
		case O_NOHEADER: o.no_header = 1; break;
		case O_ROWOFFSET:
			if (ch_parse_double(optarg, strlen(optarg), &t) != 0 ||
			    t < 0 || t > 1e15 || t != (long)t)
				ch_die(2, "--row-offset: '%s' is not a whole number "
				    "from 0 to 1e15", optarg);
			o.row_offset = (long)t;
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
	o.name = input;
	st.unseen = ch_calloc((size_t)m->schema->nfeat, sizeof *st.unseen);
	fp = strcmp(input, "-") == 0 ? stdin : fopen(input, "rb");
	if (!fp)
		ch_die(2, "open %s:", input);
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	if (ch_batch_score(fp, &o, &st, &err) != 0)
		ch_die(2, "%s", err.msg);

	for (f = 0; f < m->schema->nfeat; f++)
		unseen_total += st.unseen[f];
	if (unseen_total > 0) {
		char list[512] = "";
		size_t used = 0;

		for (f = 0; !o.json_in && f < m->schema->nfeat && used < sizeof list - 64; f++)
			if (st.unseen[f])
				used += (size_t)snprintf(list + used, sizeof list - used,
				    "%s%s: %zu", used ? ", " : "", m->schema->f[f].name, st.unseen[f]);
		ch_warn("%zu values of categories unseen in training treated as missing%s%s%s",
		    unseen_total, used ? " (" : "", list, used ? ")" : "");
	}
	if (st.skipped)
		ch_warn("%zu bad rows skipped", st.skipped);
	if (fp != stdin)
		fclose(fp);
	free(st.unseen);
	ch_model_free(m);
	ch_fshut(stdout, "<stdout>");
	return st.skipped ? 1 : 0;
}
