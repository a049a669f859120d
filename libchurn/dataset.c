/* dataset.c - a training set from labelled customers (dataset.h) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "csv.h"
#include "dataset.h"
#include "outcomes.h"
#include "perf.h"
#include "predlog.h"

/* A CSV field, quoted only when it must be (RFC 4180). */
static void
put_field(struct ch_buf *b, const char *s, size_t n)
{
	size_t i;

	if (n == 0 || (!memchr(s, '"', n) && !memchr(s, ',', n) &&
	    !memchr(s, '\n', n) && !memchr(s, '\r', n))) {
		ch_buf_add(b, s, n);
		return;
	}
	ch_buf_add(b, "\"", 1);
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			ch_buf_add(b, "\"", 1);
		ch_buf_add(b, s + i, 1);
	}
	ch_buf_add(b, "\"", 1);
}

/* A feature's value as it was received: a string as is, a number as
 * JSON writes it, null or absent as an empty (missing) field. */
static void
put_value(struct ch_buf *b, const json_t *v)
{
	char num[40];

	if (json_is_string(v))
		put_field(b, json_string_value(v), json_string_length(v));
	else if (json_is_integer(v))
		ch_buf_printf(b, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v)) {
		snprintf(num, sizeof num, "%.17g", json_real_value(v));
		ch_buf_adds(b, num);
	} else if (json_is_boolean(v))
		ch_buf_adds(b, json_is_true(v) ? "true" : "false");
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* newest outcome first; ties by id for a stable order */
static int
cmp_newest(const void *a, const void *b)
{
	const struct ch_perf_row *x = a, *y = b;

	if (x->outcome_time != y->outcome_time)
		return x->outcome_time < y->outcome_time ? 1 : -1;
	return strcmp(x->id, y->id);
}

/* The header: the with file's (its records copied into out), else id,
 * the features' names sorted, target.  cols gets the names (malloc'd). */
static int
header(const struct ch_dataset_opts *o, const struct ch_perf_row *rows,
    size_t n, struct ch_buf *out, char ***cols, size_t *ncols,
    struct ch_dataset_stats *st, struct ch_err *e)
{
	struct ch_strmap *seen;
	struct ch_record rec;
	struct ch_csv *csv;
	const char *k;
	json_t *v;
	size_t i, j, nh;
	char **c;
	FILE *fp;
	int got, rv = -1, has_target = 0;

	if (!o->with) {
		seen = ch_strmap_new();
		for (i = 0; i < n; i++)
			json_object_foreach(rows[i].pred->features, k, v)
				ch_strmap_put(seen, k, strlen(k), NULL);
		*ncols = ch_strmap_count(seen) + 2;
		c = ch_calloc(*ncols, sizeof *c);
		for (i = 0; i + 2 < *ncols; i++) {
			size_t kl;

			k = ch_strmap_key(seen, i, &kl);
			c[i + 1] = ch_strndup(k, kl);
		}
		qsort(c + 1, *ncols - 2, sizeof *c, cmp_name);
		c[0] = ch_strdup(o->id);
		c[*ncols - 1] = ch_strdup(o->target);
		ch_strmap_free(seen);
		for (i = 0; i < *ncols; i++) {
			if (i)
				ch_buf_add(out, ",", 1);
			put_field(out, c[i], strlen(c[i]));
		}
		ch_buf_add(out, "\n", 1);
		*cols = c;
		return 0;
	}
	if (!(fp = fopen(o->with, "rb")))
		return ch_errf(e, "open %s: %s", o->with, strerror(errno));
	if (!(csv = ch_csv_open(fp, o->with, e))) {
		fclose(fp);
		return -1;
	}
	if (ch_csv_header(csv, &rec, e) != 0)
		goto out;
	nh = rec.n;
	c = ch_calloc(nh, sizeof *c);
	for (i = 0; i < nh; i++) {
		c[i] = ch_strndup(rec.field[i], rec.len[i]);
		has_target |= strcmp(c[i], o->target) == 0;
	}
	*cols = c;
	*ncols = nh;
	if (!has_target) {
		ch_errf(e, "%s:1: no target column '%s'", o->with, o->target);
		goto out;
	}
	for (i = 0; i < nh; i++) {
		if (i)
			ch_buf_add(out, ",", 1);
		put_field(out, c[i], strlen(c[i]));
	}
	ch_buf_add(out, "\n", 1);
	while ((got = ch_csv_next(csv, &rec, e)) > 0) {
		if (rec.n != nh) {
			ch_errf(e, "%s:%ld: %zu fields, the header has %zu",
			    o->with, rec.line, rec.n, nh);
			goto out;
		}
		for (j = 0; j < nh; j++) {
			if (j)
				ch_buf_add(out, ",", 1);
			put_field(out, rec.field[j], rec.len[j]);
		}
		ch_buf_add(out, "\n", 1);
		st->with_rows++;
	}
	if (got == 0)
		rv = 0;
out:
	ch_csv_close(csv);
	fclose(fp);
	return rv;
}

int
ch_dataset_build(struct ch_registry *r, const struct ch_dataset_opts *o,
    struct ch_buf *out, struct ch_dataset_stats *st, struct ch_err *e)
{
	long horizon = o->horizon_days > 0 ? o->horizon_days :
	    CH_PERF_HORIZON_DAYS;
	struct ch_outcome *oc = NULL;
	struct ch_pred *p = NULL;
	struct ch_perf_row *rows = NULL;
	size_t no = 0, np = 0, n = 0, i, j, keep, ncols = 0;
	time_t newest = 0, oldest = 0, cut;
	char **cols = NULL;
	int rv = -1;

	memset(st, 0, sizeof *st);
	if (ch_outcomes_read(r, &oc, &no, e) < 0) {
		oc = NULL, no = 0;
		goto out;
	}
	st->outcomes = no;
	for (i = 0; i < no; i++)
		if (i == 0 || oc[i].time > newest)
			newest = oc[i].time;
	/* the last `days` days only: older outcomes are not joined */
	cut = o->days > 0 ? newest - (time_t)o->days * 86400 : 0;
	for (i = j = 0; i < no; i++) {
		if (o->days > 0 && oc[i].time < cut) {
			free(oc[i].id);
			continue;
		}
		if (j == 0 || oc[i].time < oldest)
			oldest = oc[i].time;
		oc[j++] = oc[i];
	}
	no = j;
	if (no && ch_predlog_read(r, oldest - (time_t)horizon * 86400,
	    newest + 1, 1, &p, &np, e) < 0) {
		p = NULL, np = 0;
		goto out;
	}
	n = ch_perf_join(oc, no, p, np, horizon, &rows);
	st->joined = n;
	qsort(rows, n, sizeof *rows, cmp_newest);
	keep = o->rows > 0 && o->rows < n ? o->rows : n;
	if (header(o, rows, keep, out, &cols, &ncols, st, e) != 0)
		goto out;
	/* oldest first: the order the customers were labelled */
	for (i = keep; i-- > 0; ) {
		const struct ch_perf_row *x = &rows[i];

		for (j = 0; j < ncols; j++) {
			if (j)
				ch_buf_add(out, ",", 1);
			if (strcmp(cols[j], o->target) == 0)
				ch_buf_adds(out, x->y ? o->positive : o->negative);
			else if (strcmp(cols[j], o->id) == 0)
				put_field(out, x->id, strlen(x->id));
			else
				put_value(out, json_object_get(x->pred->features,
				    cols[j]));
		}
		ch_buf_add(out, "\n", 1);
		st->positives += x->y != 0;
		if (st->from == 0 || x->outcome_time < st->from)
			st->from = x->outcome_time;
		if (x->outcome_time > st->to)
			st->to = x->outcome_time;
	}
	st->labelled = keep;
	st->rows = st->with_rows + keep;
	ch_sha256_hex(out->s ? out->s : "", out->len, st->sha256);
	rv = 0;
out:
	for (i = 0; cols && i < ncols; i++)
		free(cols[i]);
	free(cols);
	free(rows);
	ch_pred_free(p, np);
	ch_outcomes_free(oc, no);
	return rv;
}

void
ch_dataset_key(const char *sha256, char out[80])
{
	snprintf(out, 80, "datasets/%s.csv", sha256);
}
