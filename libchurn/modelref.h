/* modelref.h - what a -m argument names: a model file, stdin, or an alias
 * or a version in the registry; the one resolution every program uses.
 * Calls model and registry (and through it, the store). */
#ifndef CHURN_MODELREF_H
#define CHURN_MODELREF_H

#include "model.h"
#include "registry.h"
#include "util.h"

/*
 * A file when ref is "-" (stdin), names a path that exists, or holds a
 * '/' ("./m.churn", "models/x.churn"); otherwise a registry name (an
 * alias such as "champion", or a version such as "v20260101-120000").
 */
int ch_modelref_is_file(const char *ref);

/*
 * Loads the model ref names.  A file is read as it is; a registry name is
 * resolved and pulled, verified, through the registry o describes (fill
 * it with ch_registry_opts_fill first: the same default store for every
 * program).  v (may be NULL) receives what a name resolved to (version
 * "" for a file).  Returns 0 or -1 with e filled; a name found in neither
 * place says both: "open champion: No such file or directory, and no
 * version or alias 'champion' in the registry (...)".
 */
int ch_modelref_load(const char *ref, const struct ch_registry_opts *o,
    struct ch_model **m, struct ch_version_ref *v, struct ch_err *e);

#endif
