/* fuzz_json.c - libFuzzer target: a prediction request (a JSON object of
 * features, as churn-serve and churn-predict --json-in receive) encoded
 * against a small schema */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "schema.h"

volatile unsigned sink;    /* unsigned: it wraps, never overflows */

static struct ch_schema *schema;

static void
setup(void)
{
	static const char text[] = "n,c,y\n1,a,1\n2,b,0\n3,a,0\n4,,1\n";
	struct ch_frame_opts o = { .target = "y" };
	struct ch_frame *f;
	struct ch_err e;
	FILE *fp = fmemopen((void *)text, sizeof text - 1, "r");

	if (ch_frame_load(fp, "s", &o, &f, &e) != 0)
		abort();
	fclose(fp);
	schema = f->schema;
	f->schema = NULL;
	ch_frame_free(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *j;
	struct ch_err e;
	uint8_t codes[2];
	int bad;

	if (!schema)
		setup();
	j = json_loadb((const char *)data, size, 0, &je);
	if (!j)
		return 0;
	if (ch_encode_json(schema, j, codes, NULL, NULL, &bad, &e) == 0)
		sink += (unsigned)codes[0] + codes[1];
	else
		sink += (unsigned)bad + (unsigned)strlen(e.msg);
	json_decref(j);
	return 0;
}
