/* fleet.c - what the replicas of a churn-serve fleet share through
 * PostgreSQL (fleet.h): deliveries seen, the pipeline lock, change
 * notices */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "fleet.h"

/* Advisory lock keys: (730211443, hashtext(alias)) are the registry's
 * (registry.c); (730211443, 1) is the pipeline, (730211443, 2) the DDL
 * below. */

struct ch_fleetdb {
	PGconn *pg;
	int have_table;            /* churn_hook_deliveries exists */
	char where[256];           /* host:port/dbname */
};

static void
quiet(void *arg, const char *msg)
{
	(void)arg, (void)msg;
}

/* the first line of libpq's message */
static const char *
line(struct ch_fleetdb *d, PGresult *res, char *out, size_t n)
{
	const char *m = res ? PQresultErrorMessage(res) : "";

	if (!*m)
		m = PQerrorMessage(d->pg);
	snprintf(out, n, "%.*s", (int)strcspn(m, "\n"), m);
	return out;
}

static int
fail(struct ch_fleetdb *d, const char *what, PGresult *res, struct ch_err *e)
{
	char l[512];

	line(d, res, l, sizeof l);
	PQclear(res);
	return ch_errf(e, "database %s: %s: %s", d->where, what, l);
}

/* Runs sql; the result (caller clears), or NULL with e. */
static PGresult *
run(struct ch_fleetdb *d, const char *what, const char *sql, int n,
    const char *const *p, struct ch_err *e)
{
	/* without parameters, several statements may go in one string */
	PGresult *res = n ? PQexecParams(d->pg, sql, n, NULL, p, NULL, NULL, 0) :
	    PQexec(d->pg, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	fail(d, what, res, e);
	return NULL;
}

static int
run0(struct ch_fleetdb *d, const char *what, const char *sql, int n,
    const char *const *p, struct ch_err *e)
{
	PGresult *res = run(d, what, sql, n, p, e);

	PQclear(res);
	return res ? 0 : -1;
}

int
ch_fleetdb_open(const char *url, long timeout_s, struct ch_fleetdb **out,
    struct ch_err *e)
{
	const char *kw[] = { "dbname", "connect_timeout", "application_name",
	    "tcp_user_timeout", NULL };
	char ct[24], tut[24], setup[96], *err = NULL;
	const char *val[] = { url, ct, "churn-fleet", tut, NULL };
	const char *host = NULL, *port = NULL, *db = NULL;
	PQconninfoOption *o, *opts;
	struct ch_fleetdb *d;

	*out = NULL;
	if (!(opts = PQconninfoParse(url, &err))) {
		PQfreemem(err);     /* it may quote the password */
		return ch_errf(e, "bad database URL: not a libpq connection "
		    "string or postgresql:// URL");
	}
	for (o = opts; o->keyword; o++)
		if (o->val && !strcmp(o->keyword, "host"))
			host = o->val;
		else if (o->val && !strcmp(o->keyword, "port"))
			port = o->val;
		else if (o->val && !strcmp(o->keyword, "dbname"))
			db = o->val;
	d = ch_calloc(1, sizeof *d);
	snprintf(d->where, sizeof d->where, "%s:%s/%s", host ? host :
	    "localhost", port ? port : "5432", db ? db : "postgres");
	PQconninfoFree(opts);
	snprintf(ct, sizeof ct, "%ld", timeout_s > 0 ? timeout_s : 10);
	snprintf(tut, sizeof tut, "%ld", timeout_s * 1000);
	if (timeout_s <= 0)
		kw[3] = NULL;
	d->pg = PQconnectdbParams(kw, val, 1);
	if (!d->pg || PQstatus(d->pg) != CONNECTION_OK) {
		char l[512];

		if (!d->pg)
			snprintf(l, sizeof l, "out of memory");
		else
			line(d, NULL, l, sizeof l);
		ch_errf(e, "cannot connect to database %s: %s", d->where, l);
		ch_fleetdb_close(d);
		return -1;
	}
	PQsetNoticeProcessor(d->pg, quiet, NULL);
	snprintf(setup, sizeof setup, "SET statement_timeout = %ld",
	    timeout_s > 0 ? timeout_s * 1000 : 0);
	if (run0(d, "setup", setup, 0, NULL, e) < 0) {
		ch_fleetdb_close(d);
		return -1;
	}
	*out = d;
	return 0;
}

void
ch_fleetdb_close(struct ch_fleetdb *d)
{
	if (!d)
		return;
	PQfinish(d->pg);
	free(d);
}

/* --- webhook deliveries ------------------------------------------------ */

/* Two replicas creating the table at once would collide in the catalog:
 * the DDL runs under a transaction lock. */
static int
hook_table(struct ch_fleetdb *d, struct ch_err *e)
{
	if (d->have_table)
		return 0;
	if (run0(d, "create churn_hook_deliveries", "BEGIN;"
	    " SELECT pg_advisory_xact_lock(730211443, 2);"
	    " CREATE TABLE IF NOT EXISTS churn_hook_deliveries ("
	    "  key text PRIMARY KEY,"
	    "  seen timestamptz NOT NULL DEFAULT now());"
	    " COMMIT", 0, NULL, e) < 0) {
		PQclear(PQexec(d->pg, "ROLLBACK"));
		return -1;
	}
	d->have_table = 1;
	return 0;
}

int
ch_fleetdb_claim(struct ch_fleetdb *d, const char *const keys[],
    long keep_s, struct ch_err *e)
{
	char keep[24];
	const char *p[1];
	PGresult *res;
	int k, fresh = 1;

	if (hook_table(d, e) < 0)
		return -1;
	snprintf(keep, sizeof keep, "%ld", keep_s);
	p[0] = keep;
	if (run0(d, "begin", "BEGIN", 0, NULL, e) < 0 ||
	    run0(d, "forget old deliveries", "DELETE FROM churn_hook_deliveries"
	    " WHERE seen < now() - make_interval(secs => $1::bigint)", 1, p,
	    e) < 0)
		goto fail;
	/* a key another session inserts at the same time waits for its
	 * commit, then conflicts: one of them inserts all of its keys */
	for (k = 0; keys[k] && fresh; k++) {
		p[0] = keys[k];
		if (!(res = run(d, "record delivery", "INSERT INTO"
		    " churn_hook_deliveries (key) VALUES ($1)"
		    " ON CONFLICT (key) DO NOTHING", 1, p, e)))
			goto fail;
		fresh = !strcmp(PQcmdTuples(res), "1");
		PQclear(res);
	}
	if (run0(d, fresh ? "commit" : "rollback", fresh ? "COMMIT" :
	    "ROLLBACK", 0, NULL, e) < 0)
		return -1;
	return fresh;
fail:
	PQclear(PQexec(d->pg, "ROLLBACK"));
	return -1;
}

/* --- the pipeline lock --------------------------------------------------- */

int
ch_fleetdb_trylock(struct ch_fleetdb *d, struct ch_err *e)
{
	PGresult *res = run(d, "pipeline lock", "SELECT"
	    " pg_try_advisory_lock(730211443, 1)", 0, NULL, e);
	int got;

	if (!res)
		return -1;
	got = !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	return got;
}

int
ch_fleetdb_unlock(struct ch_fleetdb *d, struct ch_err *e)
{
	return run0(d, "pipeline unlock", "SELECT"
	    " pg_advisory_unlock(730211443, 1)", 0, NULL, e);
}

/* --- change notices -------------------------------------------------------- */

int
ch_fleetdb_listen(struct ch_fleetdb *d, struct ch_err *e)
{
	return run0(d, "listen", "LISTEN " CH_FLEET_CHANNEL, 0, NULL, e);
}

int
ch_fleetdb_ping(struct ch_fleetdb *d, struct ch_err *e)
{
	return run0(d, "check", "SELECT 1", 0, NULL, e);
}

int
ch_fleetdb_wait(struct ch_fleetdb *d, double timeout, char *payload,
    size_t n, struct ch_err *e)
{
	struct pollfd pfd;
	PGnotify *nt;
	int got = 0, rc;

	/* notices that came with an earlier answer are queued already */
	if (!(nt = PQnotifies(d->pg))) {
		if ((pfd.fd = PQsocket(d->pg)) < 0)
			return fail(d, "wait for notices", NULL, e);
		pfd.events = POLLIN;
		pfd.revents = 0;
		rc = poll(&pfd, 1, (int)(timeout * 1000));
		if (rc < 0 && errno != EINTR)
			return ch_errf(e, "database %s: wait for notices: %s",
			    d->where, strerror(errno));
		if (rc <= 0)
			return 0;
		if (!PQconsumeInput(d->pg) || PQstatus(d->pg) != CONNECTION_OK)
			return fail(d, "connection lost", NULL, e);
		nt = PQnotifies(d->pg);
	}
	for (; nt; nt = PQnotifies(d->pg)) {
		if (payload && n)
			snprintf(payload, n, "%s", nt->extra);
		PQfreemem(nt);
		got++;
	}
	return got;
}
