/*
 * livewin.c - the live-traffic window in PostgreSQL (livewin.h): table
 * churn_window, created by pg.c's migration 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "livewin.h"

/* One line of the window into its columns: time, version and probability
 * come out of the object, the rest is the row. */
#define WINDOW_COLUMNS \
	"coalesce((j->>'time')::timestamptz, now()), j->>'model_version'," \
	" (j->>'churn_probability')::float8," \
	" j - '{churn_probability,model_version,time}'::text[]"

/*
 * Inserts the lines one by one under a savepoint each, skipping those the
 * database refuses; used only after the batch insert failed on its data.
 */
static int
rows_one_by_one(struct ch_pg *db, const char *lines, size_t len,
    long *refused, struct ch_err *e)
{
	const Oid types[] = {25};
	const int fmts[] = {1};
	const char *p = lines, *end = lines + len, *nl;

	while (p < end) {
		const char *v[1] = {p};
		int n[1];
		PGresult *res;

		nl = memchr(p, '\n', (size_t)(end - p));
		n[0] = (int)((nl ? nl : end) - p);
		if (n[0] > 0) {
			if (ch_pg_do(db, "window savepoint", "SAVEPOINT w", 0, NULL, e) < 0)
				return -1;
			res = PQexecParams(ch_pg_conn(db), "INSERT INTO churn_window (created,"
			    " model_version, probability, row) SELECT " WINDOW_COLUMNS
			    " FROM (SELECT $1::text::jsonb AS j) s", 1, types, v, n,
			    fmts, 0);
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				PQclear(res);
				if (PQstatus(ch_pg_conn(db)) != CONNECTION_OK)
					return ch_pg_errf(db, "append to the window", NULL, e);
				if (ch_pg_do(db, "window savepoint", "ROLLBACK TO SAVEPOINT w",
				    0, NULL, e) < 0)
					return -1;
				(*refused)++;
			} else
				PQclear(res);
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int
ch_livewin_append(struct ch_pg *db, const char *lines,
    size_t len, long keep, long *refused, struct ch_err *e)
{
	const Oid types[] = {25};
	const int fmts[] = {1};
	const char *v[1] = {lines};
	int n[1] = {(int)len};
	long bad = 0;
	PGresult *res;

	if (refused)
		*refused = 0;
	if (len > 1u << 30)
		return ch_errf(e, "live-traffic window: %zu bytes are too many for "
		    "one append", len);
	if (ch_pg_begin(db, e) < 0)
		return -1;
	if (len > 0) {
		/* the lines go as one parameter (binary text: no copy, no
		 * NUL needed) and are split by the server, in order */
		if (ch_pg_do(db, "window savepoint", "SAVEPOINT batch", 0, NULL, e) < 0)
			goto fail;
		res = PQexecParams(ch_pg_conn(db), "INSERT INTO churn_window (created,"
		    " model_version, probability, row) SELECT " WINDOW_COLUMNS
		    " FROM (SELECT l::jsonb AS j, k FROM unnest(string_to_array($1,"
		    " E'\\n')) WITH ORDINALITY AS u(l, k) WHERE l <> '') s ORDER BY k",
		    1, types, v, n, fmts, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			PQclear(res);
			if (PQstatus(ch_pg_conn(db)) != CONNECTION_OK) {
				ch_pg_errf(db, "append to the window", NULL, e);
				goto fail;
			}
			/* a line the database refuses must not hold back
			 * the others */
			if (ch_pg_do(db, "window savepoint", "ROLLBACK TO SAVEPOINT batch",
			    0, NULL, e) < 0 ||
			    rows_one_by_one(db, lines, len, &bad, e) < 0)
				goto fail;
		} else
			PQclear(res);
	}
	if (keep > 0) {
		char k[32];
		const char *p[1] = {k};

		snprintf(k, sizeof k, "%ld", keep);
		if (ch_pg_do(db, "trim the window", "DELETE FROM churn_window WHERE id <="
		    " (SELECT id FROM churn_window ORDER BY id DESC OFFSET $1::bigint"
		    " LIMIT 1)", 1, p, e) < 0)
			goto fail;
	}
	if (ch_pg_commit(db, e) < 0)
		return -1;
	if (refused)
		*refused = bad;
	return 0;
fail:
	ch_pg_rollback(db);
	return -1;
}

char *
ch_livewin_page(struct ch_pg *db, long keep, long after, long max,
    long *last, size_t *len, long *rows, struct ch_err *e)
{
	char k[32], a[32], m[32], *buf;
	const char *p[3] = {k, a, m};
	PGresult *res;
	size_t n = 0, cap = 1;
	int i;

	*len = 0;
	if (rows)
		*rows = 0;
	if (last)
		*last = after;
	if (keep <= 0 || max <= 0)
		return ch_errf(e, "live-traffic window: limit %ld is not positive",
		    keep <= 0 ? keep : max), NULL;
	snprintf(k, sizeof k, "%ld", keep);
	snprintf(a, sizeof a, "%ld", after);
	snprintf(m, sizeof m, "%ld", max);
	if (!(res = ch_pg_exec(db, "read the window", "SELECT id, (row ||"
	    " jsonb_build_object('churn_probability', probability,"
	    " 'model_version', model_version, 'time', to_char(created AT TIME"
	    " ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')))::text FROM"
	    " (SELECT * FROM churn_window ORDER BY id DESC LIMIT $1::bigint) t"
	    " WHERE id > $2::bigint ORDER BY id LIMIT $3::bigint", 3, p, e)))
		return NULL;
	for (i = 0; i < PQntuples(res); i++)
		cap += (size_t)PQgetlength(res, i, 1) + 1;
	buf = ch_malloc(cap);
	for (i = 0; i < PQntuples(res); i++) {
		size_t l = (size_t)PQgetlength(res, i, 1);

		memcpy(buf + n, PQgetvalue(res, i, 1), l);
		n += l;
		buf[n++] = '\n';
		if (last)
			*last = strtol(PQgetvalue(res, i, 0), NULL, 10);
	}
	buf[n] = '\0';
	*len = n;
	if (rows)
		*rows = PQntuples(res);
	PQclear(res);
	return buf;
}

char *
ch_livewin_read(struct ch_pg *db, long limit, size_t *len,
    long *rows, struct ch_err *e)
{
	return ch_livewin_page(db, limit, 0, limit, NULL, len, rows, e);
}
