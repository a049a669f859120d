/*
 * registry_impl.h - inside the registry: the handle, and the backend
 * interface registry.c calls (redis rio.h style), implemented by
 * registry_index.c (registry/index.json under the store's lock) and
 * registry_pg.c (PostgreSQL, through pg.h).  Backends may call the store,
 * pg.h and the shared helpers below (defined in registry.c); only
 * registry*.c include this file.
 */
#ifndef CHURN_REGISTRY_IMPL_H
#define CHURN_REGISTRY_IMPL_H

#include "pg.h"
#include "registry.h"

struct ch_registry_backend;

struct ch_registry {
	struct ch_store *store;
	const struct ch_registry_backend *be;
	void *impl;        /* the backend's own: a struct ch_pg, or the index
	                      held between claim and commit/abort */
	char dbwhere[512]; /* "host:port/dbname" or "index in <store>" */
};

/* One name a push tries, with the bytes and the manifest that go with it. */
struct ch_reg_cand {
	char v[64];
	const unsigned char *buf;
	size_t len;
	unsigned char *own;	/* restamped bytes (buf), or NULL */
	char sha[65];
	json_t *m;		/* the manifest as stored */
};

/* What claim found (see the push protocol in registry.c). */
enum { CH_REG_CLAIMED, CH_REG_SAME, CH_REG_TAKEN };

/*
 * A backend.  Names are checked before any call.  Every function returns
 * 0 (or a result) on success and -1 (or NULL) with e filled; a failed call
 * leaves nothing held.
 *
 * A push is claim, then publish when needed, then commit or abort:
 * - claim takes the backend's lock on c->v and says whether the version is
 *   free (CH_REG_CLAIMED: nothing registered yet, the claim is ours),
 *   registered to the same bytes (CH_REG_SAME) or to others
 *   (CH_REG_TAKEN: their sha256 in have); on -1 nothing is held;
 * - publish puts c's artifact and manifest at models/<version>, read back
 *   and verified (ch_reg_upload);
 * - commit registers c (claimed) and points alias (may be NULL) at it in
 *   the same change, releases the claim, leaves in c->m the manifest as
 *   registered and in *aliases (a new array) the aliases naming c->v;
 *   abort releases the claim with nothing changed.
 */
struct ch_registry_backend {
	int (*open)(struct ch_registry *r, const struct ch_registry_opts *o,
	    struct ch_err *e);
	void (*close)(struct ch_registry *r);
	struct ch_pg *(*database)(struct ch_registry *r); /* NULL: none */

	int (*claim)(struct ch_registry *r, const struct ch_reg_cand *c,
	    char have[65], struct ch_err *e);
	int (*publish)(struct ch_registry *r, const struct ch_reg_cand *c,
	    struct ch_err *e);
	int (*commit)(struct ch_registry *r, struct ch_reg_cand *c,
	    const char *alias, int claimed, json_t **aliases, struct ch_err *e);
	void (*abort)(struct ch_registry *r);
	/* what dead pushes left, appended to removed (ch_reg_gc_*) */
	int (*gc)(struct ch_registry *r, json_t *removed, struct ch_err *e);

	int (*resolve)(struct ch_registry *r, const char *name,
	    struct ch_version_ref *ref, struct ch_err *e);
	json_t *(*list)(struct ch_registry *r, struct ch_err *e);
	/* the manifest of ref's version with "registered" and "aliases" */
	json_t *(*show)(struct ch_registry *r, const struct ch_version_ref *ref,
	    struct ch_err *e);
	json_t *(*history)(struct ch_registry *r, const char *alias,
	    struct ch_err *e);
	int (*alias_set)(struct ch_registry *r, const char *alias,
	    const char *name, struct ch_err *e);
	int (*rollback)(struct ch_registry *r, const char *alias,
	    struct ch_version_ref *ref, struct ch_err *e);
	int (*record_drift)(struct ch_registry *r, json_t *report,
	    struct ch_err *e);
	json_t *(*drift_reports)(struct ch_registry *r, size_t limit,
	    struct ch_err *e);
	/* the current rollout (none: ro->id 0, the rest left as given) */
	int (*rollout_get)(struct ch_registry *r, struct ch_rollout *ro,
	    struct ch_err *e);
	/* under the backend's lock: the current rollout, ch_reg_rollout_next,
	 * the event stored and made current */
	int (*rollout_set)(struct ch_registry *r, struct ch_rollout *ro,
	    struct ch_err *e);
	/* every rollout event oldest first, as history entries */
	json_t *(*rollouts)(struct ch_registry *r, struct ch_err *e);
};

extern const struct ch_registry_backend ch_registry_index_backend;
extern const struct ch_registry_backend ch_registry_pg_backend;

/* ---- shared by the backends (registry.c) ---- */

/* The id the new rollout ro takes, given the current one cur (id 0: none)
 * and a fresh id (registry.h says when the id is kept). */
long long ch_reg_rollout_next(const struct ch_rollout *cur,
    const struct ch_rollout *ro, long long fresh);
/* A rollout event as a history entry, a new reference. */
json_t *ch_reg_rollout_event(const struct ch_rollout *ro);

int ch_reg_valid_version(const char *v);
void ch_reg_now(char out[21]);                       /* ISO-8601, UTC */
void ch_reg_ref(struct ch_version_ref *ref, const char *v, const char *sha,
    long long size);                                 /* ref may be NULL */

/* "no version or alias 'name' in the registry (<where>)"; -1 */
int ch_reg_no_name(struct ch_registry *r, const char *name, struct ch_err *e);

/* Uploads c's artifact and manifest below dir ("models/<version>" or a
 * temporary directory) and checks the artifact read back. */
int ch_reg_upload(struct ch_registry *r, const char *dir,
    const struct ch_reg_cand *c, struct ch_err *e);

/* gc: removes key (and all below it), recorded in removed (may be NULL);
 * removes ch_write_atomic's leftovers ("<name>.tmp.<pid>") directly below
 * dir whose names start with first. */
int ch_reg_gc_remove(struct ch_registry *r, const char *key, json_t *removed,
    struct ch_err *e);
int ch_reg_gc_tmp_files(struct ch_registry *r, const char *dir,
    const char *first, json_t *removed, struct ch_err *e);

/*
 * Rollback: an alias's history replayed as a stack of versions ("set"
 * pushes, "rollback" pops), and the version a rollback goes to (into to),
 * or -1 with "alias ... has no earlier version" (cur: what it names now).
 */
struct ch_reg_vstack {
	char (*v)[64];
	size_t n, cap;
};
void ch_reg_vs_event(struct ch_reg_vstack *s, const char *action,
    const char *v);
int ch_reg_vs_target(const struct ch_reg_vstack *s, const char *alias,
    const char *cur, char to[64], struct ch_err *e);

#endif
