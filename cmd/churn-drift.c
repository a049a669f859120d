/* churn-drift - has the population moved away from the model's? */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drift.h"
#include "input.h"
#include "driftread.h"
#include "model.h"
#include "modelref.h"
#include "registry.h"
#include "shard.h"
#include "util.h"

static const struct ch_usage use = {
	"churn-drift [-qv] -m MODEL [--reference FILE] [--json-in] [--bins K]\n"
	"                   [--psi-threshold [WARN,]DRIFT] [--l1-threshold [WARN,]DRIFT]\n"
	"                   [--drift-share X] [--min-rows N] [--config FILE] [--summary]\n"
	"                   [--record] [--store URL] [--database URL]\n"
	"                   [--jobs N] [--predict-sample N | --no-prediction]\n"
	"                   [--profile-out FILE] [FILE | s3://bucket/key | -]\n"
	"       churn-drift -m MODEL --from-profiles [report options] PROFILE ...\n",
	"  -m, --model MODEL     a model file, -, or an alias or version in the registry\n"
	"  --reference FILE      compare with this data, not the model's profile\n"
	"  --json-in             read JSON lines (one object a line), not CSV\n"
	"  --bins K              quantile bins of a numeric feature (10)\n"
	"  --psi-threshold [WARN,]DRIFT   PSI of a numeric feature (0.1,0.2)\n"
	"  --l1-threshold [WARN,]DRIFT    L1 distance of a categorical one (0.1,0.2)\n"
	"  --drift-share X       the share of drifted features that is drift (0.5)\n"
	"  --min-rows N          fewer current rows: no decision, \"insufficient\" (100)\n"
	"  --config FILE         thresholds per feature, as JSON\n"
	"  --summary             print a table of the features on stderr\n"
	"  --record              keep the report in the registry's drift history\n"
	"  --store URL           the store, for -m names and --record (CHURN_STORE)\n"
	"  --database URL        the PostgreSQL registry (CHURN_DATABASE_URL)\n"
	"  --jobs N              threads (all cores, at most 8)\n"
	"  --predict-sample N    rows scored for prediction drift (0: all)\n"
	"  --no-prediction       no prediction drift\n"
	"  --profile-out FILE    write this shard's counts there, not a report\n"
	"  --from-profiles       the report from shards' profiles (the arguments, or one\n"
	"                        s3://bucket/dir/ of them)\n",
	"  CHURN_STORE           the store (var/store)\n"
	"  CHURN_DATABASE_URL    the PostgreSQL registry, when there is one\n"
	"  CHURN_REGISTRY_TIMEOUT  each registry call at most, seconds (30 S3, 10 connect)\n"
	"  CHURN_S3_ENDPOINT     the S3 endpoint for s3:// stores and inputs\n"
	"  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION\n"
	"                        its credentials (AWS_SESSION_TOKEN: temporary ones)\n"
	"  AWS_ENDPOINT_URL      the S3 endpoint when CHURN_S3_ENDPOINT is not set\n",
};

/* "DRIFT" or "WARN,DRIFT"; a lone drift threshold keeps the warn one
 * unless it is above */
static void
threshold(const char *opt, const char *s, struct ch_drift_rule *r)
{
	const char *comma = strchr(s, ',');
	char *w;

	if (comma) {
		w = ch_strndup(s, (size_t)(comma - s));
		r->warn = ch_opt_double(opt, w, 0, 1e9);
		free(w);
		r->drift = ch_opt_double(opt, comma + 1, 0, 1e9);
		if (r->warn > r->drift)
			ch_die(2, "%s: warn %g is above drift %g", opt, r->warn,
			    r->drift);
	} else {
		r->drift = ch_opt_double(opt, s, 0, 1e9);
		if (r->warn > r->drift)
			r->warn = r->drift;
	}
}

/* A short human table of a report (--summary). */
static void
summary_line(FILE *fp, json_t *v)
{
	json_t *nc = json_object_get(v, "new_categories");

	fprintf(fp, "%-24s %-11s %-4s %8.4f %8.4f  %s",
	    json_string_value(json_object_get(v, "name")),
	    json_string_value(json_object_get(v, "type")),
	    json_string_value(json_object_get(v, "metric")),
	    json_number_value(json_object_get(v, "value")),
	    json_number_value(json_object_get(v, "threshold")),
	    json_string_value(json_object_get(v, "status")));
	if (json_array_size(nc))
		fprintf(fp, "  (%zu new)", json_array_size(nc));
	fputc('\n', fp);
}

static void
print_summary(FILE *fp, json_t *r)
{
	json_t *v, *rows = json_object_get(r, "rows");
	size_t i;

	fprintf(fp, "model %s, %lld reference rows, %lld current rows\n",
	    json_is_string(json_object_get(r, "model_version")) ?
	    json_string_value(json_object_get(r, "model_version")) : "(none)",
	    (long long)json_integer_value(json_object_get(rows, "reference")),
	    (long long)json_integer_value(json_object_get(rows, "current")));
	fprintf(fp, "%-24s %-11s %-4s %8s %8s  %s\n", "feature", "type",
	    "", "value", "drift at", "status");
	json_array_foreach(json_object_get(r, "features"), i, v)
		summary_line(fp, v);
	if ((v = json_object_get(r, "prediction")))
		summary_line(fp, v);
	json_array_foreach(json_object_get(r, "warnings"), i, v)
		fprintf(fp, "warning: %s\n", json_string_value(v));
	fprintf(fp, "%s\n", json_string_value(json_object_get(r, "rule")));
}

/* A numeric cell that is not a number is missing, as churn-train and
 * churn-predict take it, and said on stderr as they say it. */
static void
warn_not_numbers(const struct ch_drift_side *d)
{
	if (d->not_num)
		ch_warn("%s, counted as missing (%llu row%s so)", d->not_num_msg,
		    (unsigned long long)d->not_num, d->not_num > 1 ? "s" : "");
}

/* --profile-out: the current data's counts for one shard, no report. */
static void
profile_out(const struct ch_drift_read *rd, const struct ch_model *m,
    const char *in, const struct ch_store_opts *so, const char *out)
{
	struct ch_drift_profile p;
	struct ch_input input;
	struct ch_err e;
	json_t *j;
	char *s;

	ch_drift_profile_init(&p, m->schema);
	/* a file, stdin or an s3:// object, streamed */
	if (ch_input_open(&input, in, so, &e) != 0)
		ch_die(2, "%s", e.msg);
	if (ch_drift_read_profile(rd, input.fp, in, &p, &e) != 0) {
		ch_input_close(&input, &e);	/* a broken stream says why */
		ch_die(2, "%s", e.msg);
	}
	if (ch_input_close(&input, &e) != 0)
		ch_die(2, "%s", e.msg);
	warn_not_numbers(&p.side);
	if (!(j = ch_drift_profile_json(&p, m, &e)))
		ch_die(2, "%s", e.msg);
	s = json_dumps(j, JSON_COMPACT);
	if (strcmp(out, "-") == 0) {
		fputs(s, stdout);
		putchar('\n');
		ch_fshut(stdout, "<stdout>");
	} else {
		size_t n = strlen(s);

		s[n] = '\n';   /* over the NUL: written with its length */
		if (ch_write_atomic(out, s, n + 1, &e) != 0)
			ch_die(2, "%s", e.msg);
	}
	free(s);
	json_decref(j);
	ch_drift_profile_free(&p);
}

/* --from-profiles: the shards' profiles added up, as one read of all
 * their rows would count them; profiles are files, "-" or s3:// objects,
 * or one s3://bucket/dir/ prefix whose objects they are. */
static void
from_profiles(const struct ch_model *m, int n, char **paths,
    const struct ch_store_opts *so, struct ch_drift_side *cur)
{
	struct ch_drift_profile p;
	struct ch_input in;
	json_error_t je;
	struct ch_err e;
	char **listed = NULL;
	json_t *j;
	int i;

	if (n == 1 && strncmp(paths[0], "s3://", 5) == 0 &&
	    paths[0][strlen(paths[0]) - 1] == '/') {
		if (!(listed = ch_shard_list(paths[0], so, &e)))
			ch_die(2, "%s", e.msg);
		for (n = 0; listed[n]; n++)
			;
		paths = listed;
	}
	ch_drift_profile_init(&p, m->schema);
	for (i = 0; i < n; i++) {
		if (ch_input_open(&in, paths[i], so, &e) != 0)
			ch_die(2, "%s", e.msg);
		j = json_loadf(in.fp, 0, &je);
		if (ch_input_close(&in, &e) != 0)
			ch_die(2, "%s", e.msg);
		if (!j)
			ch_die(2, "%s:%d: %s", paths[i], je.line, je.text);
		if (ch_drift_profile_load(&p, j, paths[i], m, &e) != 0)
			ch_die(2, "%s", e.msg);
		json_decref(j);
	}
	if (ch_drift_profile_settle(&p, &e) != 0)
		ch_die(2, "%s", e.msg);
	*cur = p.side;
	free(p.smp);
	ch_strv_free(listed);
}

/* Appends the report to the registry's drift history. */
static void
record(json_t *rep, const char *store, const char *db)
{
	struct ch_registry_opts o = { 0 };
	struct ch_registry *r;
	struct ch_err e;

	o.store_url = store;
	o.database_url = db;
	ch_registry_opts_fill(&o, getenv);
	if (ch_registry_open(&o, &r, &e) != 0)
		ch_die(2, "--record: %s", e.msg);
	if (ch_registry_record_drift(r, rep, &e) != 0)
		ch_die(2, "--record: %s", e.msg);
	ch_registry_close(r);
}

/*
 * Too few current rows to judge: no drift declared, whatever the features
 * say.  With rows, the report keeps its detail; with none it has only
 * what can be said.
 */
static json_t *
insufficient(json_t *rep, const char *version, size_t rows, size_t ref_rows,
    size_t min_rows, const char *name)
{
	char reason[256], when[21];

	if (rows == 0)
		snprintf(reason, sizeof reason, "%s: no current rows: nothing to "
		    "judge yet (at least %zu are needed)", name, min_rows);
	else
		snprintf(reason, sizeof reason, "%s: only %zu current rows, fewer "
		    "than the minimum of %zu: too few to judge drift", name,
		    rows, min_rows);
	if (!rep) {
		ch_iso8601(time(NULL), when);
		rep = json_pack("{s:s?, s:s, s:{s:I, s:I}, s:b, s:i, s:i, s:[]}",
		    "model_version", version, "time", when, "rows", "reference",
		    (json_int_t)ref_rows, "current", (json_int_t)rows, "drift", 0,
		    "drifted", 0, "checked", 0, "warnings");
	}
	json_object_set_new(rep, "drift", json_false());
	json_object_set_new(rep, "rule", json_string("insufficient data: no "
	    "drift is declared below the minimum of current rows (--min-rows)"));
	json_object_set_new(rep, "insufficient", json_true());
	json_object_set_new(rep, "reason", json_string(reason));
	json_object_set_new(rep, "min_rows", json_integer((json_int_t)min_rows));
	ch_warn("%s", reason);
	return rep;
}

/* A flag beats the config file: per-feature entries of a metric given by
 * flag are dropped. */
static void
drop_overrides(struct ch_drift_cfg *c, const struct ch_schema *s, int psi,
    int l1)
{
	size_t i, j = 0;
	int f, numeric;

	for (i = 0; i < c->nover; i++) {
		f = ch_schema_find(s, c->over[i].name);
		numeric = f < 0 || s->f[f].type == CH_NUMERIC;
		if ((numeric && psi) || (!numeric && l1)) {
			free(c->over[i].name);
			continue;
		}
		c->over[j++] = c->over[i];
	}
	c->nover = j;
}

static void
check_overrides(const struct ch_drift_cfg *c, const struct ch_schema *s,
    const char *name)
{
	size_t i;

	for (i = 0; i < c->nover; i++)
		if (ch_schema_find(s, c->over[i].name) < 0 &&
		    strcmp(c->over[i].name, "churn_probability") != 0)
			ch_die(2, "%s: 'features.%s': not a feature of the model",
			    name, c->over[i].name);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "reference", required_argument, NULL, 'r' },
		{ "json-in", no_argument, NULL, 'J' },
		{ "bins", required_argument, NULL, 'b' },
		{ "psi-threshold", required_argument, NULL, 'P' },
		{ "l1-threshold", required_argument, NULL, 'L' },
		{ "drift-share", required_argument, NULL, 'S' },
		{ "min-rows", required_argument, NULL, 'M' },
		{ "config", required_argument, NULL, 'c' },
		{ "summary", no_argument, NULL, 's' },
		{ "record", no_argument, NULL, 'R' },
		{ "store", required_argument, NULL, 'T' },
		{ "database", required_argument, NULL, 'D' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "predict-sample", required_argument, NULL, 'p' },
		{ "no-prediction", no_argument, NULL, 'N' },
		{ "profile-out", required_argument, NULL, 'O' },
		{ "from-profiles", no_argument, NULL, 'F' },
		CH_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const char *model_path = NULL, *ref_path = NULL, *cfg_path = NULL;
	const char *psi_arg = NULL, *l1_arg = NULL, *share_arg = NULL;
	const char *bins_arg = NULL, *store = NULL, *db = NULL, *in;
	const char *minrows_arg = NULL;
	struct ch_input input;
	const char *prof_out = NULL;
	int profiles = 0;
	int json_in = 0, summary = 0, rec = 0, nopred = 0, jobs, ch, found;
	uint64_t sample = CH_DRIFT_PRED_SAMPLE;
	struct ch_drift_side ref, cur;
	struct ch_drift_read rd;
	struct ch_drift_cfg cfg;
	struct ch_registry_opts ro = { 0 };
	struct ch_progress *prog;
	struct ch_model *m;
	struct ch_err e;
	json_t *rep;
	double t0 = ch_seconds();

	ch_setprogname(argv[0]);
	jobs = ch_ncpus() > 8 ? 8 : ch_ncpus();
	while ((ch = getopt_long(argc, argv, "m:" CH_COMMON_SHORTOPTS, lo,
	    NULL)) != -1) {
		if (ch_common_opt(ch, &use))
			continue;
		switch (ch) {
		case 'm': model_path = optarg; break;
		case 'r': ref_path = optarg; break;
		case 'J': json_in = 1; break;
		case 'b': bins_arg = optarg; break;
		case 'P': psi_arg = optarg; break;
		case 'L': l1_arg = optarg; break;
		case 'S': share_arg = optarg; break;
		case 'M': minrows_arg = optarg; break;
		case 'c': cfg_path = optarg; break;
		case 's': summary = 1; break;
		case 'R': rec = 1; break;
		case 'T': store = optarg; break;
		case 'D': db = optarg; break;
		case 'N': nopred = 1; break;
		case 'j': jobs = (int)ch_opt_int("--jobs", optarg, 1, 256); break;
		case 'O': prof_out = optarg; break;
		case 'F': profiles = 1; break;
		case 'p':
			sample = (uint64_t)ch_opt_int("--predict-sample", optarg,
			    0, 1000000000000000LL);
			break;
		default: ch_usage(&use, 2);
		}
	}
	argc -= optind;
	argv += optind;
	if ((argc > 1 && !profiles) || (profiles && argc == 0))
		ch_usage(&use, 2);
	if (prof_out && (profiles || ref_path || summary || rec))
		ch_die(2, "--profile-out writes one shard's counts: --from-"
		    "profiles, --reference, --summary and --record make the report");
	in = argc ? argv[0] : "-";
	if (!model_path)
		ch_die(2, "no model: give one with -m MODEL");
	if (strcmp(model_path, "-") == 0 && strcmp(in, "-") == 0)
		ch_die(2, "the model and the data cannot both be stdin");
	if (ref_path && strcmp(ref_path, "-") == 0 && strcmp(in, "-") == 0)
		ch_die(2, "the reference and the data cannot both be stdin");

	ch_drift_cfg_init(&cfg);
	ro.store_url = store;
	ro.database_url = db;
	ch_registry_opts_fill(&ro, getenv);
	if (ch_modelref_load(model_path, &ro, &m, NULL, &e) != 0)
		ch_die(2, "%s", e.msg);
	if (cfg_path) {
		json_error_t je;
		json_t *j = json_load_file(cfg_path, 0, &je);

		if (!j)
			ch_die(2, "%s:%d: %s", cfg_path, je.line, je.text);
		if (ch_drift_cfg_json(&cfg, j, cfg_path, &e) != 0)
			ch_die(2, "%s", e.msg);
		json_decref(j);
		check_overrides(&cfg, m->schema, cfg_path);
	}
	if (bins_arg)
		cfg.bins = (int)ch_opt_int("--bins", bins_arg, 2, CH_MAXBINS);
	if (psi_arg)
		threshold("--psi-threshold", psi_arg, &cfg.psi);
	if (l1_arg)
		threshold("--l1-threshold", l1_arg, &cfg.l1);
	if (share_arg)
		cfg.share = ch_opt_double("--drift-share", share_arg, 1e-9, 1);
	if (minrows_arg)
		cfg.min_rows = (size_t)ch_opt_int("--min-rows", minrows_arg, 0,
		    (long long)1e15);
	drop_overrides(&cfg, m->schema, psi_arg != NULL, l1_arg != NULL);

	memset(&rd, 0, sizeof rd);
	rd.schema = m->schema;
	rd.model = nopred ? NULL : m;
	rd.jobs = jobs;
	rd.pred_sample = sample;
	if (ref_path) {
		/* a reference file is read like the current data (CSV) */
		ch_drift_side_init(&ref, m->schema);
		if (ch_drift_read(&rd, strcmp(ref_path, "-") == 0 ? stdin :
		    NULL, ref_path, &ref, &e) != 0)
			ch_die(2, "%s", e.msg);
	} else if (ch_drift_side_from_model(&ref, m, &e) != 0)
		ch_die(2, "%s: %s", model_path, e.msg);

	rd.json_lines = json_in;
	rd.allow_empty = 1;
	if (prof_out) {
		profile_out(&rd, m, in, &ro.s3, prof_out);
		ch_drift_side_free(&ref);
		ch_drift_cfg_free(&cfg);
		ch_model_free(m);
		return 0;
	}
	if (profiles)
		from_profiles(m, argc, argv, &ro.s3, &cur);
	else {
		ch_drift_side_init(&cur, m->schema);
		if (ch_input_open(&input, in, &ro.s3, &e) != 0)
			ch_die(2, "%s", e.msg);
		prog = ch_progress_new(NULL, input.fd);
		if (ch_drift_read(&rd, input.fp, in, &cur, &e) != 0) {
			ch_progress_end(prog);
			ch_input_close(&input, &e);	/* a broken stream says why */
			ch_die(2, "%s", e.msg);
		}
		ch_progress_end(prog);
		if (ch_input_close(&input, &e) != 0)
			ch_die(2, "%s", e.msg);
	}
	if (ch_verbosity() > 0)
		ch_warn("%llu rows of %s read in %.2f s", (unsigned long long)
		    cur.rows, in, ch_seconds() - t0);

	rep = NULL;
	if (cur.rows > 0 && !(rep = ch_drift_report(m->schema,
	    m->pred_ref.edges, m->pred_ref.nbins - 1, &ref, &cur, &cfg,
	    m->version, time(NULL), &e)))
		ch_die(2, "%s", e.msg);
	if (cur.rows < cfg.min_rows || cur.rows == 0)
		rep = insufficient(rep, m->version, cur.rows, ref.rows,
		    cfg.min_rows, strcmp(in, "-") == 0 ? "<stdin>" : in);
	else
		json_object_set_new(rep, "insufficient", json_false());
	if (!summary) {             /* --summary prints every warning */
		warn_not_numbers(&ref);
		warn_not_numbers(&cur);
	}
	found = ch_drift_found(rep);
	if (json_dumpf(rep, stdout, JSON_COMPACT | JSON_REAL_PRECISION(15)) != 0)
		ch_die(2, "write <stdout>:");
	putchar('\n');
	ch_fshut(stdout, "<stdout>");
	if (summary)
		print_summary(stderr, rep);
	if (rec)
		record(rep, store, db);

	json_decref(rep);
	ch_drift_side_free(&ref);
	ch_drift_side_free(&cur);
	ch_drift_cfg_free(&cfg);
	ch_model_free(m);
	return found ? 1 : 0;
}
