/* predlog.c - the prediction log (predlog.h) */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csv.h"
#include "model.h"
#include "predlog.h"
#include "registry_db.h"
#include "schema.h"
#include "store.h"

#define SEG_PREFIX "predictions/"
#define RECORD_BATCH 10000

/* ---- times ---- */

static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
ch_time_parse(const char *s, size_t len, time_t *t)
{
	struct tm tm = {0};
	int y, mo, d, h = 0, mi = 0, se = 0;
	size_t i = 10;

	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (len < 10 || digits(s, 4, &y) < 0 || s[4] != '-' ||
	    digits(s + 5, 2, &mo) < 0 || s[7] != '-' || digits(s + 8, 2, &d) < 0)
		return -1;
	if (len > 10) {
		if ((s[10] != 'T' && s[10] != ' ') || len < 19 ||
		    digits(s + 11, 2, &h) < 0 || s[13] != ':' ||
		    digits(s + 14, 2, &mi) < 0 || s[16] != ':' ||
		    digits(s + 17, 2, &se) < 0)
			return -1;
		i = 19;
		if (i < len && s[i] == '.')
			for (i++; i < len && isdigit((unsigned char)s[i]); i++)
				;
		if (i < len && s[i] == 'Z')
			i++;
		else if (len - i == 6 && memcmp(s + i, "+00:00", 6) == 0)
			i += 6;
		if (i != len)
			return -1;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*t = timegm(&tm);
	/* timegm normalises 31 February into March: refuse it */
	{
		struct tm back;
		gmtime_r(t, &back);
		if (back.tm_mday != d)
			return -1;
	}
	return 0;
}

/* ---- rows ---- */

void
ch_pred_free(struct ch_pred *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].id);
		free(rows[i].version);
		free(rows[i].shadow_version);
		json_decref(rows[i].features);
	}
	free(rows);
}

static json_t *
row_json(const struct ch_pred *p)
{
	char t[21];
	json_t *o;

	ch_iso8601(p->time, t);
	o = json_pack("{s:s, s:s, s:s, s:f, s:O}", "id", p->id, "time", t,
	    "model_version", p->version, "probability", p->p, "features",
	    p->features ? p->features : json_object());
	if (p->shadow_version) {
		json_object_set_new(o, "shadow_version",
		    json_string(p->shadow_version));
		json_object_set_new(o, "shadow_probability", isfinite(p->shadow_p) ?
		    json_real(p->shadow_p) : json_null());
	}
	return o;
}

static int
cmp_pred(const void *a, const void *b)
{
	const struct ch_pred *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c)
		return c;
	return x->time < y->time ? -1 : x->time > y->time;
}

struct predvec {
	struct ch_pred *v;
	size_t n, cap;
};

static struct ch_pred *
predvec_add(struct predvec *pv)
{
	if (pv->n == pv->cap) {
		pv->cap = pv->cap ? 2 * pv->cap : 1024;
		pv->v = ch_reallocarray(pv->v, pv->cap, sizeof *pv->v);
	}
	memset(&pv->v[pv->n], 0, sizeof pv->v[0]);
	return &pv->v[pv->n++];
}

/* ---- append ---- */

/* text: a JSON array of rows in the segments' form */
static int
pg_insert(struct ch_registry *r, const char *text, struct ch_err *e)
{
	PGresult *res;
	const char *p[1] = { text };

	res = ch_registry_pg_exec(r, "append to the prediction log",
	    "INSERT INTO churn_predictions (customer_id, time, model_version,"
	    " probability, features, shadow_version, shadow_probability)"
	    " SELECT x->>'id', (x->>'time')::timestamptz,"
	    " x->>'model_version', (x->>'probability')::float8, x->'features',"
	    " x->>'shadow_version', (x->>'shadow_probability')::float8"
	    " FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS u(x, k)"
	    " ORDER BY k", 1, p, e);
	PQclear(res);
	return res ? 0 : -1;
}

static int
pg_append(struct ch_registry *r, const struct ch_pred *rows, size_t n,
    struct ch_err *e)
{
	json_t *a = json_array();
	char *text;
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		json_array_append_new(a, row_json(&rows[i]));
	text = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(a);
	rc = pg_insert(r, text, e);
	free(text);
	return rc;
}

static void
day_of(time_t t, char out[11])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/*
 * A new segment's name: its UTC second and 16 hex digits no other
 * segment of any writer has: a 64-bit counter, started at random in each
 * process (getentropy), through a bijection (ch_mix64) so that names of
 * one process differ by every bit.  Naming by the content's hash cost a
 * pass over every byte; readers take any name ending in .jsonl.
 */
static void
segment_key(const char *day, char *key, size_t size)
{
	static _Atomic uint64_t next;
	static _Atomic pid_t seeded_by;
	char stamp[17];
	time_t now = time(NULL);
	struct tm tm;
	uint64_t seed;
	pid_t pid = getpid();

	/* once a process (a forked child draws its own) */
	if (atomic_load(&seeded_by) != pid) {
		if (getentropy(&seed, sizeof seed) != 0)
			seed = ch_mix64((uint64_t)pid << 32 ^ (uint64_t)now ^
			    (uint64_t)(ch_seconds() * 1e9));
		atomic_store(&next, seed);
		atomic_store(&seeded_by, pid);
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(key, size, SEG_PREFIX "%s/%s-%016llx.jsonl", day, stamp,
	    (unsigned long long)ch_mix64(atomic_fetch_add(&next, 1)));
}

/* Writes buf[0..len) as a new segment of day. */
static int
put_segment(struct ch_store *st, const char *day, const char *buf,
    size_t len, struct ch_err *e)
{
	char key[128];

	segment_key(day, key, sizeof key);
	return ch_store_put(st, key, buf, len, e);
}

static int
store_append(struct ch_registry *r, const struct ch_pred *rows, size_t n,
    struct ch_err *e)
{
	struct ch_store *st = ch_registry_store(r);
	unsigned char *done = ch_calloc(n ? n : 1, 1);
	char day[11], d2[11];
	size_t i, j;
	int rc = 0;

	for (i = 0; rc == 0 && i < n; i++) {
		char *buf = NULL;
		size_t len = 0, cap = 0;

		if (done[i])
			continue;
		day_of(rows[i].time, day);
		for (j = i; j < n; j++) {
			char *line;
			size_t l;

			if (done[j])
				continue;
			day_of(rows[j].time, d2);
			if (strcmp(day, d2) != 0)
				continue;
			{
				json_t *o = row_json(&rows[j]);
				line = json_dumps(o, JSON_COMPACT |
				    JSON_REAL_PRECISION(17));
				json_decref(o);
			}
			l = strlen(line);
			if (len + l + 2 > cap) {
				cap = (len + l + 2) * 2;
				buf = ch_realloc(buf, cap);
			}
			memcpy(buf + len, line, l);
			len += l;
			buf[len++] = '\n';
			free(line);
			done[j] = 1;
		}
		rc = put_segment(st, day, buf, len, e);
		free(buf);
	}
	free(done);
	return rc;
}

int
ch_predlog_append(struct ch_registry *r, const struct ch_pred *rows,
    size_t n, struct ch_err *e)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!rows[i].id || !*rows[i].id || !rows[i].version)
			return ch_errf(e, "prediction log: row %zu has no customer "
			    "id or no model version", i + 1);
	if (n == 0)
		return 0;
	return ch_registry_pg(r) ? pg_append(r, rows, n, e) :
	    store_append(r, rows, n, e);
}

int
ch_predlog_append_jsonl(struct ch_registry *r, const char *lines, size_t len,
    time_t day, struct ch_err *e)
{
	char d[11], *buf;
	size_t i, all = len;
	int rc;

	while (len && lines[len - 1] == '\n')
		len--;
	if (len == 0)
		return 0;
	if (ch_registry_pg(r)) {
		/* the lines, comma-separated, are the array the INSERT takes */
		buf = ch_malloc(len + 3);
		buf[0] = '[';
		for (i = 0; i < len; i++)
			buf[i + 1] = lines[i] == '\n' ? ',' : lines[i];
		buf[len + 1] = ']';
		buf[len + 2] = '\0';
		rc = pg_insert(r, buf, e);
		free(buf);
		return rc;
	}
	day_of(day, d);
	if (len < all)          /* ends with a newline: as it is */
		return put_segment(ch_registry_store(r), d, lines, len + 1, e);
	buf = ch_malloc(len + 1);
	memcpy(buf, lines, len);
	buf[len] = '\n';
	rc = put_segment(ch_registry_store(r), d, buf, len + 1, e);
	free(buf);
	return rc;
}

/* ---- read ---- */

/* One JSON line of a segment into a row; -1 when it is not one. */
static int
parse_row(const char *line, size_t len, int with_features, struct ch_pred *p)
{
	json_error_t je;
	json_t *o = json_loadb(line, len, 0, &je);
	json_t *id, *t, *v, *pr, *sv, *sp;
	int rc = -1;

	if (!o)
		return -1;
	id = json_object_get(o, "id");
	t = json_object_get(o, "time");
	v = json_object_get(o, "model_version");
	pr = json_object_get(o, "probability");
	if (json_is_string(id) && json_is_string(t) && json_is_string(v) &&
	    json_is_number(pr) && ch_time_parse(json_string_value(t),
	    json_string_length(t), &p->time) == 0) {
		p->id = ch_strdup(json_string_value(id));
		p->version = ch_strdup(json_string_value(v));
		p->p = json_number_value(pr);
		if (with_features)
			p->features = json_incref(json_object_get(o, "features"));
		/* optional: absent in rows from before shadow mode */
		sv = json_object_get(o, "shadow_version");
		sp = json_object_get(o, "shadow_probability");
		p->shadow_version = json_is_string(sv) ?
		    ch_strdup(json_string_value(sv)) : NULL;
		p->shadow_p = p->shadow_version && json_is_number(sp) ?
		    json_number_value(sp) : NAN;
		rc = 0;
	}
	json_decref(o);
	return rc;
}

static int
read_segment(struct ch_store *st, const char *key, time_t from, time_t to,
    int with_features, struct predvec *pv, struct ch_err *e)
{
	unsigned char *buf;
	size_t len, ln = 0;
	char *p, *end, *nl;
	int rc = ch_store_get(st, key, &buf, &len, e);

	if (rc != 0)
		return rc == 1 ? 0 : -1;   /* 1: pruned meanwhile */
	for (p = (char *)buf, end = p + len; p < end; p = nl + 1) {
		struct ch_pred x = {0};

		if (!(nl = memchr(p, '\n', (size_t)(end - p))))
			nl = end;
		ln++;
		if (nl == p)
			continue;
		if (parse_row(p, (size_t)(nl - p), with_features, &x) < 0) {
			rc = ch_errf(e, "prediction log %s: %s:%zu: not a "
			    "prediction row", ch_store_where(st), key, ln);
			break;
		}
		if (x.time < from || (to && x.time >= to)) {
			free(x.id);
			free(x.version);
			free(x.shadow_version);
			json_decref(x.features);
			continue;
		}
		*predvec_add(pv) = x;
	}
	free(buf);
	return rc;
}

/* A day folder's name: YYYY-MM-DD. */
static int
is_day(const char *s)
{
	time_t t;

	return strlen(s) == 10 && ch_time_parse(s, 10, &t) == 0;
}

static int
is_segment(const char *s)
{
	size_t n = strlen(s);

	return n > 6 && s[0] != '.' && strcmp(s + n - 6, ".jsonl") == 0;
}

static int
store_read(struct ch_registry *r, time_t from, time_t to, int with_features,
    struct predvec *pv, struct ch_err *e)
{
	struct ch_store *st = ch_registry_store(r);
	char **days, **segs, dfrom[11], dto[11], key[128];
	size_t i, j;
	int rc = 0;

	if (!(days = ch_store_list(st, "predictions", e)))
		return -1;
	day_of(from, dfrom);
	if (to)
		day_of(to, dto);
	for (i = 0; rc == 0 && days[i]; i++) {
		if (!is_day(days[i]) || strcmp(days[i], dfrom) < 0 ||
		    (to && strcmp(days[i], dto) > 0))
			continue;
		snprintf(key, sizeof key, SEG_PREFIX "%s", days[i]);
		if (!(segs = ch_store_list(st, key, e))) {
			rc = -1;
			break;
		}
		for (j = 0; rc == 0 && segs[j]; j++) {
			if (!is_segment(segs[j]) || strlen(segs[j]) > 80)
				continue;
			snprintf(key, sizeof key, SEG_PREFIX "%s/%s", days[i],
			    segs[j]);
			rc = read_segment(st, key, from, to, with_features, pv, e);
		}
		ch_strv_free(segs);
	}
	ch_strv_free(days);
	return rc;
}

static int
pg_read(struct ch_registry *r, time_t from, time_t to, int with_features,
    struct predvec *pv, struct ch_err *e)
{
	char f[32], t[32];
	const char *p[2] = {f, t};
	PGresult *res;
	int i;

	snprintf(f, sizeof f, "%lld", (long long)from);
	snprintf(t, sizeof t, "%lld", (long long)to);
	res = ch_registry_pg_exec(r, "read the prediction log", with_features ?
	    "SELECT customer_id, extract(epoch FROM time)::bigint, model_version,"
	    " probability, shadow_version, shadow_probability, features::text"
	    " FROM churn_predictions"
	    " WHERE time >= to_timestamp($1::bigint) AND ($2::bigint = 0 OR"
	    " time < to_timestamp($2::bigint))" :
	    "SELECT customer_id, extract(epoch FROM time)::bigint, model_version,"
	    " probability, shadow_version, shadow_probability"
	    " FROM churn_predictions"
	    " WHERE time >= to_timestamp($1::bigint) AND ($2::bigint = 0 OR"
	    " time < to_timestamp($2::bigint))", 2, p, e);
	if (!res)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		struct ch_pred *x = predvec_add(pv);
		json_error_t je;

		x->id = ch_strdup(PQgetvalue(res, i, 0));
		x->time = (time_t)strtoll(PQgetvalue(res, i, 1), NULL, 10);
		x->version = ch_strdup(PQgetvalue(res, i, 2));
		x->p = strtod(PQgetvalue(res, i, 3), NULL);
		x->shadow_version = PQgetisnull(res, i, 4) ? NULL :
		    ch_strdup(PQgetvalue(res, i, 4));
		x->shadow_p = x->shadow_version && !PQgetisnull(res, i, 5) ?
		    strtod(PQgetvalue(res, i, 5), NULL) : NAN;
		if (with_features)
			x->features = json_loads(PQgetvalue(res, i, 6), 0, &je);
	}
	PQclear(res);
	return 0;
}

int
ch_predlog_read(struct ch_registry *r, time_t from, time_t to,
    int with_features, struct ch_pred **rows, size_t *n, struct ch_err *e)
{
	struct predvec pv = {0};
	int rc = ch_registry_pg(r) ? pg_read(r, from, to, with_features, &pv, e) :
	    store_read(r, from, to, with_features, &pv, e);

	if (rc < 0) {
		ch_pred_free(pv.v, pv.n);
		*rows = NULL;
		*n = 0;
		return -1;
	}
	if (pv.n)
		qsort(pv.v, pv.n, sizeof *pv.v, cmp_pred);
	*rows = pv.v;
	*n = pv.n;
	return 0;
}

/* ---- scored? ---- */

int
ch_predlog_scored(struct ch_registry *r, char *const *ids, size_t n,
    unsigned char *found, struct ch_err *e)
{
	size_t i;

	memset(found, 0, n);
	if (n == 0)
		return 0;
	if (ch_registry_pg(r)) {
		json_t *a = json_array();
		const char *p[1];
		PGresult *res;
		char *text;
		int k;

		for (i = 0; i < n; i++)
			json_array_append_new(a, json_string(ids[i]));
		text = json_dumps(a, JSON_COMPACT);
		json_decref(a);
		p[0] = text;
		res = ch_registry_pg_exec(r, "read the prediction log",
		    "SELECT u.k FROM jsonb_array_elements_text($1::text::jsonb)"
		    " WITH ORDINALITY AS u(id, k) WHERE EXISTS (SELECT 1 FROM"
		    " churn_predictions p WHERE p.customer_id = u.id)", 1, p, e);
		free(text);
		if (!res)
			return -1;
		for (k = 0; k < PQntuples(res); k++) {
			long j = strtol(PQgetvalue(res, k, 0), NULL, 10);
			if (j >= 1 && (size_t)j <= n)
				found[j - 1] = 1;
		}
		PQclear(res);
		return 0;
	} else {
		struct ch_pred *rows;
		struct ch_strmap *m;
		size_t nr;

		if (ch_predlog_read(r, 0, 0, 0, &rows, &nr, e) < 0)
			return -1;
		m = ch_strmap_new();
		for (i = 0; i < nr; i++)
			ch_strmap_put(m, rows[i].id, strlen(rows[i].id), NULL);
		for (i = 0; i < n; i++)
			found[i] = ch_strmap_get(m, ids[i], strlen(ids[i])) >= 0;
		ch_strmap_free(m);
		ch_pred_free(rows, nr);
		return 0;
	}
}

/* ---- retention ---- */

int
ch_predlog_prune(struct ch_registry *r, long days, time_t now,
    size_t *removed, struct ch_err *e)
{
	time_t cut = now - (time_t)days * 86400;
	size_t gone = 0, i;
	char dcut[11];
	int rc = 0;

	if (removed)
		*removed = 0;
	if (days <= 0)
		return 0;
	if (ch_registry_pg(r)) {
		char c[32];
		const char *p[1] = {c};
		PGresult *res;

		snprintf(c, sizeof c, "%lld", (long long)cut);
		res = ch_registry_pg_exec(r, "prune the prediction log",
		    "DELETE FROM churn_predictions WHERE time <"
		    " to_timestamp($1::bigint)", 1, p, e);
		if (!res)
			return -1;
		gone = (size_t)strtoul(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	} else {
		struct ch_store *st = ch_registry_store(r);
		char **days, key[128];
		unsigned long long bytes;

		if (!(days = ch_store_list(st, "predictions", e)))
			return -1;
		day_of(cut, dcut);
		/* a day's segments go once the whole day is past the cut */
		for (i = 0; rc == 0 && days[i]; i++) {
			if (!is_day(days[i]) || strcmp(days[i], dcut) >= 0)
				continue;
			snprintf(key, sizeof key, SEG_PREFIX "%s", days[i]);
			rc = ch_store_remove_all(st, key, &bytes, e);
			gone += rc == 0;
		}
		ch_strv_free(days);
	}
	if (removed)
		*removed = gone;
	return rc;
}

/* ---- recording a scored file ---- */

struct recorder {
	struct ch_registry *r;
	const struct ch_model *m;
	time_t now;
	int skip_bad;
	uint8_t *codes;
	struct ch_pred *rows;
	double *p;
	size_t n, total;
};

static int
rec_flush(struct recorder *rc, struct ch_err *e)
{
	size_t i;
	int ret;

	if (rc->n == 0)
		return 0;
	ch_model_predict_batch(rc->m, rc->codes, rc->n, rc->p, ch_ncpus());
	for (i = 0; i < rc->n; i++)
		rc->rows[i].p = rc->p[i];
	ret = ch_predlog_append(rc->r, rc->rows, rc->n, e);
	for (i = 0; i < rc->n; i++) {
		free(rc->rows[i].id);
		json_decref(rc->rows[i].features);
	}
	rc->total += rc->n;
	rc->n = 0;
	return ret;
}

static struct ch_pred *
rec_slot(struct recorder *rc)
{
	struct ch_pred *x = &rc->rows[rc->n];

	memset(x, 0, sizeof *x);
	x->time = rc->now;
	x->version = (char *)rc->m->version;
	return x;
}

static int
record_csv(struct recorder *rc, FILE *fp, const char *name, struct ch_err *e)
{
	const struct ch_schema *s = rc->m->schema;
	struct ch_csv *csv = ch_csv_open(fp, name, e);
	struct ch_record rec;
	struct ch_cols cols = {0};
	size_t nhdr = 0, k;
	char **hdr = NULL;
	int rv = -1, got, f;

	if (!csv)
		goto out;
	if ((got = ch_csv_next(csv, &rec, e)) <= 0) {
		if (got == 0)
			ch_errf(e, "%s: no header", name);
		goto out;
	}
	nhdr = rec.n;
	hdr = ch_calloc(nhdr, sizeof *hdr);
	for (k = 0; k < nhdr; k++)
		hdr[k] = ch_strndup(rec.field[k], rec.len[k]);
	if (ch_schema_map_header(s, hdr, nhdr, &cols, name, e) != 0)
		goto out;
	if (cols.id < 0) {
		ch_errf(e, "%s: no id column%s%s%s: recorded predictions are "
		    "joined with outcomes by customer id", name, s->id ? " '" : "",
		    s->id ? s->id : "", s->id ? "'" : "");
		goto out;
	}
	while ((got = ch_csv_next(csv, &rec, e)) > 0) {
		struct ch_pred *x;
		uint8_t *c = rc->codes + rc->n * (size_t)s->nfeat;

		if (ch_encode_record(s, &cols, &rec, name, c, NULL, NULL, NULL,
		    e) < 0 || rec.len[cols.id] == 0) {
			if (rc->skip_bad)
				continue;
			if (rec.n == nhdr && rec.len[cols.id] == 0)
				ch_errf(e, "%s:%ld: column '%s': empty id", name,
				    rec.line, hdr[cols.id]);
			goto out;
		}
		x = rec_slot(rc);
		x->id = ch_strndup(rec.field[cols.id], rec.len[cols.id]);
		x->features = json_object();
		for (f = 0; f < s->nfeat; f++)
			json_object_set_new(x->features, s->f[f].name,
			    json_stringn_nocheck(rec.field[cols.col[f]],
			    rec.len[cols.col[f]]));
		if (++rc->n == RECORD_BATCH && rec_flush(rc, e) < 0)
			goto out;
	}
	if (got == 0)
		rv = rec_flush(rc, e);
out:
	for (k = 0; hdr && k < nhdr; k++)
		free(hdr[k]);
	free(hdr);
	ch_cols_free(&cols);
	if (csv)
		ch_csv_close(csv);
	return rv;
}

static int
record_json(struct recorder *rc, FILE *fp, const char *name, struct ch_err *e)
{
	const struct ch_schema *s = rc->m->schema;
	const char *idname = s->id ? s->id : "id";
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long ln = 0;
	int rv = 0, f;

	while (rv == 0 && (len = getline(&line, &cap, fp)) > 0) {
		json_error_t je;
		json_t *o, *id;
		struct ch_pred *x;
		struct ch_err ee;

		ln++;
		if (strspn(line, " \t\r\n") == (size_t)len)
			continue;
		if (!(o = json_loadb(line, (size_t)len, 0, &je))) {
			if (rc->skip_bad)
				continue;
			rv = ch_errf(e, "%s:%ld: %s", name, ln, je.text);
			break;
		}
		id = json_object_get(o, idname);
		if (ch_encode_json(s, o, rc->codes + rc->n * (size_t)s->nfeat,
		    NULL, NULL, NULL, &ee) < 0)
			rv = ch_errf(e, "%s:%ld: %s", name, ln, ee.msg);
		else if (!json_is_string(id) || json_string_length(id) == 0)
			rv = ch_errf(e, "%s:%ld: no id '%s' (a non-empty string)",
			    name, ln, idname);
		if (rv < 0 && rc->skip_bad) {
			rv = 0;
			json_decref(o);
			continue;
		}
		if (rv == 0) {
			x = rec_slot(rc);
			x->id = ch_strdup(json_string_value(id));
			x->features = json_object();
			for (f = 0; f < s->nfeat; f++) {
				json_t *v = json_object_get(o, s->f[f].name);
				json_object_set(x->features, s->f[f].name,
				    v ? v : json_null());
			}
			if (++rc->n == RECORD_BATCH)
				rv = rec_flush(rc, e);
		}
		json_decref(o);
	}
	free(line);
	if (rv == 0 && ferror(fp))
		rv = ch_errf(e, "read %s: %s", name, strerror(errno));
	if (rv == 0)
		rv = rec_flush(rc, e);
	return rv;
}

int
ch_predlog_record_file(struct ch_registry *r, const struct ch_model *m,
    const char *path, int json_lines, int skip_bad, time_t now, size_t *rows,
    struct ch_err *e)
{
	struct recorder rc = {0};
	FILE *fp = fopen(path, "rb");
	size_t i;
	int rv;

	if (rows)
		*rows = 0;
	if (!fp)
		return ch_errf(e, "open %s: %s", path, strerror(errno));
	rc.r = r;
	rc.m = m;
	rc.now = now;
	rc.skip_bad = skip_bad;
	rc.codes = ch_malloc((size_t)RECORD_BATCH * (size_t)m->schema->nfeat);
	rc.rows = ch_calloc(RECORD_BATCH, sizeof *rc.rows);
	rc.p = ch_malloc(RECORD_BATCH * sizeof *rc.p);
	rv = json_lines ? record_json(&rc, fp, path, e) :
	    record_csv(&rc, fp, path, e);
	for (i = 0; i < rc.n; i++) {   /* left by an error */
		free(rc.rows[i].id);
		json_decref(rc.rows[i].features);
	}
	fclose(fp);
	free(rc.codes);
	free(rc.rows);
	free(rc.p);
	if (rows)
		*rows = rc.total;
	return rv;
}
