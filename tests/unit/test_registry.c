/* test_registry.c - the registry against its index in a file:// store, and
 * against PostgreSQL (CHURN_TEST_DATABASE_URL) with a file:// or s3://
 * (CHURN_TEST_S3_ENDPOINT) store */
#include <sys/wait.h>

#include <math.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "unit.h"
#include <libpq-fe.h>

#include "predlog.h"
#include "registry.h"

static char dburl[512];
static char dbname[64];
static int ndb;

static void
admin(const char *sql)
{
	PGconn *c = PQconnectdb(unit_env("CHURN_TEST_DATABASE_URL"));
	PGresult *r;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql,
	    PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

/* A fresh database for each PostgreSQL test; dburl names it. */
static void
fresh_db(void)
{
	const char *u = unit_env("CHURN_TEST_DATABASE_URL");
	const char *slash = strrchr(u, '/');
	char sql[128];

	snprintf(dbname, sizeof dbname, "unit_%ld_%d", (long)getpid(), ndb++);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
	admin(sql);
	snprintf(dburl, sizeof dburl, "%.*s/%s", (int)(slash - u), u, dbname);
}

static void
drop_db(void)
{
	char sql[128];

	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
	admin(sql);
}

static struct ch_registry *
open_reg(const char *store, const char *db)
{
	struct ch_registry_opts o = {.store_url = store, .database_url = db};
	struct ch_registry *r;
	struct ch_err e = {{0}};

	o.s3.endpoint = unit_env("CHURN_TEST_S3_ENDPOINT");
	o.s3.access_key = unit_env("AWS_ACCESS_KEY_ID");
	o.s3.secret_key = unit_env("AWS_SECRET_ACCESS_KEY");
	o.s3.retries = 1;
	ck_assert_msg(ch_registry_open(&o, &r, &e) == 0, "%s", e.msg);
	ck_assert_msg(ch_registry_init_store(r, &e) == 0, "%s", e.msg);
	return r;
}

static json_t *
manifest(const char *v, double auc)
{
	return json_pack("{s:s, s:{s:f}, s:{s:i}, s:{s:i}}", "version", v,
	    "metrics", "roc_auc", auc, "params", "trees", 10, "data", "rows", 99);
}

static const char *
jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A stand-in for churn-push's restamp: the bytes name the version. */
static int
restamp_fake(void *arg, const char *version, unsigned char **buf, size_t *len,
    json_t **m, struct ch_err *e)
{
	char *b = malloc(64);

	(void)arg;
	(void)e;
	snprintf(b, 64, "%s@%s", "model-ONE", version);
	*buf = (unsigned char *)b;
	*len = strlen(b);
	*m = manifest(version, 0.5);
	return 0;
}

/* The whole life of two versions and an alias, on any registry. */
static void
scenario(struct ch_registry *r)
{
	struct ch_err e = {{0}};
	struct ch_version_ref ref;
	json_t *m1 = manifest("v20260101-000001", 0.81);
	json_t *m2 = manifest("v20260102-000002", 0.83);
	json_t *out, *l, *h, *x;
	unsigned char *buf;
	size_t len;
	char sha[65];
	int i;

	/* push v1 as champion */
	ck_assert_msg(ch_registry_push(r, (const unsigned char *)"model-one", 9, m1,
	    "champion", &out, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(jstr(out, "status"), "registered");
	ck_assert_str_eq(jstr(out, "version"), "v20260101-000001");
	ch_sha256_hex("model-one", 9, sha);
	ck_assert_str_eq(jstr(out, "sha256"), sha);
	ck_assert_int_eq(json_integer_value(json_object_get(out, "size")), 9);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(out,
	    "aliases"), 0)), "champion");
	json_decref(out);
	/* the same again: idempotent */
	ck_assert_int_eq(ch_registry_push(r, (const unsigned char *)"model-one", 9, m1,
	    NULL, &out, &e), 0);
	ck_assert_str_eq(jstr(out, "status"), "exists");
	json_decref(out);
	/* other bytes, same version: refused */
	ck_assert_int_eq(ch_registry_push(r, (const unsigned char *)"model-ONE", 9, m1,
	    NULL, &out, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "already registered"));
	ck_assert_ptr_null(out);
	/* a registered artifact that went missing is put back by a retry */
	ck_assert_int_eq(ch_store_delete(ch_registry_store(r),
	    "models/v20260101-000001/model.churn", &e), 0);
	ck_assert_int_eq(ch_registry_push(r, (const unsigned char *)"model-one", 9, m1,
	    NULL, &out, &e), 0);
	ck_assert_str_eq(jstr(out, "status"), "exists");
	json_decref(out);
	/* the artifact was not replaced */
	ck_assert_int_eq(ch_registry_pull(r, "v20260101-000001", &buf, &len, &ref, &e), 0);
	ck_assert_mem_eq(buf, "model-one", 9);
	free(buf);

	/* push v2 as champion, v1 stays as challenger */
	ck_assert_int_eq(ch_registry_push(r, (const unsigned char *)"model-two!", 10, m2,
	    "champion", NULL, &e), 0);
	ck_assert_int_eq(ch_registry_alias_set(r, "challenger", "v20260101-000001", &e), 0);
	ck_assert_int_eq(ch_registry_resolve(r, "champion", &ref, &e), 0);
	ck_assert_str_eq(ref.version, "v20260102-000002");
	ck_assert_uint_eq(ref.size, 10);
	ck_assert_int_eq(ch_registry_pull(r, "champion", &buf, &len, &ref, &e), 0);
	ck_assert_uint_eq(len, 10);
	ck_assert_mem_eq(buf, "model-two!", 10);
	free(buf);

	/* list */
	l = ch_registry_list(r, &e);
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(json_array_size(json_object_get(l, "versions")), 2);
	x = json_array_get(json_object_get(l, "versions"), 0);
	ck_assert_str_eq(jstr(x, "version"), "v20260101-000001");
	ck_assert_str_eq(jstr(x, "sha256"), sha);
	ck_assert(json_real_value(json_object_get(json_object_get(x, "metrics"),
	    "roc_auc")) == 0.81);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(x,
	    "params"), "trees")), 10);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(x,
	    "aliases"), 0)), "challenger");
	ck_assert_str_eq(jstr(json_object_get(l, "aliases"), "champion"),
	    "v20260102-000002");
	json_decref(l);

	/* show */
	x = ch_registry_show(r, "challenger", &e);
	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(jstr(x, "version"), "v20260101-000001");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(x,
	    "data"), "rows")), 99);
	ck_assert_ptr_nonnull(jstr(x, "registered"));
	json_decref(x);

	/* setting the same version again records nothing */
	ck_assert_int_eq(ch_registry_alias_set(r, "champion", "v20260102-000002", &e), 0);
	/* rollback: champion back to v1; once more: nothing earlier */
	ck_assert_int_eq(ch_registry_rollback(r, "champion", &ref, &e), 0);
	ck_assert_str_eq(ref.version, "v20260101-000001");
	ck_assert_int_eq(ch_registry_resolve(r, "champion", &ref, &e), 0);
	ck_assert_str_eq(ref.version, "v20260101-000001");
	ck_assert_int_eq(ch_registry_rollback(r, "champion", &ref, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "no earlier version"));
	/* set v2 again, v1 again: rollback undoes the last set only */
	ck_assert_int_eq(ch_registry_alias_set(r, "champion", "v20260102-000002", &e), 0);
	ck_assert_int_eq(ch_registry_alias_set(r, "champion", "v20260101-000001", &e), 0);
	ck_assert_int_eq(ch_registry_rollback(r, "champion", &ref, &e), 0);
	ck_assert_str_eq(ref.version, "v20260102-000002");

	/* history: append-only, oldest first */
	h = ch_registry_history(r, "champion", &e);
	ck_assert_ptr_nonnull(h);
	x = json_object_get(h, "history");
	ck_assert_uint_eq(json_array_size(x), 6);
	{
		static const char *want[][3] = {
			{"set", "v20260101-000001", NULL},
			{"set", "v20260102-000002", "v20260101-000001"},
			{"rollback", "v20260101-000001", "v20260102-000002"},
			{"set", "v20260102-000002", "v20260101-000001"},
			{"set", "v20260101-000001", "v20260102-000002"},
			{"rollback", "v20260102-000002", "v20260101-000001"},
		};
		for (i = 0; i < 6; i++) {
			json_t *ev = json_array_get(x, (size_t)i);
			ck_assert_str_eq(jstr(ev, "alias"), "champion");
			ck_assert_str_eq(jstr(ev, "action"), want[i][0]);
			ck_assert_str_eq(jstr(ev, "version"), want[i][1]);
			if (want[i][2])
				ck_assert_str_eq(jstr(ev, "previous"), want[i][2]);
			else
				ck_assert(json_is_null(json_object_get(ev, "previous")));
			ck_assert_uint_eq(strlen(jstr(ev, "time")), 20);
		}
	}
	json_decref(h);
	h = ch_registry_history(r, NULL, &e);
	ck_assert_uint_eq(json_array_size(json_object_get(h, "history")), 7);
	json_decref(h);

	/* names */
	ck_assert_int_eq(ch_registry_alias_set(r, "v2", "champion", &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "bad alias name 'v2'"));
	ck_assert_int_eq(ch_registry_alias_set(r, "x", "nope", &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "no version or alias 'nope'"));
	ck_assert_int_eq(ch_registry_resolve(r, "../etc", &ref, &e), -1);
	ck_assert_int_eq(ch_registry_rollback(r, "nobody", &ref, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "no alias 'nobody'"));

	/* drift reports, newest last */
	for (i = 0; i < 5; i++) {
		json_t *rep = json_pack("{s:s, s:b, s:i}", "model_version",
		    "v20260101-000001", "drift", i % 2, "n", i);
		ck_assert_int_eq(ch_registry_record_drift(r, rep, &e), 0);
		json_decref(rep);
	}
	x = ch_registry_drift_reports(r, 3, &e);
	ck_assert_ptr_nonnull(x);
	ck_assert_uint_eq(json_array_size(json_object_get(x, "reports")), 3);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(
		    json_object_get(x, "reports"), (size_t)i), "n")), i + 2);
	json_decref(x);
	x = ch_registry_drift_reports(r, 0, &e);
	ck_assert_uint_eq(json_array_size(json_object_get(x, "reports")), 5);
	json_decref(x);

	/* tampering with the stored artifact is caught on pull */
	ck_assert_int_eq(ch_store_put(ch_registry_store(r),
	    "models/v20260101-000001/model.churn", "model-onE", 9, &e), 0);
	ck_assert_int_eq(ch_registry_pull(r, "v20260101-000001", &buf, &len, &ref, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "fails verification"));
	ck_assert_ptr_nonnull(strstr(e.msg, sha));
	ck_assert_int_eq(ch_store_delete(ch_registry_store(r),
	    "models/v20260101-000001/model.churn", &e), 0);
	ck_assert_int_eq(ch_registry_pull(r, "v20260101-000001", &buf, &len, &ref, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "missing"));

	/* other bytes under a taken name, given a restamp: the next free
	 * second, stamped; pushed again, the same copy */
	for (i = 0; i < 2; i++) {
		ck_assert_msg(ch_registry_push_as(r, (const unsigned char *)"model-ONE",
		    9, m1, NULL, restamp_fake, NULL, &out, &e) == 0, "%s", e.msg);
		ck_assert_str_eq(jstr(out, "version"), "v20260101-000002");
		ck_assert_str_eq(jstr(out, "status"), i ? "exists" : "registered");
		json_decref(out);
	}
	ck_assert_int_eq(ch_registry_pull(r, "v20260101-000002", &buf, &len, &ref, &e), 0);
	ck_assert_uint_eq(len, 26);
	ck_assert_mem_eq(buf, "model-ONE@v20260101-000002", 26);
	free(buf);
	x = ch_registry_show(r, "v20260101-000002", &e);
	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(jstr(x, "renamed_from"), "v20260101-000001");
	json_decref(x);

	/* gc: what no registered version owns goes, the rest stays */
	ck_assert_int_eq(ch_store_put(ch_registry_store(r),
	    "models/v20990101-000000/model.churn", "junk", 4, &e), 0);
	x = ch_registry_gc(r, &e);
	ck_assert_msg(x != NULL, "%s", e.msg);
	ck_assert_uint_eq(json_array_size(json_object_get(x, "removed")), 1);
	ck_assert_str_eq(jstr(json_array_get(json_object_get(x, "removed"), 0), "key"),
	    "models/v20990101-000000");
	ck_assert_int_eq(json_integer_value(json_object_get(x, "bytes")), 4);
	json_decref(x);
	ck_assert_int_eq(ch_registry_pull(r, "v20260101-000002", &buf, &len, &ref, &e), 0);
	free(buf);
	ck_assert_int_eq(ch_registry_pull(r, "champion", &buf, &len, &ref, &e), 0);
	free(buf);

	json_decref(m1);
	json_decref(m2);
}

/* The prediction log keeps a shadow challenger's score beside the
 * champion's; a row without one (also one written before the fields
 * existed: old holds such a row, in the log's own format) reads back with
 * NULL and NAN. */
static void
predlog_shadow(struct ch_registry *r, void (*old)(struct ch_registry *))
{
	struct ch_err e = {{0}};
	struct ch_pred in[2] = {
		{ "c1", 1790000000, "v1", 0.25, NULL, "v2", 0.75 },
		{ "c2", 1790000000, "v1", 0.5, NULL, NULL, 0 },
	}, *out;
	size_t n;

	in[0].features = json_pack("{s:s}", "tenure", "3");
	in[1].features = json_pack("{s:s}", "tenure", "4");
	static const char lines[] = "{\"id\":\"c4\",\"time\":\"2026-09-21T10:00:00Z\","
	    "\"model_version\":\"v1\",\"probability\":0.5,\"features\":{},"
	    "\"shadow_version\":\"v2\",\"shadow_probability\":0.0625}\n"
	    "{\"id\":\"c5\",\"time\":\"2026-09-21T11:00:00Z\","
	    "\"model_version\":\"v1\",\"probability\":1,\"features\":{}}\n";

	ck_assert_msg(ch_predlog_append(r, in, 2, &e) == 0, "%s", e.msg);
	old(r);
	/* rows a writer encoded itself (churn-serve) */
	ck_assert_msg(ch_predlog_append_jsonl(r, lines, sizeof lines - 1,
	    1790000000, &e) == 0, "%s", e.msg);
	ck_assert_msg(ch_predlog_read(r, 0, 0, 1, &out, &n, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(out[3].id, "c4");
	ck_assert_str_eq(out[3].shadow_version, "v2");
	ck_assert_double_eq(out[3].shadow_p, 0.0625);
	ck_assert_str_eq(out[4].id, "c5");
	ck_assert_double_eq(out[4].p, 1);
	ck_assert_ptr_null(out[4].shadow_version);
	ck_assert_str_eq(out[0].id, "c1");
	ck_assert_str_eq(out[0].version, "v1");
	ck_assert_double_eq(out[0].p, 0.25);
	ck_assert_str_eq(out[0].shadow_version, "v2");
	ck_assert_double_eq(out[0].shadow_p, 0.75);
	ck_assert_str_eq(json_string_value(json_object_get(out[0].features,
	    "tenure")), "3");
	ck_assert_str_eq(out[1].id, "c2");
	ck_assert_ptr_null(out[1].shadow_version);
	ck_assert(isnan(out[1].shadow_p));
	ck_assert_str_eq(out[2].id, "c3");
	ck_assert_double_eq(out[2].p, 0.125);
	ck_assert_ptr_null(out[2].shadow_version);
	ck_assert(isnan(out[2].shadow_p));
	ch_pred_free(out, n);
	json_decref(in[0].features);
	json_decref(in[1].features);
}

/* A segment as the log wrote them before shadow fields. */
static void
old_segment(struct ch_registry *r)
{
	static const char row[] = "{\"id\":\"c3\",\"time\":\"2026-09-21T"
	    "00:00:00Z\",\"model_version\":\"v1\",\"probability\":0.125,"
	    "\"features\":{}}\n";
	struct ch_err e = {{0}};

	ck_assert_msg(ch_store_put(ch_registry_store(r), "predictions/"
	    "2026-09-21/20260921T000000Z-0123456789abcdef.jsonl", row,
	    sizeof row - 1, &e) == 0, "%s", e.msg);
}

START_TEST(local_predlog)
{
	struct ch_registry *r = open_reg(unit_dir, NULL);

	predlog_shadow(r, old_segment);
	ch_registry_close(r);
}
END_TEST

/* Segments are named by time and a counter, not their content: many in
 * one second, even with the same lines, are all kept and all read; lines
 * with or without the last newline alike. */
START_TEST(local_predlog_same_second)
{
	struct ch_registry *r = open_reg(unit_dir, NULL);
	static const char row[] = "{\"id\":\"c1\",\"time\":\"2026-09-22T"
	    "00:00:01Z\",\"model_version\":\"v1\",\"probability\":0.25,"
	    "\"features\":{}}\n";
	struct ch_err e = {{0}};
	struct ch_pred *out;
	time_t day;
	size_t n, i;
	char **segs;

	ck_assert_int_eq(ch_time_parse("2026-09-22", 10, &day), 0);
	for (i = 0; i < 50; i++)
		ck_assert_msg(ch_predlog_append_jsonl(r, row, sizeof row -
		    (i % 2 ? 1 : 2), day, &e) == 0, "%s", e.msg);
	ck_assert_ptr_nonnull(segs = ch_store_list(ch_registry_store(r),
	    "predictions/2026-09-22", &e));
	for (n = 0; segs[n]; n++) {
		ck_assert_uint_eq(strlen(segs[n]), 39);
		ck_assert_str_eq(segs[n] + strlen(segs[n]) - 6, ".jsonl");
	}
	ck_assert_uint_eq(n, 50);
	ch_strv_free(segs);
	ck_assert_msg(ch_predlog_read(r, day, 0, 1, &out, &n, &e) == 0, "%s",
	    e.msg);
	ck_assert_uint_eq(n, 50);
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(out[i].id, "c1");
		ck_assert(out[i].p == 0.25);
	}
	ch_pred_free(out, n);
	ch_registry_close(r);
}
END_TEST

START_TEST(local_index)
{
	struct ch_registry *r = open_reg(unit_dir, NULL);

	ck_assert_ptr_nonnull(strstr(ch_registry_db_where(r), "index in file://"));
	scenario(r);
	ch_registry_close(r);
}
END_TEST

/* Without a database there is no window table: the caller keeps files. */
START_TEST(local_window)
{
	struct ch_registry *r = open_reg(unit_dir, NULL);
	struct ch_err e = {{0}};
	size_t len = 1;
	long rows = 1;

	ck_assert_int_eq(ch_registry_window_append(r, "{}\n", 3, 10, NULL, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "no database is configured"));
	e.msg[0] = '\0';
	ck_assert_ptr_null(ch_registry_window_read(r, 10, &len, &rows, &e));
	ck_assert_ptr_nonnull(strstr(e.msg, "no database is configured"));
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(rows, 0);
	ch_registry_close(r);
}
END_TEST

/* Line i of a window read as JSON, or NULL. */
static json_t *
window_line(const char *buf, int i)
{
	const char *p = buf, *nl;

	while (i-- > 0 && (nl = strchr(p, '\n')))
		p = nl + 1;
	nl = strchr(p, '\n');
	return nl ? json_loadb(p, (size_t)(nl - p), 0, NULL) : NULL;
}

static long
window_count(void)
{
	PGconn *c = PQconnectdb(dburl);
	PGresult *res = PQexec(c, "SELECT count(*) FROM churn_window");
	long n;

	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(c);
	return n;
}

/* Rows go in in order, come back newest limit oldest first in the form
 * they went in, the table keeps keep rows, a bad line is skipped. */
START_TEST(pg_window)
{
	struct ch_registry *r;
	struct ch_err e = {{0}};
	char lines[4096], *buf;
	size_t len, n = 0;
	long rows, refused = -1;
	json_t *j;
	int i;

	fresh_db();
	r = open_reg(unit_dir, dburl);
	buf = ch_registry_window_read(r, 10, &len, &rows, &e);
	ck_assert_msg(buf != NULL, "%s", e.msg);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(rows, 0);
	free(buf);
	/* three rows, an empty line, no newline after the last */
	n = (size_t)snprintf(lines, sizeof lines,
	    "{\"churn_probability\":0.25,\"model_version\":\"v1\","
	    "\"time\":\"2026-01-02T03:04:05Z\",\"tenure\":\"5\","
	    "\"MonthlyCharges\":70.35,\"extra\":[1,2]}\n\n"
	    "{\"churn_probability\":0.5,\"model_version\":\"v1\","
	    "\"Contract\":\"Month-to-month\"}\n"
	    "{\"churn_probability\":0.75,\"model_version\":\"v2\","
	    "\"tenure\":7}");
	ck_assert_msg(ch_registry_window_append(r, lines, n, 100, &refused, &e) == 0,
	    "%s", e.msg);
	ck_assert_int_eq(refused, 0);
	ck_assert_int_eq(window_count(), 3);
	buf = ch_registry_window_read(r, 10, &len, &rows, &e);
	ck_assert_msg(buf != NULL, "%s", e.msg);
	ck_assert_int_eq(rows, 3);
	ck_assert_uint_eq(len, strlen(buf));
	j = window_line(buf, 0);
	ck_assert_ptr_nonnull(j);
	ck_assert_double_eq(json_real_value(json_object_get(j, "churn_probability")), 0.25);
	ck_assert_str_eq(jstr(j, "model_version"), "v1");
	ck_assert_str_eq(jstr(j, "time"), "2026-01-02T03:04:05Z");
	ck_assert_str_eq(jstr(j, "tenure"), "5");
	ck_assert_double_eq_tol(json_real_value(json_object_get(j, "MonthlyCharges")),
	    70.35, 1e-9);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "extra")), 2);
	ck_assert_uint_eq(json_object_size(j), 6);
	json_decref(j);
	j = window_line(buf, 1);
	ck_assert_str_eq(jstr(j, "Contract"), "Month-to-month");
	ck_assert_uint_eq(strlen(jstr(j, "time")), 20);     /* now, ISO */
	json_decref(j);
	j = window_line(buf, 2);
	ck_assert_str_eq(jstr(j, "model_version"), "v2");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "tenure")), 7);
	json_decref(j);
	ck_assert_ptr_null(window_line(buf, 3));
	free(buf);
	/* the newest two, oldest first */
	buf = ch_registry_window_read(r, 2, &len, &rows, &e);
	ck_assert_int_eq(rows, 2);
	j = window_line(buf, 0);
	ck_assert_str_eq(jstr(j, "Contract"), "Month-to-month");
	json_decref(j);
	free(buf);
	/* ten more with keep 4: the table holds the newest four; a line
	 * that is not JSON is refused alone */
	for (i = 0, n = 0; i < 10; i++) {
		n += (size_t)snprintf(lines + n, sizeof lines - n,
		    "{\"churn_probability\":0.1,\"model_version\":\"v3\",\"i\":%d}\n", i);
		if (i == 4)
			n += (size_t)snprintf(lines + n, sizeof lines - n, "not json\n");
	}
	ck_assert_msg(ch_registry_window_append(r, lines, n, 4, &refused, &e) == 0,
	    "%s", e.msg);
	ck_assert_int_eq(refused, 1);
	ck_assert_int_eq(window_count(), 4);
	buf = ch_registry_window_read(r, 100, &len, &rows, &e);
	ck_assert_int_eq(rows, 4);
	for (i = 0; i < 4; i++) {
		j = window_line(buf, i);
		ck_assert_int_eq(json_integer_value(json_object_get(j, "i")), 6 + i);
		json_decref(j);
	}
	free(buf);
	/* an empty append commits nothing but still trims */
	ck_assert_int_eq(ch_registry_window_append(r, "", 0, 2, NULL, &e), 0);
	ck_assert_int_eq(window_count(), 2);
	ck_assert_ptr_null(ch_registry_window_read(r, 0, &len, &rows, &e));
	ch_registry_close(r);
	drop_db();
}
END_TEST

/* Writers in several processes at once lose no version. */
START_TEST(local_concurrent)
{
	enum { NPROC = 6, EACH = 5 };
	struct ch_registry *r;
	struct ch_err e = {{0}};
	json_t *l;
	pid_t pids[NPROC];
	int i, j, st;

	for (i = 0; i < NPROC; i++) {
		if ((pids[i] = fork()) == 0) {
			struct ch_registry *cr = open_reg(unit_dir, NULL);
			for (j = 0; j < EACH; j++) {
				char v[32], body[32];
				json_t *m;
				snprintf(v, sizeof v, "v%d-%d", i, j);
				snprintf(body, sizeof body, "body %d %d", i, j);
				m = manifest(v, 0.5);
				if (ch_registry_push(cr, (unsigned char *)body, strlen(body), m,
				    "latest", NULL, &e) < 0)
					_exit(1);
				json_decref(m);
			}
			ch_registry_close(cr);
			_exit(0);
		}
	}
	for (i = 0; i < NPROC; i++) {
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert_int_eq(st, 0);
	}
	r = open_reg(unit_dir, NULL);
	l = ch_registry_list(r, &e);
	ck_assert_uint_eq(json_array_size(json_object_get(l, "versions")), NPROC * EACH);
	json_decref(l);
	l = ch_registry_history(r, "latest", &e);
	ck_assert_uint_eq(json_array_size(json_object_get(l, "history")), NPROC * EACH);
	json_decref(l);
	ch_registry_close(r);
}
END_TEST

START_TEST(pg_file_store)
{
	struct ch_registry *r;

	fresh_db();
	r = open_reg(unit_dir, dburl);
	ck_assert_ptr_nonnull(strstr(ch_registry_db_where(r), "/unit_"));
	scenario(r);
	ch_registry_close(r);
	/* reopening migrates nothing and keeps everything */
	r = open_reg(unit_dir, dburl);
	{
		struct ch_err e = {{0}};
		json_t *l = ch_registry_list(r, &e);
		ck_assert_uint_eq(json_array_size(json_object_get(l, "versions")), 3);
		json_decref(l);
	}
	ch_registry_close(r);
	drop_db();
}
END_TEST

START_TEST(pg_s3_store)
{
	struct ch_registry *r;
	char url[256];

	fresh_db();
	snprintf(url, sizeof url, "s3://%s/unit-reg-%ld", unit_env("CHURN_TEST_S3_BUCKET"),
	    (long)getpid());
	r = open_reg(url, dburl);
	scenario(r);
	ch_registry_close(r);
	drop_db();
}
END_TEST

/* A row inserted as before migration 6 (no shadow columns). */
static void
old_pg_row(struct ch_registry *r)
{
	PGconn *c = PQconnectdb(dburl);
	PGresult *res;

	(void)r;
	res = PQexec(c, "INSERT INTO churn_predictions (customer_id, time,"
	    " model_version, probability, features) VALUES ('c3',"
	    " '2026-09-21T00:00:00Z', 'v1', 0.125, '{}')");
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s",
	    PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(c);
}

START_TEST(pg_predlog)
{
	struct ch_registry *r;

	fresh_db();
	r = open_reg(unit_dir, dburl);
	predlog_shadow(r, old_pg_row);
	ch_registry_close(r);
	drop_db();
}
END_TEST

/* The history table refuses changes; an alias names one version. */
START_TEST(pg_constraints)
{
	struct ch_registry *r;
	struct ch_err e = {{0}};
	json_t *m = manifest("v1", 0.5);
	PGconn *c;
	PGresult *res;

	fresh_db();
	r = open_reg(unit_dir, dburl);
	ck_assert_int_eq(ch_registry_push(r, (const unsigned char *)"a", 1, m, "champion",
	    NULL, &e), 0);
	c = PQconnectdb(dburl);
	res = PQexec(c, "UPDATE churn_alias_history SET version = 'v1'");
	ck_assert_int_eq(PQresultStatus(res), PGRES_FATAL_ERROR);
	ck_assert_ptr_nonnull(strstr(PQresultErrorMessage(res), "append-only"));
	PQclear(res);
	res = PQexec(c, "DELETE FROM churn_alias_history");
	ck_assert_int_eq(PQresultStatus(res), PGRES_FATAL_ERROR);
	PQclear(res);
	res = PQexec(c, "INSERT INTO churn_aliases (alias, version) VALUES ('champion', 'v1')");
	ck_assert_int_eq(PQresultStatus(res), PGRES_FATAL_ERROR);
	PQclear(res);
	res = PQexec(c, "SELECT max(version) FROM churn_schema_version");
	ck_assert_str_eq(PQgetvalue(res, 0, 0), "6");
	PQclear(res);
	/* a newer schema than we know is refused */
	PQclear(PQexec(c, "INSERT INTO churn_schema_version (version) VALUES (99)"));
	PQfinish(c);
	ch_registry_close(r);
	{
		struct ch_registry_opts o = {.store_url = unit_dir, .database_url = dburl};
		ck_assert_int_eq(ch_registry_open(&o, &r, &e), -1);
		ck_assert_ptr_nonnull(strstr(e.msg, "newer than this program knows"));
	}
	json_decref(m);
	drop_db();
}
END_TEST

/* A connection the server dropped while idle is re-established. */
START_TEST(pg_reconnect)
{
	struct ch_registry *r;
	struct ch_err e = {{0}};
	struct ch_version_ref ref;
	json_t *m = manifest("v1", 0.5), *l;
	PGconn *c;

	fresh_db();
	r = open_reg(unit_dir, dburl);
	ck_assert_int_eq(ch_registry_push(r, (const unsigned char *)"a", 1, m, "champion",
	    NULL, &e), 0);
	c = PQconnectdb(dburl);
	PQclear(PQexec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	    " WHERE datname = current_database() AND pid <> pg_backend_pid()"));
	PQfinish(c);
	ck_assert_msg(ch_registry_resolve(r, "champion", &ref, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(ref.version, "v1");
	l = ch_registry_list(r, &e);
	ck_assert_ptr_nonnull(l);
	json_decref(l);
	ch_registry_close(r);
	json_decref(m);
	drop_db();
}
END_TEST

START_TEST(pg_down)
{
	struct ch_registry_opts o = {.store_url = unit_dir,
	    .database_url = "postgresql://churn:sekrit@127.0.0.1:1/churn"};
	struct ch_registry *r;
	struct ch_err e = {{0}};

	ck_assert_int_eq(ch_registry_open(&o, &r, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "cannot connect to database 127.0.0.1:1/churn"));
	ck_assert_ptr_null(strstr(e.msg, "sekrit"));
	ck_assert_ptr_null(strchr(e.msg, '\n'));
	/* a malformed conninfo is refused without quoting it */
	o.database_url = "host=x password sekrit2";
	ck_assert_int_eq(ch_registry_open(&o, &r, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "bad database URL"));
	ck_assert_ptr_null(strstr(e.msg, "sekrit2"));
}
END_TEST

START_TEST(pg_wrong_password)
{
	struct ch_registry_opts o = {.store_url = unit_dir};
	struct ch_registry *r;
	struct ch_err e = {{0}};
	char url[512];
	const char *u = unit_env("CHURN_TEST_DATABASE_URL");
	const char *at = strrchr(u, '@');

	snprintf(url, sizeof url, "postgresql://churn:wrong-pw@%s", at + 1);
	o.database_url = url;
	ck_assert_int_eq(ch_registry_open(&o, &r, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "password authentication failed"));
	ck_assert_ptr_null(strstr(e.msg, "wrong-pw"));
}
END_TEST

/* Two processes opening a fresh database at once both migrate safely. */
START_TEST(pg_concurrent_open)
{
	pid_t p[4];
	int i, st;

	fresh_db();
	for (i = 0; i < 4; i++)
		if ((p[i] = fork()) == 0) {
			struct ch_registry_opts o = {.store_url = unit_dir, .database_url = dburl};
			struct ch_registry *r;
			struct ch_err e = {{0}};
			if (ch_registry_open(&o, &r, &e) < 0) {
				fprintf(stderr, "%s\n", e.msg);
				_exit(1);
			}
			ch_registry_close(r);
			_exit(0);
		}
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(waitpid(p[i], &st, 0), p[i]);
		ck_assert_int_eq(st, 0);
	}
	drop_db();
}
END_TEST

/*
 * Two binaries from this file: test_registry runs the cases that need
 * nothing; test_registry_pg (test_registry_pg.c, REGISTRY_PG) the ones
 * that need PostgreSQL, and skips (exit 77) saying why when there is none.
 */
int
main(void)
{
#ifdef REGISTRY_PG
	const int pg = 1;
#else
	const int pg = 0;
#endif
	Suite *su = suite_create(pg ? "registry_pg" : "registry");
	TCase *tc;

	if (!pg) {
		tc = tcase_create("local");
		tcase_add_checked_fixture(tc, unit_tmpdir, unit_rmdir);
		tcase_set_timeout(tc, 30);
		tcase_add_test(tc, local_index);
		tcase_add_test(tc, local_concurrent);
		tcase_add_test(tc, local_window);
		tcase_add_test(tc, local_predlog);
		tcase_add_test(tc, local_predlog_same_second);
		tcase_add_test(tc, pg_down);
		suite_add_tcase(su, tc);
		return unit_run(su);
	}
	if (!unit_env("CHURN_TEST_DATABASE_URL"))
		unit_skip("test_registry_pg", "no PostgreSQL: CHURN_TEST_DATABASE_URL "
		    "is not set (tests/run starts one with the cli suite; by hand: "
		    "scripts/services up DIR && . DIR/env)");
	tc = tcase_create("postgresql");
	tcase_add_checked_fixture(tc, unit_tmpdir, unit_rmdir);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, pg_file_store);
	tcase_add_test(tc, pg_constraints);
	tcase_add_test(tc, pg_wrong_password);
	tcase_add_test(tc, pg_concurrent_open);
	tcase_add_test(tc, pg_reconnect);
	tcase_add_test(tc, pg_window);
	tcase_add_test(tc, pg_predlog);
	if (unit_env("CHURN_TEST_S3_ENDPOINT"))
		tcase_add_test(tc, pg_s3_store);
	else
		printf("test_registry_pg: PostgreSQL + s3 test skipped: "
		    "CHURN_TEST_S3_ENDPOINT not set\n");
	suite_add_tcase(su, tc);
	return unit_run(su);
}
