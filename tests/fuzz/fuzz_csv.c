/* fuzz_csv.c - libFuzzer target: the CSV reader and a training-data load
 * on arbitrary bytes must fail cleanly or succeed, never crash */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "csv.h"
#include "frame.h"

volatile size_t sink;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ch_err e;
	struct ch_csv *r;
	struct ch_record rec;
	struct ch_frame *f;
	struct ch_frame_opts o = { .target = "y", .max_bins = 8 };
	FILE *fp;
	size_t i;

	if (size == 0)
		return 0;
	fp = fmemopen((void *)data, size, "r");
	r = ch_csv_open(fp, "fuzz", &e);
	while (ch_csv_next(r, &rec, &e) > 0)
		for (i = 0; i < rec.n; i++)
			sink += rec.len[i] + (unsigned char)rec.field[i][0];
	ch_csv_close(r);
	rewind(fp);
	if (ch_frame_load(fp, "fuzz", &o, &f, &e) == 0) {
		sink += f->n;
		ch_frame_free(f);
	}
	fclose(fp);
	return 0;
}
