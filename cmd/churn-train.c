/* churn-train - train a churn model from a CSV file */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "input.h"
#include "metrics.h"
#include "model.h"
#include "registry.h"
#include "shard.h"
#include "train.h"
#include "util.h"

static const struct ch_usage use = {
	"churn-train [-qv] [-o model] [--target col] [--positive label] [--id col]\n"
	"                   [--drop cols] [--numeric cols] [--categorical cols]\n"
	"                   [--trees n] [--max-depth n] [--min-leaf n]\n"
	"                   [--max-features sqrt|log2|all|n|fraction]\n"
	"                   [--class-weight balanced|none] [--seed n] [--jobs n]\n"
	"                   [--holdout fraction | --valid file] [--threshold t]\n"
	"                   [--bins n] [--learner auto|forest|gbdt|best]\n"
	"                   [--calibrate auto|none|isotonic|platt] [--no-refit]\n"
	"                   [--keep cols] [--bins-from summaries] [file.csv | -]\n"
	"       churn-train [-qv] --summary-out file [--target col] [--positive label]\n"
	"                   [--id col] [--drop cols] [--numeric cols]\n"
	"                   [--categorical cols] [file.csv | -]\n"
	"       churn-train [-qv] --merge [-o model] [--valid file] [--threshold t]\n"
	"                   model ...\n",
	"  -o, --output FILE     the model file to write (model.churn)\n"
	"  --target COL          the column to predict (Churn)\n"
	"  --positive LABEL      the target's positive label (Yes, 1, true, ...)\n"
	"  --id COL              an ID column, kept out of the features\n"
	"  --drop COLS           columns to leave out, comma-separated\n"
	"  --numeric COLS        columns to take as numbers\n"
	"  --categorical COLS    columns to take as categories\n"
	"  --learner L           auto (boosted trees; the forest on big data), forest,\n"
	"                        gbdt, or best (both, the better kept) (auto)\n"
	"  --trees N             trees in the forest (100; asks for a forest)\n"
	"  --max-depth N         the deepest a tree grows (0: no limit)\n"
	"  --min-leaf N          the fewest rows in a leaf (chosen by out-of-bag AUC)\n"
	"  --max-features F      features tried at a split: sqrt, log2, all, n, fraction\n"
	"                        (chosen by out-of-bag AUC)\n"
	"  --class-weight W      balanced or none (balanced)\n"
	"  --seed N              the random seed (1)\n"
	"  --jobs N              threads (all cores)\n"
	"  --holdout FRACTION    the share held out for the metrics (0.2)\n"
	"  --valid FILE          a validation file instead of a holdout\n"
	"  --threshold T         the decision threshold kept in the model (0.5)\n"
	"  --bins N              quantile bins of a numeric feature (at most 255)\n"
	"  --calibrate M         auto, none, isotonic or platt (auto: when it helps)\n"
	"  --no-refit            keep the model measured on the holdout, not refitted\n"
	"  --keep COLS           columns to keep although they look like ids or leaks\n"
	"  --summary-out FILE    write a shard's column summary, train nothing\n"
	"  --bins-from S,...     bin as the shards' summaries say (or an s3://dir/ of\n"
	"                        them); a forest of this shard for --merge\n"
	"  --merge               merge the forests named as arguments into -o\n",
	"  SOURCE_DATE_EPOCH     the time written into the model (reproducible builds)\n"
	"  CHURN_S3_ENDPOINT, AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,\n"
	"  AWS_SESSION_TOKEN     S3 access for s3:// inputs of --summary-out and summaries\n",
};

static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ch_progress *prog;

/* called by the forest after each tree: the read is over, trees count */
static void
progress(int done, int total, void *arg)
{
	static int training;

	(void)arg;
	pthread_mutex_lock(&progress_lock);
	if (!training) {
		ch_progress_total(prog, "trees", (uint64_t)total);
		training = 1;
	}
	ch_progress_set(prog, (uint64_t)done);
	pthread_mutex_unlock(&progress_lock);
}

/* --summary-out: the shard's summary written, nothing trained. */
static int
write_summary(const char *input, const struct ch_frame_opts *fo,
    const struct ch_store_opts *so, const char *out)
{
	struct ch_input in;
	struct ch_err e;
	json_t *j;
	char *s;

	if (ch_input_open(&in, input, so, &e) != 0)
		ch_die(2, "%s", e.msg);
	if (ch_shard_summary(in.fp, input, fo, &j, &e) != 0) {
		ch_input_close(&in, &e);	/* a broken stream says why */
		ch_die(2, "%s", e.msg);
	}
	if (ch_input_close(&in, &e) != 0)
		ch_die(2, "%s", e.msg);
	s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
	if (strcmp(out, "-") == 0) {
		puts(s);
		ch_fshut(stdout, "<stdout>");
	} else if (ch_write_atomic(out, s, strlen(s), &e) != 0) {
		ch_die(2, "%s", e.msg);
	}
	if (ch_verbosity() > 0)
		ch_warn("%s: %lld rows summarised into %s", input,
		    json_integer_value(json_object_get(j, "rows")), out);
	free(s);
	json_decref(j);
	return 0;
}

/* --merge: the shards' forests made one model, its summary printed. */
static int
merge_forests(const struct ch_train_opts *o, char **parts, size_t n)
{
	struct ch_merge_opts mo = { parts, n, o->valid, o->threshold,
	    o->forest.jobs, o->now, o->output };
	struct ch_train_result r;
	struct ch_err e;
	json_t *summary;

	if (ch_shard_merge(&mo, &r, &e) != 0)
		ch_die(2, "%s", e.msg);
	summary = ch_train_summary(&r);
	json_dumpf(summary, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	putchar('\n');
	json_decref(summary);
	ch_train_result_free(&r);
	ch_fshut(stdout, "<stdout>");
	return 0;
}

int
main(int argc, char *argv[])
{
	enum { O_TARGET = 256, O_POSITIVE, O_ID, O_DROP, O_NUMERIC, O_CATEGORICAL,
	    O_TREES, O_DEPTH, O_LEAF, O_MAXF, O_CW, O_SEED, O_JOBS, O_HOLDOUT,
	    O_VALID, O_THRESHOLD, O_BINS, O_LEARNER, O_CALIBRATE, O_NOREFIT, O_KEEP,
	    O_SUMMARY, O_BINSFROM, O_MERGE };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "target", required_argument, NULL, O_TARGET },
		{ "positive", required_argument, NULL, O_POSITIVE },
		{ "id", required_argument, NULL, O_ID },
		{ "drop", required_argument, NULL, O_DROP },
		{ "numeric", required_argument, NULL, O_NUMERIC },
		{ "categorical", required_argument, NULL, O_CATEGORICAL },
		{ "trees", required_argument, NULL, O_TREES },
		{ "max-depth", required_argument, NULL, O_DEPTH },
		{ "min-leaf", required_argument, NULL, O_LEAF },
		{ "max-features", required_argument, NULL, O_MAXF },
		{ "class-weight", required_argument, NULL, O_CW },
		{ "seed", required_argument, NULL, O_SEED },
		{ "jobs", required_argument, NULL, O_JOBS },
		{ "holdout", required_argument, NULL, O_HOLDOUT },
		{ "valid", required_argument, NULL, O_VALID },
		{ "threshold", required_argument, NULL, O_THRESHOLD },
		{ "bins", required_argument, NULL, O_BINS },
		{ "learner", required_argument, NULL, O_LEARNER },
		{ "calibrate", required_argument, NULL, O_CALIBRATE },
		{ "no-refit", no_argument, NULL, O_NOREFIT },
		{ "keep", required_argument, NULL, O_KEEP },
		{ "summary-out", required_argument, NULL, O_SUMMARY },
		{ "bins-from", required_argument, NULL, O_BINSFROM },
		{ "merge", no_argument, NULL, O_MERGE },
		CH_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct ch_train_opts o;
	struct ch_frame_opts fo = { 0 };
	struct ch_train_result res;
	struct ch_err err;
	const char *input = "-", *sde;
	FILE *fp;
	json_t *summary;
	double t0 = ch_seconds();
	int c, learner_set = 0, forest_set = 0, merge = 0;
	const char *summary_out = NULL;
	char **bins_from = NULL;
	struct ch_registry_opts ro = { 0 };
	struct ch_schema *bins = NULL;

	ch_setprogname(argv[0]);
	ch_train_defaults(&o);
	o.output = "model.churn";
	while ((c = getopt_long(argc, argv, "o:" CH_COMMON_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if (ch_common_opt(c, &use))
			continue;
		switch (c) {
		case 'o': o.output = optarg; break;
		case O_TARGET: fo.target = optarg; break;
		case O_POSITIVE: fo.positive = optarg; break;
		case O_ID: fo.id = optarg; break;
		case O_DROP: fo.drop = ch_strv_split(optarg); break;
		case O_NUMERIC: fo.numeric = ch_strv_split(optarg); break;
		case O_CATEGORICAL: fo.categorical = ch_strv_split(optarg); break;
		case O_TREES:
			o.forest.trees = (int)ch_opt_int("--trees", optarg, 1, 100000);
			forest_set = 1;
			break;
		case O_DEPTH:
			o.forest.max_depth = o.gbdt.max_depth =
			    (int)ch_opt_int("--max-depth", optarg, 0, 1000);
			break;
		case O_LEAF:
			o.forest.min_leaf = o.gbdt.min_leaf =
			    (int)ch_opt_int("--min-leaf", optarg, 1, 1000000000);
			break;
		case O_MAXF:
			if (ch_parse_max_features(optarg, &o.forest) != 0)
				ch_die(2, "--max-features: '%s' is not sqrt, log2, all, "
				    "a count or a fraction", optarg);
			o.mf_set = forest_set = 1;
			break;
		case O_NOREFIT: o.refit = 0; break;
		case O_KEEP: o.keep = ch_strv_split(optarg); break;
		case O_SUMMARY: summary_out = optarg; break;
		case O_BINSFROM: bins_from = ch_strv_split(optarg); break;
		case O_MERGE: merge = 1; break;
		case O_LEARNER:
			learner_set = 1;
			if (strcmp(optarg, "auto") == 0)
				o.learner = CH_CHOOSE_AUTO;
			else if (strcmp(optarg, "forest") == 0)
				o.learner = CH_CHOOSE_FOREST;
			else if (strcmp(optarg, "gbdt") == 0)
				o.learner = CH_CHOOSE_GBDT;
			else if (strcmp(optarg, "best") == 0)
				o.learner = CH_CHOOSE_BEST;
			else
				ch_die(2, "--learner: '%s' is not auto, forest, gbdt or best", optarg);
			break;
		case O_CALIBRATE: {
			enum ch_calib_method cm;

			if (strcmp(optarg, "auto") == 0)
				o.calibrate = -1;
			else if (ch_calib_parse(optarg, &cm) == 0)
				o.calibrate = (int)cm;
			else
				ch_die(2, "--calibrate: '%s' is not auto, none, isotonic "
				    "or platt", optarg);
			break;
		}
		case O_CW:
			if (strcmp(optarg, "balanced") == 0)
				o.forest.balanced = 1;
			else if (strcmp(optarg, "none") == 0)
				o.forest.balanced = 0;
			else
				ch_die(2, "--class-weight: '%s' is not balanced or none", optarg);
			forest_set = 1;
			break;
		case O_SEED: o.forest.seed = (uint64_t)ch_opt_int("--seed", optarg, 0, 0x7fffffffL); break;
		case O_JOBS: o.forest.jobs = (int)ch_opt_int("--jobs", optarg, 1, 1024); break;
		case O_HOLDOUT: o.holdout = ch_opt_double("--holdout", optarg, 0, 0.9); break;
		case O_VALID: o.valid = optarg; break;
		case O_THRESHOLD: o.threshold = ch_opt_double("--threshold", optarg, 0, 1); break;
		case O_BINS: fo.max_bins = (int)ch_opt_int("--bins", optarg, 2, CH_MAXBINS); break;
		default: ch_usage(&use, 2);
		}
	}
	if ((argc - optind > 1 && !merge) || (merge && optind == argc) ||
	    (merge + !!summary_out + !!bins_from > 1))
		ch_usage(&use, 2);
	/* a forest's own option asks for a forest */
	if (forest_set && !learner_set)
		o.learner = CH_CHOOSE_FOREST;
	if (optind < argc)
		input = argv[optind];

	/* reproducible builds: SOURCE_DATE_EPOCH fixes the version and times */
	o.now = time(NULL);
	if ((sde = getenv("SOURCE_DATE_EPOCH")) && *sde)
		o.now = (time_t)ch_opt_int("SOURCE_DATE_EPOCH", sde, 0, 0x7fffffffL);
	ch_registry_opts_fill(&ro, getenv);
	if (summary_out)
		return write_summary(input, &fo, &ro.s3, summary_out);
	if (merge)
		return merge_forests(&o, argv + optind, (size_t)(argc - optind));
	if (bins_from) {
		/* boosting rounds correct each other and do not merge */
		if (o.learner == CH_CHOOSE_GBDT)
			ch_die(2, "--bins-from: grows a forest to merge; boosted "
			    "trees do not merge (--learner forest)");
		o.learner = CH_CHOOSE_FOREST;
		if (ch_shard_bins_from(bins_from, &ro.s3, &fo, &bins, &o.bins_info,
		    &err) != 0)
			ch_die(2, "--bins-from: %s", err.msg);
		o.bins = bins;
	}

	fp = strcmp(input, "-") == 0 ? stdin : fopen(input, "rb");
	if (!fp)
		ch_die(2, "open %s:", input);
	/* the read shows how far into the file it is; training, the trees */
	if ((prog = ch_progress_new(NULL, fileno(fp))))
		o.progress = progress;
	if (ch_train(fp, input, &fo, &o, &res, &err) != 0) {
		ch_progress_end(prog);
		ch_die(2, "%s", err.msg);
	}
	ch_progress_end(prog);
	for (size_t i = 0; ch_verbosity() >= 0 && i < json_array_size(res.warnings); i++)
		ch_warn("warning: %s", json_string_value(json_object_get(
		    json_array_get(res.warnings, i), "message")));
	if (fp != stdin)
		fclose(fp);
	if (ch_verbosity() > 0)
		ch_warn("%zu rows read in %.2f s, %d trees trained in %.2f s, "
		    "%s written; %.2f s in all", res.rows, res.t_read,
		    o.forest.trees, res.t_train, o.output, ch_seconds() - t0);
	summary = ch_train_summary(&res);
	json_dumpf(summary, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	putchar('\n');
	json_decref(summary);
	ch_train_result_free(&res);
	ch_strv_free(fo.drop);
	ch_strv_free(fo.numeric);
	ch_strv_free(fo.categorical);
	ch_strv_free(o.keep);
	ch_strv_free(bins_from);
	ch_schema_free(bins);
	json_decref(o.bins_info);
	ch_fshut(stdout, "<stdout>");
	return 0;
}
