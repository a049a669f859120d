/* churn-predict - score customers with a churn model, streaming */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "input.h"
#include "model.h"
#include "modelref.h"
#include "predlog.h"
#include "registry.h"
#include "util.h"

static const struct ch_usage use = {
	"churn-predict [-qv] -m model [--json-in] [--json] [--skip-bad]\n"
	"                     [--threshold t] [--jobs n] [--no-header] [--row-offset n]\n"
	"                     [file | s3://bucket/key | -]\n"
	"       churn-predict -m model --record [--at time] [--retain days]\n"
	"                     [--store URL] [--database URL] [--json-in] [...] file\n"
	"       churn-predict -m model --schema | --describe\n",
	"  -m, --model MODEL     a model file, -, or an alias or version in the registry\n"
	"  --json-in             read JSON lines (one object a line), not CSV\n"
	"  --json                write JSON lines, not CSV\n"
	"  --skip-bad            warn about a bad row and go on (exit 1 at the end)\n"
	"  --threshold T         the decision threshold (the model's)\n"
	"  --jobs N              threads (all cores)\n"
	"  --no-header           no CSV header line in the output (shards after the first)\n"
	"  --row-offset N        add N to row-number ids (the rows of the shards before)\n"
	"  --schema              print the input schema the model expects\n"
	"  --describe            print what the model is: version, metrics, features\n"
	"  --record              also keep the scored rows in the registry's prediction log\n"
	"  --at TIME             --record: the rows' time (now)\n"
	"  --retain DAYS         --record: then delete rows older than DAYS (180; 0 keeps)\n"
	"  --store URL           the registry's store (CHURN_STORE)\n"
	"  --database URL        the PostgreSQL registry (CHURN_DATABASE_URL)\n",
	"  CHURN_STORE           the store that resolves a -m name (var/store)\n"
	"  CHURN_DATABASE_URL    the PostgreSQL registry, when there is one\n"
	"  CHURN_S3_ENDPOINT     the S3 endpoint for s3:// stores and inputs\n"
	"  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION\n"
	"                        its credentials (AWS_SESSION_TOKEN: temporary ones)\n"
	"  AWS_ENDPOINT_URL      the S3 endpoint when CHURN_S3_ENDPOINT is not set\n",
};

static int
out(void *arg, const char *s, size_t n, struct ch_err *e)
{
	(void)arg, (void)e;
	fwrite(s, 1, n, stdout);
	return 0;
}

/*
 * --record: the rows of input scored again by the library and appended to
 * the registry's prediction log at time at, then rows older than retain
 * days pruned.
 */
static void
record(const struct ch_model *m, const char *input, int jsonin, int skipbad,
    time_t at, long retain, const struct ch_registry_opts *ro)
{
	struct ch_registry *r;
	struct ch_err e;
	size_t n, gone;

	if (ch_registry_open(ro, &r, &e) != 0 ||
	    ch_predlog_record_file(r, m, input, jsonin, skipbad, at, &n,
	    &e) != 0 ||
	    ch_predlog_prune(r, retain, time(NULL), &gone, &e) != 0)
		ch_die(2, "--record: %s", e.msg);
	if (ch_verbosity() >= 0)
		ch_warn("%zu predictions recorded in the prediction log (%s)", n,
		    ch_registry_db_where(r));
	ch_registry_close(r);
}

static void
warn(void *arg, const char *msg)
{
	(void)arg;
	if (ch_verbosity() >= 0)
		ch_warn("%s", msg);
}

int
main(int argc, char *argv[])
{
	enum { O_JSONIN = 256, O_JSON, O_SKIP, O_SCHEMA, O_DESCRIBE, O_THRESHOLD,
	    O_JOBS, O_RECORD, O_AT, O_RETAIN, O_STORE, O_DATABASE,
	    O_NOHEADER, O_ROWOFFSET };
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "json-in", no_argument, NULL, O_JSONIN },
		{ "json", no_argument, NULL, O_JSON },
		{ "skip-bad", no_argument, NULL, O_SKIP },
		{ "schema", no_argument, NULL, O_SCHEMA },
		{ "describe", no_argument, NULL, O_DESCRIBE },
		{ "threshold", required_argument, NULL, O_THRESHOLD },
		{ "jobs", required_argument, NULL, O_JOBS },
		{ "record", no_argument, NULL, O_RECORD },
		{ "at", required_argument, NULL, O_AT },
		{ "retain", required_argument, NULL, O_RETAIN },
		{ "store", required_argument, NULL, O_STORE },
		{ "database", required_argument, NULL, O_DATABASE },
		{ "no-header", no_argument, NULL, O_NOHEADER },
		{ "row-offset", required_argument, NULL, O_ROWOFFSET },
		CH_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const char *model = NULL, *input = "-";
	int c, show = 0, f, rec = 0;
	long retain = CH_PREDLOG_RETAIN_DAYS;
	time_t at = time(NULL);
	size_t unseen_total = 0;
	struct ch_model *m;
	struct ch_err err;
	struct ch_batch_opts o = { .out = out, .warn = warn };
	struct ch_batch_stats st = { 0 };
	struct ch_registry_opts ro = { 0 };
	struct ch_input in;
	double t0 = ch_seconds();

	ch_setprogname(argv[0]);
	o.threshold = NAN;
	o.jobs = ch_ncpus();
	while ((c = getopt_long(argc, argv, "m:" CH_COMMON_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if (ch_common_opt(c, &use))
			continue;
		switch (c) {
		case 'm': model = optarg; break;
		case O_JSONIN: o.json_in = 1; break;
		case O_JSON: o.json_out = 1; break;
		case O_SKIP: o.skip_bad = 1; break;
		case O_SCHEMA: show = 1; break;
		case O_DESCRIBE: show = 2; break;
		case O_THRESHOLD: o.threshold = ch_opt_double("--threshold", optarg, 0, 1); break;
		case O_JOBS: o.jobs = (int)ch_opt_int("--jobs", optarg, 1, 1024); break;
		case O_RECORD: rec = 1; break;
		case O_AT:
			if (ch_time_parse(optarg, strlen(optarg), &at) != 0)
				ch_die(2, "--at: '%s' is not a time (YYYY-MM-DD or "
				    "YYYY-MM-DDTHH:MM:SSZ)", optarg);
			break;
		case O_RETAIN: retain = (long)ch_opt_int("--retain", optarg, 0, 36500); break;
		case O_STORE: ro.store_url = optarg; break;
		case O_DATABASE: ro.database_url = optarg; break;
		case O_NOHEADER: o.no_header = 1; break;
		case O_ROWOFFSET: o.row_offset = (long)ch_opt_int("--row-offset", optarg, 0, 1000000000000000LL); break;
		default: ch_usage(&use, 2);
		}
	}
	if (!model || argc - optind > 1)
		ch_usage(&use, 2);
	if (optind < argc)
		input = argv[optind];
	if (rec && (strcmp(input, "-") == 0 || strncmp(input, "s3://", 5) == 0))
		ch_die(2, "--record: give a file (it is read again to record "
		    "the rows), not %s", strcmp(input, "-") == 0 ? "stdin" : input);
	ch_registry_opts_fill(&ro, getenv);
	if (ch_modelref_load(model, &ro, &m, NULL, &err) != 0)
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
	if (ch_input_open(&in, input, &ro.s3, &err) != 0)
		ch_die(2, "%s", err.msg);
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	o.progress = ch_progress_new("rows", in.fd);
	if (ch_batch_score(in.fp, &o, &st, &err) != 0) {
		ch_progress_end(o.progress);
		ch_input_close(&in, &err);	/* a broken stream says why */
		ch_die(2, "%s", err.msg);
	}
	ch_progress_end(o.progress);
	if (ch_input_close(&in, &err) != 0)
		ch_die(2, "%s", err.msg);

	for (f = 0; f < m->schema->nfeat; f++)
		unseen_total += st.unseen[f];
	if (unseen_total > 0 && ch_verbosity() >= 0) {
		char list[512] = "";
		size_t used = 0;

		for (f = 0; !o.json_in && f < m->schema->nfeat && used < sizeof list - 64; f++)
			if (st.unseen[f])
				used += (size_t)snprintf(list + used, sizeof list - used,
				    "%s%s: %zu", used ? ", " : "", m->schema->f[f].name, st.unseen[f]);
		ch_warn("%zu values of categories unseen in training treated as missing%s%s%s",
		    unseen_total, used ? " (" : "", list, used ? ")" : "");
	}
	if (st.skipped && ch_verbosity() >= 0)
		ch_warn("%zu bad rows skipped", st.skipped);
	if (ch_verbosity() > 0)
		ch_warn("%zu rows scored in %.2f s", st.rows, ch_seconds() - t0);
	if (rec) {
		ch_fshut(stdout, "<stdout>");
		record(m, input, o.json_in, o.skip_bad, at, retain, &ro);
		free(st.unseen);
		ch_model_free(m);
		return st.skipped ? 1 : 0;
	}
	free(st.unseen);
	ch_model_free(m);
	ch_fshut(stdout, "<stdout>");
	return st.skipped ? 1 : 0;
}
