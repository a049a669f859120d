/* fuzz_jsonflat.c - libFuzzer target: the fast reader of a flat request
 * object (ch_json_flat) reads what json_loadb reads, or leaves it */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonflat.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *a = ch_json_flat((const char *)data, size), *b;
	char *da, *db;

	if (!a)
		return 0;
	/* taken: jansson takes it too, as the same object in the same order */
	if (!(b = json_loadb((const char *)data, size, 0, &je)) ||
	    !json_equal(a, b))
		abort();
	da = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	db = json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (!da || !db || strcmp(da, db) != 0)
		abort();
	free(da);
	free(db);
	json_decref(a);
	json_decref(b);
	return 0;
}
