/* fuzz_csv.c - libFuzzer target: the CSV reader and a training-data load
 * on arbitrary bytes must fail cleanly or succeed, never crash; the reader
 * gives the same records and errors as libcsv alone */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "frame.h"

volatile size_t sink;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ch_err e, e2;
	struct ch_csv *r, *r2;
	struct ch_record rec, rec2;
	struct ch_frame *f;
	struct ch_frame_opts o = { .target = "y", .max_bins = 8 };
	FILE *fp, *fp2;
	size_t i;
	int rc, rc2;

	if (size == 0)
		return 0;
	fp = fmemopen((void *)data, size, "r");
	fp2 = fmemopen((void *)data, size, "r");
	r = ch_csv_open(fp, "fuzz", &e);
	r2 = ch_csv_open(fp2, "fuzz", &e2);
	ch_csv_libcsv_only(r2);
	/* the fast path for unquoted lines gives what libcsv gives */
	do {
		rc = ch_csv_next(r, &rec, &e);
		rc2 = ch_csv_next(r2, &rec2, &e2);
		if (rc != rc2 || (rc < 0 && strcmp(e.msg, e2.msg) != 0))
			abort();
		if (rc > 0 && (rec.n != rec2.n || rec.line != rec2.line))
			abort();
		for (i = 0; rc > 0 && i < rec.n; i++) {
			if (rec.len[i] != rec2.len[i] || memcmp(rec.field[i],
			    rec2.field[i], rec.len[i] + 1) != 0)
				abort();
			sink += rec.len[i] + (unsigned char)rec.field[i][0];
		}
	} while (rc > 0);
	ch_csv_close(r);
	ch_csv_close(r2);
	fclose(fp2);
	rewind(fp);
	if (ch_frame_load(fp, "fuzz", &o, &f, &e) == 0) {
		sink += f->n;
		ch_frame_free(f);
	}
	fclose(fp);
	return 0;
}
