/* fleet.h - what the churn-serve replicas of a fleet share through
 * PostgreSQL: the webhook deliveries seen, the one pipeline run at a time,
 * and the notices of registry changes (NOTIFY churn_registry).  Calls
 * libpq and util only; knows nothing of HTTP. */
#ifndef CHURN_FLEET_H
#define CHURN_FLEET_H

#include <stddef.h>

#include "util.h"

/* The channel registry changes are announced on, in the transaction of
 * the change (registry_pg.c); the payload is "alias NAME VERSION",
 * "rollback NAME VERSION", "version VERSION" or "rollout ID MODE". */
#define CH_FLEET_CHANNEL "churn_registry"

/*
 * One connection to the database (libpq conninfo or postgresql:// URL),
 * bounded like the registry's: timeout_s to connect and for each
 * statement (0: 10 s to connect, statements unbounded).  Not safe for
 * concurrent use.  After a -1 from any call the connection may be gone:
 * close it and open another.  Messages name host:port/dbname, never a
 * password.
 */
struct ch_fleetdb;
int ch_fleetdb_open(const char *url, long timeout_s, struct ch_fleetdb **out,
    struct ch_err *e);
void ch_fleetdb_close(struct ch_fleetdb *d);

/*
 * Webhook deliveries (table churn_hook_deliveries, created when missing):
 * keys (NULL-terminated) are recorded in one transaction unless one of
 * them was recorded in the last keep_s seconds.  Returns 1 when none was
 * (all are recorded now), 0 when one was (nothing is recorded), -1 with e.
 * Replicas claiming the same key at once: exactly one gets 1.
 */
int ch_fleetdb_claim(struct ch_fleetdb *d, const char *const keys[],
    long keep_s, struct ch_err *e);

/*
 * The fleet's pipeline lock, a session advisory lock: 1 when this
 * connection holds it now, 0 when another session does, -1 with e.  It
 * is held until ch_fleetdb_unlock or until the connection ends.
 */
int ch_fleetdb_trylock(struct ch_fleetdb *d, struct ch_err *e);
int ch_fleetdb_unlock(struct ch_fleetdb *d, struct ch_err *e);

/* LISTEN on CH_FLEET_CHANNEL: 0, or -1 with e. */
int ch_fleetdb_listen(struct ch_fleetdb *d, struct ch_err *e);
/*
 * Waits up to timeout seconds for notices on a listening connection.
 * Returns how many arrived (0: none), the last payload in payload[n] (may
 * be NULL), or -1 with e when the connection is lost (the server
 * restarted, or did not answer a check within the timeout).
 */
int ch_fleetdb_wait(struct ch_fleetdb *d, double timeout, char *payload,
    size_t n, struct ch_err *e);
/* A round trip (SELECT 1): 0, or -1 with e when the server does not
 * answer (a connection that only listens never notices a dead peer). */
int ch_fleetdb_ping(struct ch_fleetdb *d, struct ch_err *e);

#endif
