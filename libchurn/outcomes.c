/* outcomes.c - customer outcomes (outcomes.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "csv.h"
#include "frame.h"
#include "outcomes.h"
#include "predlog.h"
#include "registry_db.h"
#include "store.h"

#define OUT_PREFIX "outcomes/"

void
ch_outcomes_free(struct ch_outcome *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(rows[i].id);
	free(rows);
}

struct outvec {
	struct ch_outcome *v;
	size_t n, cap;
};

static void
outvec_add(struct outvec *o, const char *id, size_t len, time_t t, int y)
{
	if (o->n == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 256;
		o->v = ch_reallocarray(o->v, o->cap, sizeof *o->v);
	}
	o->v[o->n].id = ch_strndup(id, len);
	o->v[o->n].time = t;
	o->v[o->n].outcome = y;
	o->n++;
}

/* Checks one row's id, label and time; adds it to out.  col names the
 * columns for messages. */
static int
take_row(const char *name, long line, const char *idcol, const char *id,
    size_t idlen, const char *ycol, const char *y, size_t ylen,
    const char *tcol, const char *t, size_t tlen,
    const struct ch_outcomes_opts *o, struct outvec *out, struct ch_err *e)
{
	time_t when = o->default_time;
	int lab;

	if (idlen == 0)
		return ch_errf(e, "%s:%ld: column '%s': empty id", name, line,
		    idcol);
	if (idlen > CH_OUTCOME_ID_MAX)
		return ch_errf(e, "%s:%ld: column '%s': the id has %zu bytes, at "
		    "most %d", name, line, idcol, idlen, CH_OUTCOME_ID_MAX);
	if (memchr(id, '\0', idlen))
		return ch_errf(e, "%s:%ld: column '%s': the id holds a NUL byte",
		    name, line, idcol);
	if (!ch_utf8_valid(id, idlen))
		return ch_errf(e, "%s:%ld: column '%s': the id is not UTF-8",
		    name, line, idcol);
	if ((lab = ch_label(y, ylen, o->positive)) < 0)
		return ch_errf(e, "%s:%ld: column '%s': '%.*s' is not a label "
		    "(%s)", name, line, ycol, (int)(ylen > 40 ? 40 : ylen), y,
		    o->positive ? "with --positive, any value that is not missing" :
		    "Yes/No, 1/0, true/false, Y/N; or give --positive");
	if (t && tlen && ch_time_parse(t, tlen, &when) < 0)
		return ch_errf(e, "%s:%ld: column '%s': '%.*s' is not a time "
		    "(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)", name, line, tcol,
		    (int)(tlen > 40 ? 40 : tlen), t);
	outvec_add(out, id, idlen, when, lab);
	return 0;
}

static int
column(char *const *hdr, size_t n, const char *const *names)
{
	size_t i;
	int k;

	for (k = 0; names[k]; k++)
		for (i = 0; i < n; i++)
			if (strcmp(hdr[i], names[k]) == 0)
				return (int)i;
	return -1;
}

static int
parse_csv(const char *buf, size_t len, const char *name,
    const struct ch_outcomes_opts *o, struct outvec *out, struct ch_err *e)
{
	static const char *const idn[] = {"id", "customer_id", "customerID", NULL};
	static const char *const yn[] = {"outcome", "churn", "Churn", NULL};
	static const char *const tn[] = {"time", NULL};
	FILE *fp = fmemopen((void *)buf, len, "r");
	struct ch_csv *csv;
	struct ch_record rec;
	char **hdr = NULL;
	size_t nh = 0, i;
	int ic, yc, tc, got, rc = -1;

	if (!fp)
		return ch_errf(e, "%s: cannot read: out of memory", name);
	if (!(csv = ch_csv_open(fp, name, e))) {
		fclose(fp);
		return -1;
	}
	if ((got = ch_csv_next(csv, &rec, e)) <= 0) {
		if (got == 0)
			ch_errf(e, "%s: empty: no header", name);
		goto out;
	}
	nh = rec.n;
	hdr = ch_calloc(nh, sizeof *hdr);
	for (i = 0; i < nh; i++)
		hdr[i] = ch_strndup(rec.field[i], rec.len[i]);
	ic = column(hdr, nh, idn);
	yc = column(hdr, nh, yn);
	tc = column(hdr, nh, tn);
	if (ic < 0 || yc < 0) {
		ch_errf(e, "%s:1: the header has no %s column (%s)", name,
		    ic < 0 ? "id" : "outcome", ic < 0 ?
		    "id, customer_id or customerID" : "outcome, churn or Churn");
		goto out;
	}
	while ((got = ch_csv_next(csv, &rec, e)) > 0) {
		if (rec.n != nh) {
			ch_errf(e, "%s:%ld: ragged row: %zu fields, the header has "
			    "%zu", name, rec.line, rec.n, nh);
			goto out;
		}
		if (take_row(name, rec.line, hdr[ic], rec.field[ic], rec.len[ic],
		    hdr[yc], rec.field[yc], rec.len[yc], tc >= 0 ? hdr[tc] : NULL,
		    tc >= 0 ? rec.field[tc] : NULL, tc >= 0 ? rec.len[tc] : 0, o,
		    out, e) < 0)
			goto out;
	}
	rc = got;
out:
	for (i = 0; i < nh; i++)
		free(hdr[i]);
	free(hdr);
	ch_csv_close(csv);
	fclose(fp);
	return rc;
}

/* A JSON value as label text: strings as they are, true/false, integers. */
static int
label_text(json_t *v, char *tmp, size_t n, const char **s, size_t *len)
{
	if (json_is_string(v)) {
		*s = json_string_value(v);
		*len = json_string_length(v);
	} else if (json_is_boolean(v)) {
		*s = json_is_true(v) ? "true" : "false";
		*len = strlen(*s);
	} else if (json_is_integer(v)) {
		snprintf(tmp, n, "%lld", (long long)json_integer_value(v));
		*s = tmp;
		*len = strlen(tmp);
	} else
		return -1;
	return 0;
}

static int
parse_json_lines(const char *buf, size_t len, const char *name,
    const struct ch_outcomes_opts *o, struct outvec *out, struct ch_err *e)
{
	const char *p = buf, *end = buf + len, *nl;
	long line = 0;

	for (; p < end; p = nl + 1) {
		json_error_t je;
		json_t *j, *id, *y, *t;
		const char *ys;
		char tmp[32];
		size_t yl;
		int rc;

		if (!(nl = memchr(p, '\n', (size_t)(end - p))))
			nl = end;
		line++;
		if (strspn(p, " \t\r") >= (size_t)(nl - p))
			continue;
		/* ids are checked for UTF-8 by take_row with its message */
		if (!(j = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &je)))
			return ch_errf(e, "%s:%ld: column %d: %s", name, line,
			    je.column, je.text);
		id = json_object_get(j, "id");
		y = json_object_get(j, "outcome");
		t = json_object_get(j, "time");
		if (!json_is_object(j))
			rc = ch_errf(e, "%s:%ld: not a JSON object", name, line);
		else if (!json_is_string(id))
			rc = ch_errf(e, "%s:%ld: key 'id': %s", name, line,
			    id ? "not a string" : "missing");
		else if (!y || label_text(y, tmp, sizeof tmp, &ys, &yl) < 0)
			rc = ch_errf(e, "%s:%ld: key 'outcome': %s", name, line,
			    y ? "not a label (a string, a boolean or 0/1)" :
			    "missing");
		else if (t && !json_is_null(t) && !json_is_string(t))
			rc = ch_errf(e, "%s:%ld: key 'time': not a string", name,
			    line);
		else
			rc = take_row(name, line, "id", json_string_value(id),
			    json_string_length(id), "outcome", ys, yl, "time",
			    json_is_string(t) ? json_string_value(t) : NULL,
			    json_is_string(t) ? json_string_length(t) : 0, o, out,
			    e);
		json_decref(j);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int
ch_outcomes_parse(const char *buf, size_t len, const char *name,
    const struct ch_outcomes_opts *o, struct ch_outcome **rows, size_t *n,
    struct ch_err *e)
{
	struct outvec out = {0};
	size_t i = strspn(buf, " \t\r\n");
	int rc;

	*rows = NULL;
	*n = 0;
	if (i >= len)
		return ch_errf(e, "%s: empty: no outcomes", name);
	rc = buf[i] == '{' ? parse_json_lines(buf, len, name, o, &out, e) :
	    parse_csv(buf, len, name, o, &out, e);
	if (rc < 0) {
		ch_outcomes_free(out.v, out.n);
		return -1;
	}
	*rows = out.v;
	*n = out.n;
	return 0;
}

/* ---- store ---- */

static int
cmp_outcome(const void *a, const void *b)
{
	const struct ch_outcome *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c)
		return c;
	return x->time < y->time ? -1 : x->time > y->time;
}

/* Sorts and keeps the first row of each key (stable: merge order kept by
 * the index tiebreak). */
struct keyed {
	struct ch_outcome o;
	size_t k;
};

static int
cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = cmp_outcome(&x->o, &y->o);

	return c ? c : x->k < y->k ? -1 : x->k > y->k;
}

static size_t
dedupe(struct ch_outcome *v, size_t n)
{
	struct keyed *k = ch_malloc((n ? n : 1) * sizeof *k);
	size_t i, j = 0;

	for (i = 0; i < n; i++)
		k[i].o = v[i], k[i].k = i;
	qsort(k, n, sizeof *k, cmp_keyed);
	for (i = 0; i < n; i++) {
		if (j && cmp_outcome(&v[j - 1], &k[i].o) == 0) {
			free(k[i].o.id);
			continue;
		}
		v[j++] = k[i].o;
	}
	free(k);
	return j;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
store_read(struct ch_registry *r, struct outvec *out, struct ch_err *e)
{
	struct ch_store *st = ch_registry_store(r);
	char **names, key[128];
	size_t nk, i;
	int rc = 0;

	if (!(names = ch_store_list(st, "outcomes", e)))
		return -1;
	/* oldest first (the names start with the time): the first row of
	 * a key wins */
	for (nk = 0; names[nk]; nk++)
		;
	qsort(names, nk, sizeof *names, cmp_name);
	for (i = 0; rc == 0 && i < nk; i++) {
		unsigned char *buf;
		size_t len, ln = 0, n = strlen(names[i]);
		const char *p, *end, *nl;

		if (n < 7 || n > 100 || names[i][0] == '.' ||
		    strcmp(names[i] + n - 6, ".jsonl") != 0)
			continue;
		snprintf(key, sizeof key, OUT_PREFIX "%s", names[i]);
		if ((rc = ch_store_get(st, key, &buf, &len, e)) != 0) {
			rc = rc == 1 ? 0 : -1;
			continue;
		}
		for (p = (char *)buf, end = p + len; p < end; p = nl + 1) {
			json_error_t je;
			json_t *j, *id, *t, *y;
			time_t when;

			if (!(nl = memchr(p, '\n', (size_t)(end - p))))
				nl = end;
			ln++;
			if (nl == p)
				continue;
			j = json_loadb(p, (size_t)(nl - p), 0, &je);
			id = json_object_get(j, "id");
			t = json_object_get(j, "time");
			y = json_object_get(j, "outcome");
			if (!json_is_string(id) || !json_is_string(t) ||
			    !json_is_integer(y) || ch_time_parse(json_string_value(t),
			    json_string_length(t), &when) < 0)
				rc = ch_errf(e, "outcomes in %s: %s:%zu: not an "
				    "outcome row", ch_store_where(st), key, ln);
			else
				outvec_add(out, json_string_value(id),
				    json_string_length(id), when,
				    json_integer_value(y) != 0);
			json_decref(j);
			if (rc)
				break;
		}
		free(buf);
	}
	ch_strv_free(names);
	return rc;
}

static int
pg_read(struct ch_registry *r, struct outvec *out, struct ch_err *e)
{
	PGresult *res = ch_registry_pg_exec(r, "read the outcomes",
	    "SELECT customer_id, extract(epoch FROM time)::bigint, outcome"
	    " FROM churn_outcomes", 0, NULL, e);
	int i;

	if (!res)
		return -1;
	for (i = 0; i < PQntuples(res); i++)
		outvec_add(out, PQgetvalue(res, i, 0),
		    (size_t)PQgetlength(res, i, 0),
		    (time_t)strtoll(PQgetvalue(res, i, 1), NULL, 10),
		    PQgetvalue(res, i, 2)[0] == 't');
	PQclear(res);
	return 0;
}

int
ch_outcomes_read(struct ch_registry *r, struct ch_outcome **rows, size_t *n,
    struct ch_err *e)
{
	struct outvec out = {0};
	int rc = ch_registry_pg(r) ? pg_read(r, &out, e) :
	    store_read(r, &out, e);

	*rows = NULL;
	*n = 0;
	if (rc < 0) {
		ch_outcomes_free(out.v, out.n);
		return -1;
	}
	out.n = dedupe(out.v, out.n);
	*rows = out.v;
	*n = out.n;
	return 0;
}

static json_t *
outcome_json(const struct ch_outcome *o)
{
	char t[21];

	ch_iso8601(o->time, t);
	return json_pack("{s:s, s:s, s:i}", "id", o->id, "time", t, "outcome",
	    o->outcome);
}

static int
store_record(struct ch_registry *r, struct ch_outcome *v, size_t n,
    struct ch_outcomes_stats *st, struct ch_err *e)
{
	struct ch_store *s = ch_registry_store(r);
	struct ch_outcome *old;
	size_t nold, i, j = 0, len = 0, cap = 0;
	char *buf = NULL, key[128], sha[65], stamp[17], salt[48];
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	if (ch_outcomes_read(r, &old, &nold, e) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		/* old is sorted by key, as v */
		while (j < nold && cmp_outcome(&old[j], &v[i]) < 0)
			j++;
		if (j < nold && cmp_outcome(&old[j], &v[i]) == 0) {
			st->duplicates++;
			continue;
		}
		{
			json_t *o = outcome_json(&v[i]);
			char *line = json_dumps(o, JSON_COMPACT);
			size_t l = strlen(line);

			json_decref(o);
			if (len + l + 2 > cap) {
				cap = (len + l + 2) * 2;
				buf = ch_realloc(buf, cap);
			}
			memcpy(buf + len, line, l);
			len += l;
			buf[len++] = '\n';
			free(line);
		}
		st->recorded++;
	}
	ch_outcomes_free(old, nold);
	if (st->recorded == 0) {
		free(buf);
		return 0;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(salt, sizeof salt, "%ld.%ld", (long)getpid(), (long)now);
	buf = ch_realloc(buf, len + strlen(salt) + 1);
	memcpy(buf + len, salt, strlen(salt));
	ch_sha256_hex(buf, len + strlen(salt), sha);
	sha[16] = '\0';
	snprintf(key, sizeof key, OUT_PREFIX "%s-%s.jsonl", stamp, sha);
	rc = ch_store_put(s, key, buf, len, e);
	free(buf);
	if (rc < 0)
		st->recorded = 0;
	return rc;
}

static int
pg_record(struct ch_registry *r, const struct ch_outcome *v, size_t n,
    struct ch_outcomes_stats *st, struct ch_err *e)
{
	json_t *a = json_array();
	const char *p[1];
	PGresult *res;
	char *text;
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, outcome_json(&v[i]));
	text = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	p[0] = text;
	/* one statement: all rows or none */
	res = ch_registry_pg_exec(r, "record the outcomes",
	    "INSERT INTO churn_outcomes (customer_id, time, outcome)"
	    " SELECT x->>'id', (x->>'time')::timestamptz, (x->>'outcome')::int = 1"
	    " FROM jsonb_array_elements($1::text::jsonb) x"
	    " ON CONFLICT DO NOTHING", 1, p, e);
	free(text);
	if (!res)
		return -1;
	st->recorded = (size_t)strtoul(PQcmdTuples(res), NULL, 10);
	st->duplicates += n - st->recorded;
	PQclear(res);
	return 0;
}

int
ch_outcomes_record(struct ch_registry *r, const struct ch_outcome *rows,
    size_t n, struct ch_outcomes_stats *st, struct ch_err *e)
{
	struct ch_outcome *v = ch_malloc((n ? n : 1) * sizeof *v);
	unsigned char *found = ch_malloc(n ? n : 1);
	char **ids = ch_malloc((n ? n : 1) * sizeof *ids);
	size_t i, m;
	int rc;

	memset(st, 0, sizeof *st);
	st->rows = n;
	for (i = 0; i < n; i++) {
		v[i].id = ch_strdup(rows[i].id);
		v[i].time = rows[i].time;
		v[i].outcome = rows[i].outcome;
		st->positives += rows[i].outcome != 0;
		ids[i] = rows[i].id;
	}
	rc = ch_predlog_scored(r, ids, n, found, e);
	for (i = 0; rc == 0 && i < n; i++)
		st->unmatched += !found[i];
	if (rc == 0) {
		/* a key twice in the file counts once */
		m = dedupe(v, n);
		st->duplicates = n - m;
		rc = ch_registry_pg(r) ? pg_record(r, v, m, st, e) :
		    store_record(r, v, m, st, e);
		n = m;
	}
	ch_outcomes_free(v, n);
	free(found);
	free(ids);
	return rc;
}

int
ch_outcomes_load(struct ch_registry *r, const char *buf, size_t len,
    const char *name, const struct ch_outcomes_opts *o,
    struct ch_outcomes_stats *st, struct ch_err *e)
{
	struct ch_outcome *rows;
	size_t n;
	int rc;

	memset(st, 0, sizeof *st);
	if (ch_outcomes_parse(buf, len, name, o, &rows, &n, e) < 0)
		return -1;
	rc = ch_outcomes_record(r, rows, n, st, e);
	ch_outcomes_free(rows, n);
	return rc;
}
