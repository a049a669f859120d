/* churn-models - list, show, alias, roll back, roll out, pull, audit and clean up model versions */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "compare.h"
#include "dataset.h"
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
	"       churn-models compare [champion [challenger]] [--horizon days]\n"
	"                    [--window file] [--outcomes file] [--id column]\n"
	"                    [--bootstrap n] [--json]\n"
	"       churn-models pull name [-o file | -o -]\n"
	"       churn-models history [alias] [--json]\n"
	"       churn-models drift [-n count] [--json]\n"
	"       churn-models gc [--json]\n"
	"       churn-models perf [--by day|week|month|all] [--horizon days] [--json]\n"
	"       churn-models dataset [--days n] [--rows n] [--horizon days]\n"
	"                    [--with file] [--target column] [--positive label]\n"
	"                    [--negative label] [--id column] [--put] [-o file]\n"
	"       churn-models shards s3://bucket/dir/\n",
	"  --store URL           the artifact store: a directory, file:// or s3:// URL\n"
	"  --database URL        the PostgreSQL registry (else an index in the store)\n"
	"  --json                list, history, drift, gc, perf: JSON instead of a table\n"
	"  -o, --output FILE     pull: where to write the model (VERSION.churn; - stdout);\n"
	"                        dataset: the CSV (stdout)\n"
	"  -n, --count N         drift: the newest N reports (20)\n"
	"  --by PERIOD           perf: day, week, month (the default) or all\n"
	"  --horizon DAYS        perf, compare, dataset: how long before an outcome a\n"
	"                        prediction counts (90)\n"
	"  --days N              dataset: the outcomes of the last N days (all)\n"
	"  --rows N              dataset: the newest N labelled customers (all)\n"
	"  --with FILE           dataset: a CSV file whose rows come first (its header rules)\n"
	"  --target COLUMN       dataset: the label column (Churn)\n"
	"  --positive LABEL      dataset: the label of a customer who left (Yes)\n"
	"  --negative LABEL      dataset: the label of one who stayed (No)\n"
	"  --put                 dataset: store it as datasets/SHA256.csv in the store\n"
	"  --canary PERCENT      rollout: this share of customers (0-100) to the challenger\n"
	"  --shadow              rollout: the challenger scores every request, unanswered\n"
	"  --champion ALIAS      rollout: the champion's alias (champion)\n"
	"  --reason TEXT         rollout: why, kept in the history\n"
	"  --window FILE         compare: churn-serve's live window (JSON lines) instead of the\n"
	"                        prediction log (with --outcomes only: the database's window)\n"
	"  --outcomes FILE       compare: CSV id,outcome instead of the registry's outcomes\n"
	"  --id COLUMN           compare: the customer id's key in the window; dataset:\n"
	"                        the id column (customerID)\n"
	"  --bootstrap N         compare: resamples for the confidence intervals (200)\n",
	"  CHURN_STORE           the store when --store is not given (var/store)\n"
	"  CHURN_DATABASE_URL    the registry when --database is not given\n"
	"  CHURN_REGISTRY_TIMEOUT  each registry call at most, seconds (30 S3, 10 connect)\n"
	"  CHURN_ACTOR, USER     rollout: who, kept in the history\n"
	"  CHURN_PROMOTE_MIN_ROWS, CHURN_PROMOTE_MIN_LABELLED, CHURN_PROMOTE_MARGIN\n"
	"                        compare: the verdict's rule (1000, 200, 0.01)\n"
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
 * compare --window/--outcomes: the rows of churn-serve's live window (the
 * file given, else the database's) whose customer is in the CSV of
 * outcomes; paired, only the rows both versions scored (a shadow).
 */
static json_t *
compare_window(struct ch_registry *r, const char *va, const char *vb,
    int paired, const char *window, const char *outcomes, const char *idcol,
    int boot)
{
	struct ch_err e = {{0}};
	struct ch_cmp_side a = { .version = va }, b = { .version = vb };
	json_t *out_ids = read_outcomes(outcomes), *row, *res;
	char *buf, *line, *save;
	size_t len;
	long rows = 0;

	buf = window ? ch_read_file(window, &len, &e) :
	    ch_registry_window_read(r, WINDOW_ALL, &len, &rows, &e);
	if (!buf)
		ch_die(2, "%s%s", e.msg, window ? "" :
		    " (give churn-serve's window with --window)");
	for (line = strtok_r(buf, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		json_t *id, *y;
		const char *mv, *cv;
		double p, q;
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
		p = json_number_value(json_object_get(row, "churn_probability"));
		q = json_number_value(json_object_get(row, "challenger_probability"));
		if (paired) {
			if (strcmp(mv, va) == 0 && strcmp(cv, vb) == 0) {
				ch_cmp_add(&a, p, out);
				ch_cmp_add(&b, q, out);
			}
		} else if (strcmp(mv, va) == 0)
			ch_cmp_add(&a, p, out);
		else if (strcmp(mv, vb) == 0)
			ch_cmp_add(&b, p, out);
		json_decref(row);
	}
	free(buf);
	json_decref(out_ids);
	res = paired ? ch_compare_paired(&a, &b, boot, 1) :
	    ch_compare(&a, &b, boot, 1);
	json_object_set_new(res, "mode", json_string(paired ? "shadow" :
	    "canary"));
	ch_cmp_free(&a);
	ch_cmp_free(&b);
	return res;
}

static void
print_ci(json_t *ci, char *out, size_t n)
{
	if (json_is_array(ci))
		snprintf(out, n, "[%.4f, %.4f]",
		    json_number_value(json_array_get(ci, 0)),
		    json_number_value(json_array_get(ci, 1)));
	else
		snprintf(out, n, "-");
}

static void
print_compare(json_t *res)
{
	json_t *v;
	size_t i;
	char c1[40], c2[40], d[32];

	printf("%-11s %-20s %7s %9s %8s %-19s %8s %-19s %7s\n", "ROLE",
	    "VERSION", "ROWS", "LABELLED", "ROC_AUC", "95% CI", "LOGLOSS",
	    "95% CI", "BRIER");
	json_array_foreach(json_object_get(res, "versions"), i, v) {
		char auc[32], ll[32], br[32];

		print_ci(json_object_get(v, "roc_auc_ci"), c1, sizeof c1);
		print_ci(json_object_get(v, "log_loss_ci"), c2, sizeof c2);
		metric(v, "roc_auc", auc, sizeof auc);
		metric(v, "log_loss", ll, sizeof ll);
		metric(v, "brier", br, sizeof br);
		printf("%-11s %-20s %7lld %9lld %8s %-19s %8s %-19s %7s\n",
		    i ? "challenger" : "champion", ch_jstr(v, "version", "-"),
		    (long long)json_integer_value(json_object_get(v, "rows")),
		    (long long)json_integer_value(json_object_get(v, "labelled")),
		    auc, c1, ll, c2, br);
	}
	print_ci(json_object_get(res, "roc_auc_diff_ci"), c1, sizeof c1);
	metric(res, "psi", c2, sizeof c2);
	metric(res, "roc_auc_diff", d, sizeof d);
	printf("psi %s, roc_auc challenger - champion %s %s (%s)\n", c2, d, c1,
	    json_is_true(json_object_get(res, "paired")) ?
	    "paired: the same customers" : "two groups of customers");
	printf("verdict: %s: %s\n", ch_jstr(res, "verdict", "-"),
	    ch_jstr(res, "verdict_reason", ""));
}

/*
 * compare: the two versions' live rows and outcomes (by default the
 * registry's: its outcomes joined to its prediction log, since the
 * current rollout began in its mode when the versions are its two; else
 * churn-serve's window with a CSV of outcomes), ch_compare and the
 * promotion verdict.
 */
static int
cmd_compare(struct ch_registry *r, char **args, int nargs, const char *window,
    const char *outcomes, const char *idcol, long boot, long horizon,
    int asjson)
{
	struct ch_err e = {{0}};
	struct ch_rollout ro;
	struct ch_version_ref ra, rb, rc;
	struct ch_verdict_rule rule = CH_VERDICT_RULE_INIT;
	struct ch_cmp_query q = { .boot = (int)boot, .seed = 1,
	    .horizon_days = horizon };
	int inrollout;
	json_t *res;

	if (ch_verdict_rule_fill(&rule, getenv, &e) != 0 ||
	    ch_registry_rollout(r, &ro, &e) != 0 ||
	    ch_registry_resolve(r, nargs > 0 ? args[0] : ro.champion, &ra, &e) != 0 ||
	    ch_registry_resolve(r, nargs > 1 ? args[1] : *ro.challenger_version ?
	    ro.challenger_version : ro.challenger, &rb, &e) != 0 ||
	    ch_registry_resolve(r, ro.champion, &rc, &e) != 0)
		ch_die(2, "%s", e.msg);
	/* the rollout's own two versions: compared as it routes them */
	inrollout = ro.mode != CH_ROLLOUT_OFF && strcmp(ra.version,
	    rc.version) == 0 && strcmp(rb.version, ro.challenger_version) == 0;
	q.champion = ra.version;
	q.challenger = rb.version;
	q.paired = inrollout && ro.mode == CH_ROLLOUT_SHADOW;
	if (window || outcomes)
		res = compare_window(r, ra.version, rb.version, q.paired,
		    window, outcomes, idcol, (int)boot);
	else if ((inrollout && ch_rollout_since(r, &ro, &q.since, &e) != 0) ||
	    !(res = ch_compare_registry(r, &q, &e)))
		ch_die(2, "%s", e.msg);
	ch_compare_verdict(res, &rule);
	if (asjson)
		print_json(res);
	else
		print_compare(res);
	json_decref(res);
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

/* The data set: to -o FILE and/or (--put) the store, with a JSON
 * summary on stdout; else the CSV on stdout, the summary on stderr. */
static int
cmd_dataset(struct ch_registry *r, const struct ch_dataset_opts *o,
    const char *output, int put)
{
	struct ch_err e = {{0}};
	struct ch_buf b = {0};
	struct ch_dataset_stats st;
	char key[80], from[21] = "", to[21] = "";
	int tostdout = (!output || strcmp(output, "-") == 0) && !put;
	json_t *j;

	if (ch_dataset_build(r, o, &b, &st, &e) != 0)
		ch_die(2, "%s", e.msg);
	if (st.labelled == 0)
		ch_warn("no labelled customers: %zu outcomes, %zu joined to a "
		    "prediction", st.outcomes, st.joined);
	if (tostdout || (output && strcmp(output, "-") == 0)) {
		if (b.len && fwrite(b.s, 1, b.len, stdout) != b.len)
			ch_die(2, "write <stdout>: %s", strerror(errno));
	} else if (output && ch_write_atomic(output, b.s, b.len, &e) != 0)
		ch_die(2, "%s", e.msg);
	ch_dataset_key(st.sha256, key);
	if (put && ch_store_put(ch_registry_store(r), key, b.s, b.len, &e) != 0)
		ch_die(2, "%s", e.msg);
	if (st.from)
		ch_iso8601(st.from, from);
	if (st.to)
		ch_iso8601(st.to, to);
	j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, "
	    "s:o}", "sha256", st.sha256, "rows", (json_int_t)st.rows, "bytes",
	    (json_int_t)b.len, "labelled", (json_int_t)st.labelled, "positives",
	    (json_int_t)st.positives, "with_rows", (json_int_t)st.with_rows,
	    "outcomes", (json_int_t)st.outcomes, "joined", (json_int_t)st.joined,
	    "from", st.from ? json_string(from) : json_null(),
	    "to", st.to ? json_string(to) : json_null(),
	    "with", o->with ? json_string(o->with) : json_null(),
	    "output", output && strcmp(output, "-") != 0 ? json_string(output) :
	    json_null());
	if (put) {
		json_object_set_new(j, "key", json_string(key));
		json_object_set_new(j, "store",
		    json_string(ch_registry_store_where(r)));
	}
	if (tostdout || (output && strcmp(output, "-") == 0)) {
		if (ch_verbosity() >= 0)
			ch_warn("%zu rows (%zu labelled customers, %zu positive; "
			    "%zu from %s), sha256 %s", st.rows, st.labelled,
			    st.positives, st.with_rows, o->with ? o->with : "no file",
			    st.sha256);
	} else
		print_json(j);
	json_decref(j);
	free(b.s);
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
		{"days", required_argument, NULL, 'D'},
		{"rows", required_argument, NULL, 'N'},
		{"with", required_argument, NULL, 'w'},
		{"target", required_argument, NULL, 'T'},
		{"positive", required_argument, NULL, 'p'},
		{"negative", required_argument, NULL, 'x'},
		{"put", no_argument, NULL, 'U'},
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
	struct ch_dataset_opts dso = { .id = "customerID", .target = "Churn",
	    .positive = "Yes", .negative = "No" };
	int dsopt = 0, put = 0, idset = 0;

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
		if ((c == 'b' && strcmp(cmd, "perf") != 0) || (c == 'H' &&
		    strcmp(cmd, "perf") != 0 && strcmp(cmd, "dataset") != 0 &&
		    strcmp(cmd, "compare") != 0))
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
		case 'I': idcol = dso.id = optarg; idset = 1; break;
		case 'D':
			dso.days = (long)ch_opt_int("--days", optarg, 1, 36500);
			dsopt = 1;
			break;
		case 'N':
			dso.rows = (size_t)ch_opt_int("--rows", optarg, 1,
			    1000000000);
			dsopt = 1;
			break;
		case 'w': dso.with = optarg; dsopt = 1; break;
		case 'T': dso.target = optarg; dsopt = 1; break;
		case 'p': dso.positive = optarg; dsopt = 1; break;
		case 'x': dso.negative = optarg; dsopt = 1; break;
		case 'U': put = 1; dsopt = 1; break;
		case 'B':
			boot = (long)ch_opt_int("--bootstrap", optarg, 10, 100000);
			cmpopt = 1;
			break;
		default: ch_usage(&use, 2);
		}
	}
	args = argv + optind;
	nargs = argc - optind;
	if (output && strcmp(cmd, "pull") != 0 && strcmp(cmd, "dataset") != 0)
		ch_usage(&use, 2);
	if (dsopt && strcmp(cmd, "dataset") != 0)
		ch_usage(&use, 2);
	if (idset && strcmp(cmd, "compare") != 0 && strcmp(cmd, "dataset") != 0)
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
	} else if (strcmp(cmd, "dataset") == 0 && nargs == 0) {
	} else if (strcmp(cmd, "compare") == 0 && nargs <= 2) {
	} else if (strcmp(cmd, "shards") == 0 && nargs == 1) {
	} else if (strcmp(cmd, "rollout") == 0 && nargs >= 1 &&
	    (strcmp(args[0], "set") == 0 || strcmp(args[0], "off") == 0 ||
	    strcmp(args[0], "show") == 0)) {
	} else {
		if (!strstr(" list show alias rollback rollout compare pull history drift gc perf dataset shards ", cmd))
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
	else if (strcmp(cmd, "dataset") == 0) {
		dso.horizon_days = po.horizon_days;
		rc = cmd_dataset(r, &dso, output, put);
	}
	else if (strcmp(cmd, "rollout") == 0)
		rc = cmd_rollout(r, args[0], &ro, asjson);
	else if (strcmp(cmd, "compare") == 0)
		rc = cmd_compare(r, args, nargs, window, outcomes, idcol, boot,
		    po.horizon_days, asjson);
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
