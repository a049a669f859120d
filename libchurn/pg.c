/*
 * pg.c - libchurn's PostgreSQL connection (pg.h): connecting, the schema
 * migrations of every churn table (registry and live window alike: one
 * database, one numbering), statements and transactions.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

struct ch_pg {
	PGconn *conn;
	int in_tx;         /* inside BEGIN ... COMMIT/ROLLBACK */
	char where[512];   /* host:port/dbname */
	char setup[128];   /* session settings, again after a reconnection */
};

static void
quiet_notices(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* One line out of a libpq message: newlines and tabs become spaces, runs
 * of blanks collapse, trailing blanks go. */
static void
one_line(const char *in, char *out, size_t n)
{
	size_t j = 0;
	int blank = 0;

	for (; in && *in && j + 1 < n; in++) {
		if (isspace((unsigned char)*in)) {
			blank = 1;
			continue;
		}
		if (blank && j > 0 && j + 2 < n)
			out[j++] = ' ';
		blank = 0;
		out[j++] = *in;
	}
	out[j] = '\0';
}

int
ch_pg_errf(struct ch_pg *db, const char *what, PGresult *res, struct ch_err *e)
{
	char line[768];

	one_line(res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn), line,
	    sizeof line);
	if (!*line)
		one_line(PQerrorMessage(db->conn), line, sizeof line);
	return ch_errf(e, "database %s: %s: %s", db->where, what, line);
}

/* A connection lost while idle is re-established once (pg.h), so a
 * long-running churn-serve survives a database restart. */
PGresult *
ch_pg_exec(struct ch_pg *db, const char *what, const char *sql, int n,
    const char *const *params, struct ch_err *e)
{
	int retry = !db->in_tx;
	PGresult *res;
	ExecStatusType st;

	for (;;) {
		res = n ? PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0) :
		    PQexec(db->conn, sql);
		st = PQresultStatus(res);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
			return res;
		if (!retry || PQstatus(db->conn) != CONNECTION_BAD)
			break;
		retry = 0;
		PQreset(db->conn);
		if (PQstatus(db->conn) != CONNECTION_OK)
			break;
		PQclear(res);
		PQclear(PQexec(db->conn, db->setup));
	}
	ch_pg_errf(db, what, res, e);
	PQclear(res);
	return NULL;
}

int
ch_pg_do(struct ch_pg *db, const char *what, const char *sql, int n,
    const char *const *params, struct ch_err *e)
{
	PGresult *res = ch_pg_exec(db, what, sql, n, params, e);

	PQclear(res);
	return res ? 0 : -1;
}

int
ch_pg_begin(struct ch_pg *db, struct ch_err *e)
{
	if (ch_pg_do(db, "begin", "BEGIN", 0, NULL, e) < 0)
		return -1;
	db->in_tx = 1;
	return 0;
}

int
ch_pg_commit(struct ch_pg *db, struct ch_err *e)
{
	int rc = ch_pg_do(db, "commit", "COMMIT", 0, NULL, e);

	db->in_tx = 0;
	return rc;
}

void
ch_pg_rollback(struct ch_pg *db)
{
	PQclear(PQexec(db->conn, "ROLLBACK"));
	db->in_tx = 0;
}

/* Schema migrations, applied in order; churn_schema_version records the
 * highest one applied.  Append only: never edit a released migration.
 * Every libchurn file's tables are here, so that one numbering serves. */
static const char *const migrations[] = {
	/* 1: versions, aliases, append-only alias history, drift reports */
	"CREATE TABLE churn_model_versions ("
	"  seq bigserial UNIQUE,"
	"  version text PRIMARY KEY CHECK (version ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),"
	"  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),"
	"  size bigint NOT NULL CHECK (size >= 0),"
	"  created timestamptz NOT NULL,"
	"  registered timestamptz NOT NULL DEFAULT now(),"
	"  manifest json NOT NULL);"
	"CREATE TABLE churn_aliases ("
	"  alias text PRIMARY KEY,"
	"  version text NOT NULL REFERENCES churn_model_versions(version),"
	"  updated timestamptz NOT NULL DEFAULT now());"
	"CREATE TABLE churn_alias_history ("
	"  id bigserial PRIMARY KEY,"
	"  alias text NOT NULL,"
	"  version text NOT NULL REFERENCES churn_model_versions(version),"
	"  previous text REFERENCES churn_model_versions(version),"
	"  action text NOT NULL CHECK (action IN ('set', 'rollback')),"
	"  time timestamptz NOT NULL DEFAULT now());"
	"CREATE INDEX churn_alias_history_alias ON churn_alias_history (alias, id);"
	"CREATE FUNCTION churn_alias_history_append_only() RETURNS trigger"
	"  LANGUAGE plpgsql AS $$ BEGIN"
	"  RAISE EXCEPTION 'churn_alias_history is append-only'; END $$;"
	"CREATE TRIGGER churn_alias_history_no_update BEFORE UPDATE OR DELETE"
	"  ON churn_alias_history FOR EACH ROW"
	"  EXECUTE FUNCTION churn_alias_history_append_only();"
	"CREATE TRIGGER churn_alias_history_no_truncate BEFORE TRUNCATE"
	"  ON churn_alias_history FOR EACH STATEMENT"
	"  EXECUTE FUNCTION churn_alias_history_append_only();"
	"CREATE TABLE churn_drift_reports ("
	"  id bigserial PRIMARY KEY,"
	"  model_version text,"
	"  time timestamptz NOT NULL DEFAULT now(),"
	"  drift boolean,"
	"  report json NOT NULL);",
	/* 2: churn-serve's live-traffic window, livewin.c (IF NOT EXISTS: a
	 * table made by hand before the step is kept) */
	"CREATE TABLE IF NOT EXISTS churn_window ("
	"  id bigserial PRIMARY KEY,"
	"  created timestamptz NOT NULL DEFAULT now(),"
	"  model_version text,"
	"  probability double precision,"
	"  row jsonb NOT NULL);",
	/* 3: customer outcomes (outcomes.c), one per customer and time */
	"CREATE TABLE churn_outcomes ("
	"  customer_id text NOT NULL CHECK (length(customer_id) BETWEEN 1 AND 256),"
	"  time timestamptz NOT NULL,"
	"  outcome boolean NOT NULL,"
	"  recorded timestamptz NOT NULL DEFAULT now(),"
	"  PRIMARY KEY (customer_id, time));",
	/* 4: the prediction log (predlog.c), append-only, pruned by age */
	"CREATE TABLE churn_predictions ("
	"  id bigserial PRIMARY KEY,"
	"  customer_id text NOT NULL,"
	"  time timestamptz NOT NULL,"
	"  model_version text NOT NULL,"
	"  probability double precision NOT NULL,"
	"  features jsonb NOT NULL);"
	"CREATE INDEX churn_predictions_customer ON churn_predictions (customer_id, time);"
	"CREATE INDEX churn_predictions_time ON churn_predictions (time);",
	/* 5: the rollout, registry_pg.c: append-only events, the newest is
	 * the current one; id is the event, rollout the hash seed */
	"CREATE TABLE churn_rollouts ("
	"  id bigserial PRIMARY KEY,"
	"  rollout bigint NOT NULL,"
	"  champion text NOT NULL,"
	"  challenger text NOT NULL,"
	"  challenger_version text,"
	"  mode text NOT NULL CHECK (mode IN ('off', 'canary', 'shadow')),"
	"  share double precision NOT NULL CHECK (share >= 0 AND share <= 100),"
	"  actor text NOT NULL DEFAULT '',"
	"  reason text NOT NULL DEFAULT '',"
	"  time timestamptz NOT NULL DEFAULT now());"
	"CREATE TRIGGER churn_rollouts_no_update BEFORE UPDATE OR DELETE"
	"  ON churn_rollouts FOR EACH ROW"
	"  EXECUTE FUNCTION churn_alias_history_append_only();"
	"CREATE TRIGGER churn_rollouts_no_truncate BEFORE TRUNCATE"
	"  ON churn_rollouts FOR EACH STATEMENT"
	"  EXECUTE FUNCTION churn_alias_history_append_only();",
	/* 6: the prediction log keeps a shadow challenger's score beside the
	 * champion's (NULL outside shadow mode and in older rows) */
	"ALTER TABLE churn_predictions"
	"  ADD COLUMN shadow_version text,"
	"  ADD COLUMN shadow_probability double precision;",
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

static int
migrate(struct ch_pg *db, struct ch_err *e)
{
	PGresult *res;
	char num[16];
	const char *p[1];
	int cur, i;

	if (ch_pg_begin(db, e) < 0)
		return -1;
	/* serialise concurrent first runs; the key is arbitrary but fixed */
	if (ch_pg_do(db, "migrate", "SELECT pg_advisory_xact_lock(7302114431)", 0, NULL, e) < 0 ||
	    ch_pg_do(db, "migrate", "CREATE TABLE IF NOT EXISTS churn_schema_version ("
	    " version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())",
	    0, NULL, e) < 0)
		goto fail;
	if (!(res = ch_pg_exec(db, "migrate", "SELECT coalesce(max(version), 0)"
	    " FROM churn_schema_version", 0, NULL, e)))
		goto fail;
	cur = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (cur > NMIGRATIONS) {
		ch_errf(e, "database %s: schema version %d is newer than this "
		    "program knows (%d); upgrade churn", db->where, cur, NMIGRATIONS);
		goto fail;
	}
	for (i = cur; i < NMIGRATIONS; i++) {
		snprintf(num, sizeof num, "%d", i + 1);
		p[0] = num;
		if (ch_pg_do(db, "migrate", migrations[i], 0, NULL, e) < 0 ||
		    ch_pg_do(db, "migrate", "INSERT INTO churn_schema_version (version)"
		    " VALUES ($1::integer)", 1, p, e) < 0)
			goto fail;
	}
	return ch_pg_commit(db, e);
fail:
	ch_pg_rollback(db);
	return -1;
}

/* "host:port/dbname" from a conninfo string or URL, without the password;
 * -1 when it does not parse. */
static int
pg_where(const char *url, char *out, size_t n)
{
	PQconninfoOption *opts, *o;
	const char *host = NULL, *port = NULL, *db = NULL, *user = NULL;
	char *err = NULL;

	if (!(opts = PQconninfoParse(url, &err))) {
		PQfreemem(err);
		snprintf(out, n, "(bad database URL)");
		return -1;
	}
	for (o = opts; o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0 && !host)
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
		else if (strcmp(o->keyword, "user") == 0)
			user = o->val;
	}
	snprintf(out, n, "%s:%s/%s", host ? host : "localhost", port ? port : "5432",
	    db ? db : user ? user : "postgres");
	PQconninfoFree(opts);
	return 0;
}

static int
connect_db(struct ch_pg *db, const char *url, long timeout_s,
    struct ch_err *e)
{
	/* a server that accepts and never answers holds a call no longer
	 * than connect_timeout (the whole start-up), statement_timeout and
	 * tcp_user_timeout (unacknowledged data) */
	const char *kw[] = {"dbname", "connect_timeout", "application_name",
	    "tcp_user_timeout", NULL};
	char ct[24], tut[24], line[768];
	const char *val[] = {url, ct, "churn", tut, NULL};

	snprintf(ct, sizeof ct, "%ld", timeout_s > 0 ? timeout_s : 10);
	snprintf(tut, sizeof tut, "%ld", timeout_s * 1000);
	if (timeout_s <= 0)     /* the URL's, or the system's */
		kw[3] = NULL;
	snprintf(db->setup, sizeof db->setup, "SET client_min_messages = warning");
	if (timeout_s > 0)      /* else whatever the URL's options say */
		snprintf(db->setup, sizeof db->setup, "SET client_min_messages = "
		    "warning; SET statement_timeout = %ld", timeout_s * 1000);
	/* libpq's parse errors may quote the string, password and all */
	if (pg_where(url, db->where, sizeof db->where) < 0)
		return ch_errf(e, "bad database URL: not a libpq connection string "
		    "or postgresql:// URL");
	db->conn = PQconnectdbParams(kw, val, 1);
	if (!db->conn)
		return ch_errf(e, "database %s: out of memory", db->where);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		one_line(PQerrorMessage(db->conn), line, sizeof line);
		return ch_errf(e, "cannot connect to database %s: %s", db->where, line);
	}
	PQsetNoticeProcessor(db->conn, quiet_notices, NULL);
	return ch_pg_do(db, "setup", db->setup, 0, NULL, e);
}

int
ch_pg_open(const char *url, long timeout_s, struct ch_pg **out,
    struct ch_err *e)
{
	struct ch_pg *db = ch_calloc(1, sizeof *db);

	*out = NULL;
	if (connect_db(db, url, timeout_s, e) < 0 || migrate(db, e) < 0) {
		ch_pg_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

void
ch_pg_close(struct ch_pg *db)
{
	if (!db)
		return;
	if (db->conn)
		PQfinish(db->conn);
	free(db);
}

const char *
ch_pg_where(const struct ch_pg *db)
{
	return db->where;
}

PGconn *
ch_pg_conn(struct ch_pg *db)
{
	return db->conn;
}

