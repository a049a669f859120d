/* churn-train - train a churn model from a CSV file */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "metrics.h"
#include "model.h"
#include "train.h"
#include "util.h"

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: churn-train [-o model] [--target col] [--positive label] [--id col]\n"
	    "                   [--drop cols] [--numeric cols] [--categorical cols]\n"
	    "                   [--trees n] [--max-depth n] [--min-leaf n]\n"
	    "                   [--max-features sqrt|log2|all|n|fraction]\n"
	    "                   [--class-weight balanced|none] [--seed n] [--jobs n]\n"
	    "                   [--holdout fraction | --valid file] [--threshold t]\n"
	    "                   [--bins n] [--learner auto|forest|gbdt]\n"
	    "                   [--calibrate auto|none|isotonic|platt] [--no-refit]\n"
	    "                   [--keep cols]\n"
	    "                   [file.csv | -]\n");
	exit(status);
}

static long
number(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		ch_die(2, "%s: '%s' is not a number from %ld to %ld", opt, s, lo, hi);
	return v;
}

static double
fraction(const char *opt, const char *s, double lo, double hi)
{
	double v;

	if (ch_parse_double(s, strlen(s), &v) != 0 || v < lo || v > hi)
		ch_die(2, "%s: '%s' is not a number from %g to %g", opt, s, lo, hi);
	return v;
}

static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;

static void
progress(int done, int total, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&progress_lock);
	fprintf(stderr, "\rchurn-train: trees %d/%d", done, total);
	if (done == total)
		fputc('\n', stderr);
	pthread_mutex_unlock(&progress_lock);
}

int
main(int argc, char *argv[])
{
	enum { O_TARGET = 256, O_POSITIVE, O_ID, O_DROP, O_NUMERIC, O_CATEGORICAL,
	    O_TREES, O_DEPTH, O_LEAF, O_MAXF, O_CW, O_SEED, O_JOBS, O_HOLDOUT,
	    O_VALID, O_THRESHOLD, O_BINS, O_VERSION, O_LEARNER, O_CALIBRATE, O_NOREFIT, O_KEEP };
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
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	struct ch_train_opts o;
	struct ch_frame_opts fo = { 0 };
	struct ch_train_result res;
	struct ch_err err;
	const char *input = "-", *sde;
	FILE *fp;
	json_t *summary;
	int c, quiet = 0, learner_set = 0, forest_set = 0;

	ch_setprogname(argv[0]);
	ch_train_defaults(&o);
	o.output = "model.churn";
	while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o.output = optarg; break;
		case 'q': quiet = 1; break;
		case O_TARGET: fo.target = optarg; break;
		case O_POSITIVE: fo.positive = optarg; break;
		case O_ID: fo.id = optarg; break;
		case O_DROP: fo.drop = ch_strv_split(optarg); break;
		case O_NUMERIC: fo.numeric = ch_strv_split(optarg); break;
		case O_CATEGORICAL: fo.categorical = ch_strv_split(optarg); break;
		case O_TREES:
			o.forest.trees = (int)number("--trees", optarg, 1, 100000);
			forest_set = 1;
			break;
		case O_DEPTH:
			o.forest.max_depth = o.gbdt.max_depth =
			    (int)number("--max-depth", optarg, 0, 1000);
			break;
		case O_LEAF:
			o.forest.min_leaf = o.gbdt.min_leaf =
			    (int)number("--min-leaf", optarg, 1, 1000000000);
			break;
		case O_MAXF:
			if (ch_parse_max_features(optarg, &o.forest) != 0)
				ch_die(2, "--max-features: '%s' is not sqrt, log2, all, "
				    "a count or a fraction", optarg);
			o.mf_set = forest_set = 1;
			break;
		case O_NOREFIT: o.refit = 0; break;
		case O_KEEP: o.keep = ch_strv_split(optarg); break;
		case O_LEARNER:
			learner_set = 1;
			if (strcmp(optarg, "auto") == 0)
				o.learner = CH_CHOOSE_AUTO;
			else if (strcmp(optarg, "forest") == 0)
				o.learner = CH_CHOOSE_FOREST;
			else if (strcmp(optarg, "gbdt") == 0)
				o.learner = CH_CHOOSE_GBDT;
			else
				ch_die(2, "--learner: '%s' is not auto, forest or gbdt", optarg);
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
		case O_SEED: o.forest.seed = (uint64_t)number("--seed", optarg, 0, 0x7fffffffL); break;
		case O_JOBS: o.forest.jobs = (int)number("--jobs", optarg, 1, 1024); break;
		case O_HOLDOUT: o.holdout = fraction("--holdout", optarg, 0, 0.9); break;
		case O_VALID: o.valid = optarg; break;
		case O_THRESHOLD: o.threshold = fraction("--threshold", optarg, 0, 1); break;
		case O_BINS: fo.max_bins = (int)number("--bins", optarg, 2, CH_MAXBINS); break;
		case O_VERSION: printf("churn-train %s\n", CHURN_VERSION); return 0;
		case 'h': usage(0);
		default: usage(2);
		}
	}
	if (argc - optind > 1)
		usage(2);
	/* a forest's own option asks for a forest */
	if (forest_set && !learner_set)
		o.learner = CH_CHOOSE_FOREST;
	if (optind < argc)
		input = argv[optind];

	/* reproducible builds: SOURCE_DATE_EPOCH fixes the version and times */
	o.now = time(NULL);
	if ((sde = getenv("SOURCE_DATE_EPOCH")) && *sde)
		o.now = (time_t)number("SOURCE_DATE_EPOCH", sde, 0, 0x7fffffffL);
	if (!quiet && isatty(2))
		o.progress = progress;

	fp = strcmp(input, "-") == 0 ? stdin : fopen(input, "rb");
	if (!fp)
		ch_die(2, "open %s:", input);
	if (ch_train(fp, input, &fo, &o, &res, &err) != 0)
		ch_die(2, "%s", err.msg);
	for (size_t i = 0; i < json_array_size(res.warnings); i++)
		ch_warn("warning: %s", json_string_value(json_object_get(
		    json_array_get(res.warnings, i), "message")));
	if (fp != stdin)
		fclose(fp);
	summary = ch_train_summary(&res);
	json_dumpf(summary, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	putchar('\n');
	json_decref(summary);
	ch_train_result_free(&res);
	ch_strv_free(fo.drop);
	ch_strv_free(fo.numeric);
	ch_strv_free(fo.categorical);
	ch_strv_free(o.keep);
	ch_fshut(stdout, "<stdout>");
	return 0;
}
