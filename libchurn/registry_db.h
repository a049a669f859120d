/* registry_db.h - the registry's database connection, for the libchurn
 * files that keep their own tables in it (outcomes.c, predlog.c).  Calls
 * the registry's backend (registry_impl.h) and libpq. */
#ifndef CHURN_REGISTRY_DB_H
#define CHURN_REGISTRY_DB_H

#include <libpq-fe.h>

#include "registry.h"

/* The connection, or NULL when the registry keeps its index in the store.
 * Owned by r; the tables are created by the registry's migrations. */
PGconn *ch_registry_pg(struct ch_registry *r);

/* Runs sql with text parameters through the registry's connection (one
 * reconnection when it was lost while idle); returns the result (caller
 * clears) or NULL with e naming the database and what was being done. */
PGresult *ch_registry_pg_exec(struct ch_registry *r, const char *what,
    const char *sql, int n, const char *const *params, struct ch_err *e);

#endif
