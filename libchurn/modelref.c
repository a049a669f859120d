/* modelref.c - what a -m argument names: a file or a registry name */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "modelref.h"

int
ch_modelref_is_file(const char *ref)
{
	struct stat st;

	return strcmp(ref, "-") == 0 || strchr(ref, '/') != NULL ||
	    stat(ref, &st) == 0;
}

int
ch_modelref_load(const char *ref, const struct ch_registry_opts *o,
    struct ch_model **m, struct ch_version_ref *v, struct ch_err *e)
{
	struct ch_registry *r;
	struct ch_version_ref got;
	struct ch_err re;
	unsigned char *buf;
	size_t len;
	int rc;

	memset(&got, 0, sizeof got);
	if (v)
		*v = got;
	if (ch_modelref_is_file(ref))
		return ch_model_load(ref, m, e);
	if (ch_registry_open(o, &r, &re) != 0)
		return ch_errf(e, "open %s: %s, and %s", ref, strerror(ENOENT),
		    re.msg);
	rc = ch_registry_pull(r, ref, &buf, &len, &got, &re);
	ch_registry_close(r);
	if (rc != 0)
		return ch_errf(e, "open %s: %s, and %s", ref, strerror(ENOENT),
		    re.msg);
	rc = ch_model_decode(buf, len, got.version, m, e);
	free(buf);
	if (rc == 0 && v)
		*v = got;
	return rc;
}
