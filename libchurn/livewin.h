/*
 * livewin.h - churn-serve's live-traffic window in PostgreSQL (table
 * churn_window: id, created, model_version, probability, row jsonb - the
 * customer's fields as received).  Calls pg.h only; the registry passes
 * its connection on (ch_registry_window_append, registry.h).
 */
#ifndef CHURN_LIVEWIN_H
#define CHURN_LIVEWIN_H

#include <stddef.h>

#include "pg.h"

/*
 * ch_livewin_append takes lines[0..len) as JSON lines, one scored row a
 * line, in the form churn-serve's window files hold and `churn-drift
 * --json-in` reads: the customer's fields plus "churn_probability",
 * "model_version" and "time" (ISO-8601, the row's created; now when
 * absent).  Empty lines are skipped; lines need no terminating NUL.  In
 * one transaction it inserts them in order and, when keep > 0, deletes all
 * but the newest keep rows, so that the table stays bounded.  A line the
 * database refuses (not a JSON object) is skipped and counted in *refused
 * (may be NULL), the others are kept.  Returns 0, or -1 with e filled and
 * nothing stored (the database is down: the caller may retry with the same
 * lines).
 *
 * ch_livewin_read returns the newest limit rows, oldest first, as malloc'd
 * JSON lines of that same form (NUL-terminated, *len bytes without it;
 * *rows, when rows is not NULL, receives their number), or NULL with e.
 *
 *   ch_livewin_append(db, "{\"tenure\":5,\"churn_probability\":0.3,"
 *       "\"model_version\":\"v1\"}\n", n, 20000, NULL, &e);
 */
int ch_livewin_append(struct ch_pg *db, const char *lines, size_t len,
    long keep, long *refused, struct ch_err *e);
char *ch_livewin_read(struct ch_pg *db, long limit, size_t *len, long *rows,
    struct ch_err *e);
/*
 * ch_livewin_page reads the same newest keep rows a page at a time: those
 * with an id above after (0 at first), oldest first, at most max of them,
 * in the form ch_livewin_read gives; *last (may be NULL) receives the id
 * to pass as after for the next page (*rows < max: there is none).
 */
char *ch_livewin_page(struct ch_pg *db, long keep, long after, long max,
    long *last, size_t *len, long *rows, struct ch_err *e);

#endif
