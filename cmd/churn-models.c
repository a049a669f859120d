/* churn-models - list, show, alias, roll back, roll out, pull, audit and clean up model versions */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "compare.h"
#include "model.h"
#include "modelref.h"
#include "perf.h"
#include "registry.h"
#include "shard.h"
#include "util.h"

/* every row the live window keeps (it keeps far fewer) */
#define WINDOW_ALL 100000000L

static const struct ch_usage use = {
	"churn-models [-qv] [--store URL] [--database URL] command [args]\n"
	"       churn-models list [--json]\n"
	"       churn-models show name | file\n"
	"       churn-models alias set alias name\n"
	"       churn-models rollback alias\n"
	"       churn-models rollout set [challenger] --canary percent | --shadow\n"
	"                    [--champion alias] [--reason text]\n"
	"       churn-models rollout off [--reason text]\n"
	"       churn-models rollout show [--json]\n"
	"       churn-models compare [champion [challenger]] [--window file]\n"
	"                    [--outcomes file] [--id column] [--bootstrap n] [--json]\n"
	"       churn-models pull name [-o file | -o -]\n"
	"       churn-models history [alias] [--json]\n"
	"       churn-models drift [-n count] [--json]\n"
	"       churn-models gc [--json]\n"
	"       churn-models perf [--by day|week|month|all] [--horizon days] [--json]\n"
	"       churn-models shards s3://bucket/dir/\n",
	"  --store URL           the artifact store: a directory, file:// or s3:// URL\n"
	"  --database URL        the PostgreSQL registry (else an index in the store)\n"
	"  --json                list, history, drift, gc, perf: JSON instead of a table\n"
	"  -o, --output FILE     pull: where to write the model (VERSION.churn; - stdout)\n"
	"  -n, --count N         drift: the newest N reports (20)\n"
	"  --by PERIOD           perf: day, week, month (the default) or all\n"
	"  --horizon DAYS        perf: how long before an outcome a prediction counts (90)\n"
	"  --canary PERCENT      rollout: this share of customers (0-100) to the challenger\n"
	"  --shadow              rollout: the challenger scores every request, unanswered\n"
	"  --champion ALIAS      rollout: the champion's alias (champion)\n"
	"  --reason TEXT         rollout: why, kept in the history\n"
	"  --window FILE         compare: churn-serve's live window (JSON lines; else the database's)\n"
	"  --outcomes FILE       compare: CSV id,outcome of customers whose outcome is known\n"
	"  --id COLUMN           compare: the customer id's key in the window (customerID)\n"
	"  --bootstrap N         compare: resamples for the confidence intervals (200)\n",
	"  CHURN_STORE           the store when --store is not given (var/store)\n"
	"  CHURN_DATABASE_URL    the registry when --database is not given\n"
	"  CHURN_REGISTRY_TIMEOUT  each registry call at most, seconds (30 S3, 10 connect)\n"
	"  CHURN_ACTOR, USER     rollout: who, kept in the history\n"
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

/* rollout show, set, off: ro holds what the options said */
static int
cmd_rollout(struct ch_registry *r, const char *sub, struct ch_rollout *ro,
    int asjson)
{
	struct ch_err e = {{0}};
	struct ch_rollout cur;
	json_t *j;

	if (strcmp(sub, "show") != 0) {
		const char *who = getenv("CHURN_ACTOR");
		if (!who || !*who)
			who = getenv("USER");
		snprintf(ro->actor, sizeof ro->actor, "%s", who && *who ? who : "unknown");
		if (strcmp(sub, "off") == 0) {
			/* off keeps the alias names of the rollout it ends */
			if (ch_registry_rollout(r, &cur, &e) != 0)
				ch_die(2, "%s", e.msg);
			memcpy(ro->champion, cur.champion, sizeof ro->champion);
			memcpy(ro->challenger, cur.challenger, sizeof ro->challenger);
			ro->mode = CH_ROLLOUT_OFF;
		}
		if (ch_registry_rollout_set(r, ro, &e) != 0)
			ch_die(2, "%s", e.msg);
		cur = *ro;
	} else if (ch_registry_rollout(r, &cur, &e) != 0)
		ch_die(2, "%s", e.msg);
	if (asjson || strcmp(sub, "show") != 0) {
		j = ch_rollout_json(&cur);
		print_json(j);
		json_decref(j);
	} else
		printf("rollout %lld: %s %g%% champion=%s challenger=%s (%s) "
		    "set %s by %s%s%s\n", cur.id, ch_rollout_mode_name(cur.mode),
		    cur.share, cur.champion, cur.challenger,
		    *cur.challenger_version ? cur.challenger_version : "-",
		    *cur.time ? cur.time : "never", *cur.actor ? cur.actor : "-",
		    *cur.reason ? ": " : "", cur.reason);
	return 0;
}

/* An outcome: 1/0, yes/no, true/false (any case); -1 otherwise. */
static int
outcome_of(const char *s)
{
	static const char *const pos[] = { "1", "yes", "true" };
	static const char *const neg[] = { "0", "no", "false" };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (strcasecmp(s, pos[i]) == 0)
			return 1;
		if (strcasecmp(s, neg[i]) == 0)
			return 0;
	}
	return -1;
}

/* id -> outcome from a CSV of id,outcome (a header is skipped). */
static json_t *
read_outcomes(const char *path)
{
	struct ch_err e = {{0}};
	size_t len;
	char *buf = path ? ch_read_file(path, &len, &e) : NULL, *line, *save,
	    *comma;
	json_t *o = json_object();
	long n = 0;
	int y;

	if (path && !buf)
		ch_die(2, "%s", e.msg);
	for (line = buf ? strtok_r(buf, "\r\n", &save) : NULL; line;
	    line = strtok_r(NULL, "\r\n", &save)) {
		n++;
		if (!(comma = strchr(line, ',')))
			ch_die(2, "%s:%ld: expected id,outcome", path, n);
		*comma = '\0';
		if ((y = outcome_of(comma + 1)) < 0) {
			if (n == 1)
				continue;	/* the header */
			ch_die(2, "%s:%ld: column 2: '%s' is not an outcome "
			    "(1/0, yes/no, true/false)", path, n, comma + 1);
		}
		json_object_set_new(o, line, json_integer(y));
	}
	free(buf);
	return o;
}

/*
 * compare: the live rows of the two versions (churn-serve's window: the
 * file given, else the database's), their outcomes from --outcomes (the
 * seam where the registry's outcomes will come in), and ch_compare.
 */
static int
cmd_compare(struct ch_registry *r, char **args, int nargs, const char *window,
    const char *outcomes, const char *idcol, long boot, int asjson)
{
	struct ch_err e = {{0}};
	struct ch_rollout ro;
	struct ch_version_ref ra, rb;
	struct ch_cmp_side a = {0}, b = {0};
	json_t *out_ids = read_outcomes(outcomes), *row, *res, *v;
	char *buf, *line, *save;
	size_t len, i;
	long rows = 0;

	if (ch_registry_rollout(r, &ro, &e) != 0 ||
	    ch_registry_resolve(r, nargs > 0 ? args[0] : ro.champion, &ra, &e) != 0 ||
	    ch_registry_resolve(r, nargs > 1 ? args[1] : ro.challenger, &rb, &e) != 0)
		ch_die(2, "%s", e.msg);
	a.version = ra.version;
	b.version = rb.version;
	buf = window ? ch_read_file(window, &len, &e) :
	    ch_registry_window_read(r, WINDOW_ALL, &len, &rows, &e);
	if (!buf)
		ch_die(2, "%s%s", e.msg, window ? "" :
		    " (give churn-serve's window with --window)");
	for (line = strtok_r(buf, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		json_t *id, *y;
		const char *mv, *cv;
		int out = -1;

		if (!(row = json_loads(line, 0, NULL)))
			continue;
		id = json_object_get(row, idcol);
		if (json_is_integer(id)) {
			char t[32];
			snprintf(t, sizeof t, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
			y = json_object_get(out_ids, t);
		} else
			y = json_is_string(id) ? json_object_get(out_ids,
			    json_string_value(id)) : NULL;
		if (json_is_integer(y))
			out = (int)json_integer_value(y);
		mv = ch_jstr(row, "model_version", "");
		cv = ch_jstr(row, "challenger_version", "");
		if (strcmp(mv, ra.version) == 0)
			ch_cmp_add(&a, json_number_value(json_object_get(row,
			    "churn_probability")), out);
		else if (strcmp(mv, rb.version) == 0)
			ch_cmp_add(&b, json_number_value(json_object_get(row,
			    "churn_probability")), out);
		if (strcmp(cv, rb.version) == 0)
			ch_cmp_add(&b, json_number_value(json_object_get(row,
			    "challenger_probability")), out);
		json_decref(row);
	}
	free(buf);
	json_decref(out_ids);
	res = ch_compare(&a, &b, (int)boot, 1);
	if (asjson)
		print_json(res);
	else {
		printf("%-11s %-20s %7s %9s %8s %-19s %8s %-19s %7s\n", "ROLE",
		    "VERSION", "ROWS", "LABELLED", "ROC_AUC", "95% CI", "LOGLOSS",
		    "95% CI", "BRIER");
		json_array_foreach(json_object_get(res, "versions"), i, v) {
			json_t *ci = json_object_get(v, "roc_auc_ci"),
			    *li = json_object_get(v, "log_loss_ci");
			char c1[40] = "-", c2[40] = "-";
			if (json_is_array(ci))
				snprintf(c1, sizeof c1, "[%.4f, %.4f]",
				    json_number_value(json_array_get(ci, 0)),
				    json_number_value(json_array_get(ci, 1)));
			if (json_is_array(li))
				snprintf(c2, sizeof c2, "[%.4f, %.4f]",
				    json_number_value(json_array_get(li, 0)),
				    json_number_value(json_array_get(li, 1)));
			printf("%-11s %-20s %7lld %9lld %8.4f %-19s %8.4f %-19s %7.4f\n",
			    i ? "challenger" : "champion", ch_jstr(v, "version", "-"),
			    (long long)json_integer_value(json_object_get(v, "rows")),
			    (long long)json_integer_value(json_object_get(v, "labelled")),
			    json_number_value(json_object_get(v, "roc_auc")), c1,
			    json_number_value(json_object_get(v, "log_loss")), c2,
			    json_number_value(json_object_get(v, "brier")));
		}
		printf("psi %.4f, roc_auc challenger - champion %.4f\n",
		    json_number_value(json_object_get(res, "psi")),
		    json_number_value(json_object_get(res, "roc_auc_diff")));
	}
	json_decref(res);
	ch_cmp_free(&a);
	ch_cmp_free(&b);
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
		json_array_foreach(json_object_get(h, "history"), i, x) {
			printf("%-20s %-12s %-8s %-20s %s", ch_jstr(x, "time", "-"),
			    ch_jstr(x, "alias", "-"), ch_jstr(x, "action", "-"), ch_jstr(x, "version", "-"),
			    ch_jstr(x, "previous", "-"));
			if (strcmp(ch_jstr(x, "action", ""), "rollout") == 0)
				printf(" %s %g%% champion=%s id=%lld by %s: %s",
				    ch_jstr(x, "mode", ""),
				    json_number_value(json_object_get(x, "share")),
				    ch_jstr(x, "champion", ""),
				    (long long)json_integer_value(json_object_get(x, "rollout")),
				    ch_jstr(x, "actor", "-"), ch_jstr(x, "reason", ""));
			putchar('\n');
		}
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
		{"canary", required_argument, NULL, 'C'},
		{"shadow", no_argument, NULL, 'S'},
		{"champion", required_argument, NULL, 'P'},
		{"reason", required_argument, NULL, 'R'},
		{"window", required_argument, NULL, 'W'},
		{"outcomes", required_argument, NULL, 'O'},
		{"id", required_argument, NULL, 'I'},
		{"bootstrap", required_argument, NULL, 'B'},
		CH_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct ch_registry_opts o = {0};
	struct ch_registry *r;
	struct ch_err e = {{0}};
	struct ch_version_ref ref;
	struct ch_rollout ro = {.champion = "champion", .challenger = "challenger",
	    .mode = CH_ROLLOUT_OFF};
	int romode = -1, roopt = 0, cmpopt = 0;
	const char *window = NULL, *outcomes = NULL, *idcol = "customerID";
	long boot = 200;
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
		case 'C':
			if (romode >= 0)
				ch_usage(&use, 2);
			romode = CH_ROLLOUT_CANARY;
			ro.share = ch_opt_double("--canary", optarg, 0, 100);
			break;
		case 'S':
			if (romode >= 0)
				ch_usage(&use, 2);
			romode = CH_ROLLOUT_SHADOW;
			break;
		case 'P':
			snprintf(ro.champion, sizeof ro.champion, "%s", optarg);
			roopt = 1;
			break;
		case 'R':
			snprintf(ro.reason, sizeof ro.reason, "%s", optarg);
			break;
		case 'W': window = optarg; cmpopt = 1; break;
		case 'O': outcomes = optarg; cmpopt = 1; break;
		case 'I': idcol = optarg; cmpopt = 1; break;
		case 'B':
			boot = (long)ch_opt_int("--bootstrap", optarg, 10, 100000);
			cmpopt = 1;
			break;
		default: ch_usage(&use, 2);
		}
	}
	args = argv + optind;
	nargs = argc - optind;
	if (output && strcmp(cmd, "pull") != 0)
		ch_usage(&use, 2);
	if ((romode >= 0 || roopt || *ro.reason) && strcmp(cmd, "rollout") != 0)
		ch_usage(&use, 2);
	if (cmpopt && strcmp(cmd, "compare") != 0)
		ch_usage(&use, 2);
	if (strcmp(cmd, "rollout") == 0 && nargs >= 1) {
		/* set needs a mode; off and show take none */
		if (strcmp(args[0], "set") == 0 ? romode < 0 || nargs > 2 :
		    romode >= 0 || roopt || nargs != 1 ||
		    (strcmp(args[0], "show") == 0 && *ro.reason))
			ch_usage(&use, 2);
		if (nargs == 2)
			snprintf(ro.challenger, sizeof ro.challenger, "%s", args[1]);
		if (romode >= 0)
			ro.mode = (enum ch_rollout_mode)romode;
	}

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
	} else if (strcmp(cmd, "compare") == 0 && nargs <= 2) {
	} else if (strcmp(cmd, "shards") == 0 && nargs == 1) {
	} else if (strcmp(cmd, "rollout") == 0 && nargs >= 1 &&
	    (strcmp(args[0], "set") == 0 || strcmp(args[0], "off") == 0 ||
	    strcmp(args[0], "show") == 0)) {
	} else {
		if (!strstr(" list show alias rollback rollout compare pull history drift gc perf shards ", cmd))
			ch_warn("unknown command '%s'", cmd);
		ch_usage(&use, 2);
	}
	if (strcmp(cmd, "shards") == 0) {
		/* the objects under a prefix, for the array jobs: no registry */
		char **v = ch_shard_list(args[0], &o.s3, &e);

		if (!v)
			ch_die(2, "%s", e.msg);
		for (char **p = v; *p; p++)
			puts(*p);
		ch_strv_free(v);
		ch_fshut(stdout, "<stdout>");
		return 0;
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
	else if (strcmp(cmd, "rollout") == 0)
		rc = cmd_rollout(r, args[0], &ro, asjson);
	else if (strcmp(cmd, "compare") == 0)
		rc = cmd_compare(r, args, nargs, window, outcomes, idcol, boot,
		    asjson);
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
