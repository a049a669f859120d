/*
 * pg.h - libchurn's PostgreSQL connection: connecting with timeouts, the
 * schema migrations of every churn table, statements with one reconnection
 * when idle, transactions, one-line messages.  Calls libpq and util only;
 * used by libchurn files (registry_pg.c, livewin.c), never by cmd/.
 */
#ifndef CHURN_PG_H
#define CHURN_PG_H

#include <libpq-fe.h>

#include "util.h"

struct ch_pg;

/*
 * Connects to url (a libpq conninfo string or postgresql:// URL) and brings
 * the schema up to date (table churn_schema_version; concurrent first runs
 * are serialised).  timeout_s > 0 bounds connecting (connect_timeout),
 * each statement (statement_timeout) and unacknowledged data
 * (tcp_user_timeout); 0 is 10 s to connect and the URL's own settings
 * otherwise.  Returns 0, or -1 with e filled (naming host:port/dbname,
 * never the password) and *out NULL.
 */
int ch_pg_open(const char *url, long timeout_s, struct ch_pg **out,
    struct ch_err *e);
void ch_pg_close(struct ch_pg *db);

/* "host:port/dbname", for messages. */
const char *ch_pg_where(const struct ch_pg *db);

/* The libpq connection, for what the helpers below do not cover (binary
 * parameters); still owned by db. */
PGconn *ch_pg_conn(struct ch_pg *db);

/* Fills e with "database <where>: <what>: <libpq's message on one line>"
 * (res's message, else the connection's); returns -1. */
int ch_pg_errf(struct ch_pg *db, const char *what, PGresult *res,
    struct ch_err *e);

/*
 * Runs sql with n text parameters (n 0: no parameters); returns the result
 * (the caller clears it) or NULL with e filled ("database <where>: <what>:
 * ...").  A connection lost while idle (the server restarted, an idle
 * timeout) is re-established once, outside transactions only, with the
 * session settings again.
 *
 *   PGresult *res = ch_pg_exec(db, "resolve", "SELECT 1", 0, NULL, &e);
 */
PGresult *ch_pg_exec(struct ch_pg *db, const char *what, const char *sql,
    int n, const char *const *params, struct ch_err *e);

/* ch_pg_exec for a statement whose result is not needed: 0 or -1. */
int ch_pg_do(struct ch_pg *db, const char *what, const char *sql, int n,
    const char *const *params, struct ch_err *e);

/* BEGIN / COMMIT (0 or -1 with e); ROLLBACK, which cannot fail usefully. */
int ch_pg_begin(struct ch_pg *db, struct ch_err *e);
int ch_pg_commit(struct ch_pg *db, struct ch_err *e);
void ch_pg_rollback(struct ch_pg *db);

#endif
