/* churn-models - list, show, alias, roll back, pull, audit and clean up model versions */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "model.h"
#include "modelref.h"
#include "perf.h"
#include "registry.h"
#include "util.h"

static const struct ch_usage use = {
	"churn-models [-qv] [--store URL] [--database URL] command [args]\n"
	"       churn-models list [--json]\n"
	"       churn-models show name | file\n"
	"       churn-models alias set alias name\n"
	"       churn-models rollback alias\n"
	"       churn-models pull name [-o file | -o -]\n"
	"       churn-models history [alias] [--json]\n"
	"       churn-models drift [-n count] [--json]\n"
	"       churn-models gc [--json]\n"
	"       churn-models perf [--by day|week|month|all] [--horizon days] [--json]\n",
	"  --store URL           the artifact store: a directory, file:// or s3:// URL\n"
	"  --database URL        the PostgreSQL registry (else an index in the store)\n"
	"  --json                list, history, drift, gc, perf: JSON instead of a table\n"
	"  -o, --output FILE     pull: where to write the model (VERSION.churn; - stdout)\n"
	"  -n, --count N         drift: the newest N reports (20)\n"
	"  --by PERIOD           perf: day, week, month (the default) or all\n"
	"  --horizon DAYS        perf: how long before an outcome a prediction counts (90)\n",
	"  CHURN_STORE           the store when --store is not given (var/store)\n"
	"  CHURN_DATABASE_URL    the registry when --database is not given\n"
	"  CHURN_REGISTRY_TIMEOUT  each registry call at most, seconds (30 S3, 10 connect)\n"
	"  CHURN_S3_ENDPOINT     the S3 endpoint of an s3:// store\n"
	"  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION\n"
	"                        its credentials (AWS_SESSION_TOKEN: temporary ones)\n"
	"  AWS_ENDPOINT_URL      the S3 endpoint when CHURN_S3_ENDPOINT is not set\n",
};

static void
print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	putchar('\n');
}

static void
metric(json_t *metrics, const char *k, char *out, size_t n)
{
	json_t *x = json_object_get(metrics, k);

	if (json_is_number(x))
		snprintf(out, n, "%.4f", json_number_value(x));
	else
		snprintf(out, n, "-");
}

static int
cmd_list(struct ch_registry *r, int asjson)
{
	struct ch_err e = {{0}};
	json_t *l = ch_registry_list(r, &e), *v, *a;
	size_t i, k;

	if (!l)
		ch_die(2, "%s", e.msg);
	if (asjson) {
		print_json(l);
	} else {
		printf("%-20s %-20s %-8s %-8s %-10s %s\n", "VERSION", "CREATED",
		    "ROC_AUC", "F1", "SIZE", "ALIASES");
		json_array_foreach(json_object_get(l, "versions"), i, v) {
			char auc[32], f1[32];
			json_t *mt = json_object_get(v, "metrics");
			metric(mt, "roc_auc", auc, sizeof auc);
			metric(mt, "f1", f1, sizeof f1);
			printf("%-20s %-20s %-8s %-8s %-10lld ", ch_jstr(v, "version", "-"),
			    ch_jstr(v, "created", "-"), auc, f1,
			    (long long)json_integer_value(json_object_get(v, "size")));
			json_array_foreach(json_object_get(v, "aliases"), k, a)
				printf("%s%s", k ? "," : "", json_string_value(a));
			putchar('\n');
		}
	}
	json_decref(l);
	return 0;
}

static int
cmd_history(struct ch_registry *r, const char *alias, int asjson)
{
	struct ch_err e = {{0}};
	json_t *h = ch_registry_history(r, alias, &e), *x;
	size_t i;

	if (!h)
		ch_die(2, "%s", e.msg);
	if (asjson)
		print_json(h);
	else {
		printf("%-20s %-12s %-8s %-20s %s\n", "TIME", "ALIAS", "ACTION",
		    "VERSION", "PREVIOUS");
		json_array_foreach(json_object_get(h, "history"), i, x)
			printf("%-20s %-12s %-8s %-20s %s\n", ch_jstr(x, "time", "-"),
			    ch_jstr(x, "alias", "-"), ch_jstr(x, "action", "-"), ch_jstr(x, "version", "-"),
			    ch_jstr(x, "previous", "-"));
	}
	json_decref(h);
	return 0;
}

static int
cmd_pull(struct ch_registry *r, const char *name, const char *output)
{
	struct ch_err e = {{0}};
	struct ch_version_ref ref;
	unsigned char *buf;
	size_t len;
	char path[128];
	json_t *j;

	if (ch_registry_pull(r, name, &buf, &len, &ref, &e) != 0)
		ch_die(2, "%s", e.msg);
	if (output && strcmp(output, "-") == 0) {
		if (fwrite(buf, 1, len, stdout) != len)
			ch_die(2, "<stdout>: write error:");
		free(buf);
		return 0;
	}
	if (!output) {
		snprintf(path, sizeof path, "%s.churn", ref.version);
		output = path;
	}
	if (ch_write_atomic(output, buf, len, &e) != 0)
		ch_die(2, "%s", e.msg);
	free(buf);
	j = json_pack("{s:s, s:s, s:I, s:s}", "version", ref.version, "sha256",
	    ref.sha256, "size", (json_int_t)ref.size, "file", output);
	print_json(j);
	json_decref(j);
	return 0;
}

/* What pushes that died left in the store, removed: one line each, then
 * the totals. */
static int
cmd_gc(struct ch_registry *r, int asjson)
{
	struct ch_err e = {{0}};
	json_t *g = ch_registry_gc(r, &e), *x;
	size_t i;

	if (!g)
		ch_die(2, "%s", e.msg);
	if (asjson)
		print_json(g);
	else {
		json_array_foreach(json_object_get(g, "removed"), i, x)
			printf("removed %s (%lld bytes)\n", ch_jstr(x, "key", "-"),
			    (long long)json_integer_value(json_object_get(x, "bytes")));
		printf("%zu leftovers removed (%lld bytes)\n",
		    json_array_size(json_object_get(g, "removed")),
		    (long long)json_integer_value(json_object_get(g, "bytes")));
	}
	json_decref(g);
	return 0;
}

static int
cmd_drift(struct ch_registry *r, long n, int asjson)
{
	struct ch_err e = {{0}};
	json_t *d = ch_registry_drift_reports(r, n > 0 ? (size_t)n : 20, &e), *x;
	size_t i;

	if (!d)
		ch_die(2, "%s", e.msg);
	if (asjson)
		print_json(d);
	else {
		printf("%-20s %-20s %-5s %-8s %s\n", "TIME", "MODEL", "DRIFT",
		    "DRIFTED", "RULE");
		json_array_foreach(json_object_get(d, "reports"), i, x) {
			char k[32];
			snprintf(k, sizeof k, "%lld/%lld",
			    (long long)json_integer_value(json_object_get(x, "drifted")),
			    (long long)json_integer_value(json_object_get(x, "checked")));
			printf("%-20s %-20s %-5s %-8s %s\n", ch_jstr(x, "time", "-"),
			    ch_jstr(x, "model_version", "-"),
			    json_is_true(json_object_get(x, "drift")) ? "yes" : "no", k,
			    ch_jstr(x, "rule", "-"));
		}
	}
	json_decref(d);
	return 0;
}

static int
cmd_perf(struct ch_registry *r, const struct ch_perf_opts *po, int asjson)
{
	struct ch_err e = {{0}};
	json_t *p = ch_perf_registry(r, po, &e), *v, *x;
	size_t i, k;

	if (!p)
		ch_die(2, "%s", e.msg);
	if (asjson) {
		/* full precision: the figures are compared with other tools' */
		json_dumpf(p, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
		    JSON_REAL_PRECISION(17));
		putchar('\n');
		json_decref(p);
		return 0;
	}
	printf("%-20s %-10s %8s %8s %-8s %-8s %-8s %-8s %s\n", "VERSION",
	    "PERIOD", "ROWS", "CHURNED", "ROC_AUC", "PR_AUC", "LOG_LOSS",
	    "BRIER", "HOLDOUT_AUC");
	json_array_foreach(json_object_get(p, "versions"), i, v) {
		char hold[32];

		metric(v, "holdout_roc_auc", hold, sizeof hold);
		json_array_foreach(json_object_get(v, "periods"), k, x) {
			char auc[32], pr[32], ll[32], br[32];

			metric(x, "roc_auc", auc, sizeof auc);
			metric(x, "pr_auc", pr, sizeof pr);
			metric(x, "log_loss", ll, sizeof ll);
			metric(x, "brier", br, sizeof br);
			printf("%-20s %-10s %8lld %8lld %-8s %-8s %-8s %-8s %s\n",
			    ch_jstr(v, "model_version", "-"), ch_jstr(x, "period", "-"),
			    (long long)json_integer_value(json_object_get(x, "rows")),
			    (long long)json_integer_value(json_object_get(x,
			    "positives")), auc, pr, ll, br, hold);
		}
	}
	ch_warn("%lld outcomes, %lld joined to a prediction within %lld days, "
	    "%lld not", (long long)json_integer_value(json_object_get(p,
	    "outcomes")), (long long)json_integer_value(json_object_get(p,
	    "joined")), (long long)json_integer_value(json_object_get(p,
	    "horizon_days")), (long long)json_integer_value(json_object_get(p,
	    "unjoined")));
	json_decref(p);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option globalopts[] = {
		{"store", required_argument, NULL, 's'},
		{"database", required_argument, NULL, 'd'},
		CH_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	static const struct option subopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"output", required_argument, NULL, 'o'},
		{"count", required_argument, NULL, 'n'},
		{"by", required_argument, NULL, 'b'},
		{"horizon", required_argument, NULL, 'H'},
		CH_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct ch_registry_opts o = {0};
	struct ch_registry *r;
	struct ch_err e = {{0}};
	struct ch_version_ref ref;
	const char *cmd, *output = NULL;
	char **args;
	int c, nargs, asjson = 0, rc = 0;
	long count = 0;
	struct ch_perf_opts po = { CH_PERF_HORIZON_DAYS, CH_PERF_MONTH };

	ch_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "+s:d:" CH_COMMON_SHORTOPTS,
	    globalopts, NULL)) != -1) {
		if (ch_common_opt(c, &use))
			continue;
		switch (c) {
		case 's': o.store_url = optarg; break;
		case 'd': o.database_url = optarg; break;
		default: ch_usage(&use, 2);
		}
	}
	if (optind >= argc)
		ch_usage(&use, 2);
	cmd = argv[optind];
	/* the command's own options, anywhere among its arguments */
	argc -= optind;
	argv += optind;
	optind = 0;	/* 0: glibc re-initialises getopt (argument order mode) */
	while ((c = getopt_long(argc, argv, "jo:n:b:H:" CH_COMMON_SHORTOPTS,
	    subopts, NULL)) != -1) {
		if (ch_common_opt(c, &use))
			continue;
		if ((c == 'b' || c == 'H') && strcmp(cmd, "perf") != 0)
			ch_usage(&use, 2);
		switch (c) {
		case 'j': asjson = 1; break;
		case 'o': output = optarg; break;
		case 'n':
			if (strcmp(cmd, "drift") != 0)
				ch_usage(&use, 2);
			count = (long)ch_opt_int("--count", optarg, 1, 1000000);
			break;
		case 'b': {
			int by = ch_perf_by_parse(optarg);

			if (by < 0)
				ch_die(2, "--by: '%s' is not day, week, month or all",
				    optarg);
			po.by = (enum ch_perf_by)by;
			break;
		}
		case 'H':
			po.horizon_days = (long)ch_opt_int("--horizon", optarg, 1,
			    36500);
			break;
		default: ch_usage(&use, 2);
		}
	}
	args = argv + optind;
	nargs = argc - optind;
	if (output && strcmp(cmd, "pull") != 0)
		ch_usage(&use, 2);

	ch_registry_opts_fill(&o, getenv);

	if (strcmp(cmd, "list") == 0 && nargs == 0) {
	} else if (strcmp(cmd, "show") == 0 && nargs == 1) {
	} else if (strcmp(cmd, "alias") == 0 && nargs == 3 && strcmp(args[0], "set") == 0) {
	} else if (strcmp(cmd, "rollback") == 0 && nargs == 1) {
	} else if (strcmp(cmd, "pull") == 0 && nargs == 1) {
	} else if (strcmp(cmd, "history") == 0 && nargs <= 1) {
	} else if (strcmp(cmd, "drift") == 0 && nargs == 0) {
	} else if (strcmp(cmd, "gc") == 0 && nargs == 0) {
	} else if (strcmp(cmd, "perf") == 0 && nargs == 0) {
	} else {
		if (!strstr(" list show alias rollback pull history drift gc perf ", cmd))
			ch_warn("unknown command '%s'", cmd);
		ch_usage(&use, 2);
	}
	if (strcmp(cmd, "show") == 0 && ch_modelref_is_file(args[0])) {
		/* a file (or -): what it says of itself, no registry needed */
		struct ch_model *m;
		json_t *j;

		if (ch_model_load(args[0], &m, &e) != 0)
			ch_die(2, "%s", e.msg);
		j = ch_model_describe(m);
		print_json(j);
		json_decref(j);
		ch_model_free(m);
		ch_fshut(stdout, "<stdout>");
		return 0;
	}
	if (ch_registry_open(&o, &r, &e) != 0)
		ch_die(2, "%s", e.msg);
	if (ch_verbosity() > 0)
		ch_warn("store %s, registry %s", ch_registry_store_where(r),
		    ch_registry_db_where(r));

	if (strcmp(cmd, "list") == 0)
		rc = cmd_list(r, asjson);
	else if (strcmp(cmd, "history") == 0)
		rc = cmd_history(r, nargs ? args[0] : NULL, asjson);
	else if (strcmp(cmd, "pull") == 0)
		rc = cmd_pull(r, args[0], output);
	else if (strcmp(cmd, "drift") == 0)
		rc = cmd_drift(r, count, asjson);
	else if (strcmp(cmd, "gc") == 0)
		rc = cmd_gc(r, asjson);
	else if (strcmp(cmd, "perf") == 0)
		rc = cmd_perf(r, &po, asjson);
	else if (strcmp(cmd, "show") == 0) {
		json_t *j = ch_registry_show(r, args[0], &e);
		if (!j)
			ch_die(2, "%s", e.msg);
		print_json(j);
		json_decref(j);
	} else if (strcmp(cmd, "alias") == 0) {
		if (ch_registry_alias_set(r, args[1], args[2], &e) != 0 ||
		    ch_registry_resolve(r, args[1], &ref, &e) != 0)
			ch_die(2, "%s", e.msg);
		printf("{\"alias\": \"%s\", \"version\": \"%s\"}\n", args[1], ref.version);
	} else if (strcmp(cmd, "rollback") == 0) {
		if (ch_registry_rollback(r, args[0], &ref, &e) != 0)
			ch_die(2, "%s", e.msg);
		printf("{\"alias\": \"%s\", \"version\": \"%s\"}\n", args[0], ref.version);
	}
	ch_fshut(stdout, "<stdout>");
	ch_registry_close(r);
	return rc;
}
