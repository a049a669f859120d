/* test_fleet.c - what replicas share through PostgreSQL
 * (CHURN_TEST_DATABASE_URL): deliveries claimed once, the pipeline lock,
 * and the notices the registry sends in the transaction of a change */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <libpq-fe.h>

#include "fleet.h"
#include "registry.h"

static char dburl[512], dbname[64], dir[256];
static int ndb;

static const char *
env(const char *k)
{
	const char *v = getenv(k);
	return v && *v ? v : NULL;
}

static void
admin(const char *sql)
{
	PGconn *c = PQconnectdb(env("CHURN_TEST_DATABASE_URL"));
	PGresult *r;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql,
	    PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

static void
setup(void)
{
	const char *u = env("CHURN_TEST_DATABASE_URL");
	const char *slash = strrchr(u, '/');
	char sql[128];

	snprintf(dbname, sizeof dbname, "unit_fleet_%ld_%d", (long)getpid(), ndb++);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
	admin(sql);
	snprintf(dburl, sizeof dburl, "%.*s/%s", (int)(slash - u), u, dbname);
	snprintf(dir, sizeof dir, "/tmp/test_fleet.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char sql[128], cmd[300];

	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
	admin(sql);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct ch_fleetdb *
db(void)
{
	struct ch_fleetdb *d;
	struct ch_err e;

	ck_assert_msg(ch_fleetdb_open(dburl, 5, &d, &e) == 0, "%s", e.msg);
	return d;
}

START_TEST(claims)
{
	struct ch_fleetdb *a = db(), *b = db();
	const char *k1[] = { "delivery:1", "body:aa", NULL };
	const char *k2[] = { "delivery:2", "body:aa", NULL };  /* same body */
	const char *k3[] = { "delivery:3", "body:bb", NULL };
	struct ch_err e;

	ck_assert_int_eq(ch_fleetdb_claim(a, k1, 3600, &e), 1);
	ck_assert_int_eq(ch_fleetdb_claim(b, k1, 3600, &e), 0);
	ck_assert_int_eq(ch_fleetdb_claim(b, k2, 3600, &e), 0);
	/* the refused claim recorded nothing: delivery:2 is still new */
	{
		const char *k[] = { "delivery:2", "body:cc", NULL };
		ck_assert_int_eq(ch_fleetdb_claim(a, k, 3600, &e), 1);
	}
	ck_assert_int_eq(ch_fleetdb_claim(b, k3, 3600, &e), 1);
	/* kept 0 s: what was seen before is forgotten */
	sleep(1);
	ck_assert_int_eq(ch_fleetdb_claim(a, k1, 0, &e), 1);
	ch_fleetdb_close(a);
	ch_fleetdb_close(b);
}
END_TEST

START_TEST(lock)
{
	struct ch_fleetdb *a = db(), *b = db();
	struct ch_err e;
	int i, got = 0;

	ck_assert_int_eq(ch_fleetdb_trylock(a, &e), 1);
	ck_assert_int_eq(ch_fleetdb_trylock(b, &e), 0);
	ck_assert_int_eq(ch_fleetdb_unlock(a, &e), 0);
	ck_assert_int_eq(ch_fleetdb_trylock(b, &e), 1);
	/* a session's end frees it (once the server has seen it end) */
	ch_fleetdb_close(b);
	for (i = 0; i < 100 && (got = ch_fleetdb_trylock(a, &e)) == 0; i++)
		usleep(20000);
	ck_assert_int_eq(got, 1);
	ch_fleetdb_close(a);
}
END_TEST

/* waits up to 2 s for notices; the last payload in p */
static int
notices(struct ch_fleetdb *d, char *p, size_t n)
{
	struct ch_err e;
	int got = 0, k, i;

	*p = '\0';
	for (i = 0; i < 8; i++) {
		ck_assert_int_ge(k = ch_fleetdb_wait(d, 0.25, p, n, &e), 0);
		got += k;
	}
	return got;
}

START_TEST(notify)
{
	struct ch_registry_opts o = { 0 };
	struct ch_registry *r;
	struct ch_fleetdb *l = db();
	struct ch_version_ref ref;
	struct ch_err e;
	json_t *m;
	char url[300], p[256];
	int i;

	ck_assert_msg(ch_fleetdb_listen(l, &e) == 0, "%s", e.msg);
	snprintf(url, sizeof url, "file://%s/store", dir);
	o.store_url = url;
	o.database_url = dburl;
	ck_assert_msg(ch_registry_open(&o, &r, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(ch_registry_init_store(r, &e), 0);
	for (i = 1; i <= 2; i++) {
		char v[32], body[32];

		snprintf(v, sizeof v, "v2026010%d-000000", i);
		snprintf(body, sizeof body, "model %d", i);
		m = json_pack("{s:s}", "version", v);
		ck_assert_msg(ch_registry_push(r, (const unsigned char *)body,
		    strlen(body), m, i == 1 ? "champion" : NULL, NULL, &e) == 0,
		    "%s", e.msg);
		json_decref(m);
	}
	/* push --alias: the version and the alias, at the commit */
	ck_assert_int_eq(notices(l, p, sizeof p), 3);
	ck_assert_str_eq(p, "version v20260102-000000");
	ck_assert_int_eq(ch_registry_alias_set(r, "champion", "v20260102-000000", &e), 0);
	ck_assert_int_eq(notices(l, p, sizeof p), 1);
	ck_assert_str_eq(p, "alias champion v20260102-000000");
	/* no move, no notice */
	ck_assert_int_eq(ch_registry_alias_set(r, "champion", "v20260102-000000", &e), 0);
	ck_assert_int_eq(notices(l, p, sizeof p), 0);
	ck_assert_int_eq(ch_registry_rollback(r, "champion", &ref, &e), 0);
	ck_assert_int_eq(notices(l, p, sizeof p), 1);
	ck_assert_str_eq(p, "rollback champion v20260101-000000");
	/* a change that fails announces nothing */
	ck_assert_int_eq(ch_registry_alias_set(r, "champion", "v20990101-000000", &e), -1);
	ck_assert_int_eq(notices(l, p, sizeof p), 0);
	ch_registry_close(r);
	/* the server goes away: the listener says so */
	{
		char sql[200];

		snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(pid) FROM"
		    " pg_stat_activity WHERE datname = '%s' AND application_name"
		    " = 'churn-fleet'", dbname);
		PGconn *c = PQconnectdb(env("CHURN_TEST_DATABASE_URL"));
		PQclear(PQexec(c, sql));
		PQfinish(c);
	}
	for (i = 0; i < 20 && ch_fleetdb_wait(l, 0.1, NULL, 0, &e) >= 0; i++)
		;
	ck_assert_int_lt(i, 20);
	ck_assert_msg(strstr(e.msg, "connection lost") != NULL, "%s", e.msg);
	ch_fleetdb_close(l);
}
END_TEST

START_TEST(bad_url)
{
	struct ch_fleetdb *d;
	struct ch_err e;

	ck_assert_int_eq(ch_fleetdb_open("postgresql://u:secret@127.0.0.1:1/x",
	    2, &d, &e), -1);
	ck_assert_ptr_null(d);
	ck_assert_msg(strstr(e.msg, "127.0.0.1:1/x") && !strstr(e.msg, "secret"),
	    "%s", e.msg);
}
END_TEST

int
main(void)
{
	Suite *su = suite_create("fleet");
	TCase *tc = tcase_create("offline");
	SRunner *sr;
	int nf;

	tcase_add_test(tc, bad_url);
	suite_add_tcase(su, tc);
	if (env("CHURN_TEST_DATABASE_URL")) {
		tc = tcase_create("postgresql");
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, claims);
		tcase_add_test(tc, lock);
		tcase_add_test(tc, notify);
		suite_add_tcase(su, tc);
	} else
		printf("test_fleet: PostgreSQL tests skipped: "
		    "CHURN_TEST_DATABASE_URL not set\n");
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? 1 : 0;
}
