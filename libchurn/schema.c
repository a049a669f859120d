/* schema.c - features, their bins and categories, value encoding */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

int
ch_schema_find(const struct ch_schema *s, const char *name)
{
	int i;

	for (i = 0; i < s->nfeat; i++)
		if (strcmp(s->f[i].name, name) == 0)
			return i;
	return -1;
}

#define FASTCATS 16

int
ch_feature_index(struct ch_feature *f)
{
	int k, added;

	f->catmap = ch_strmap_new();
	f->catlen = ch_calloc((size_t)f->nbins, sizeof *f->catlen);
	/* few categories are found faster one by one than through the hash;
	 * a category spelt like a missing value is left to the slow path */
	f->fastcats = f->nbins <= FASTCATS;
	for (k = 0; k < f->nbins; k++) {
		f->catlen[k] = strlen(f->cats[k]);
		ch_strmap_put(f->catmap, f->cats[k], f->catlen[k], &added);
		if (!added)
			return -1;
		if (ch_is_missing(f->cats[k], f->catlen[k]))
			f->fastcats = 0;
	}
	return 0;
}

uint8_t
ch_bin_numeric(const struct ch_feature *f, double v)
{
	const double *b = f->edges;
	size_t n = f->nbins > 0 ? (size_t)f->nbins - 1 : 0, half;

	/* the first edge >= v, or nbins - 1 past them all; a binary search
	 * without branches to mispredict */
	if (n == 0)
		return 0;
	while (n > 1) {
		half = n / 2;
		b = b[half] < v ? b + half : b;
		n -= half;
	}
	return (uint8_t)((b - f->edges) + (*b < v));
}

/*
 * Plain decimals ("-12", "75.35") of at most 15 digits: the digits make an
 * integer below 2^53 and 10^frac is exact, so one IEEE division rounds as
 * strtod does (Clinger's fast path).  Returns 0, or -1 for anything else.
 */
static int
plain_decimal(const char *s, size_t len, double *v)
{
	static const double p10[16] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
	    1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
	uint64_t m = 0;
	size_t i = 0, nd = 0, frac = 0;
	int neg = 0, dot = 0;

	if (len && s[0] == '-')
		neg = 1, i = 1;
	if (i == len || s[i] < '0' || s[i] > '9')
		return -1;
	for (; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			m = m * 10 + (uint64_t)(s[i] - '0');
			nd++;
			frac += (size_t)dot;
		} else if (s[i] == '.' && !dot && i + 1 < len) {
			dot = 1;
		} else {
			return -1;
		}
	}
	if (nd > 15)
		return -1;
	*v = (double)m / p10[frac];
	if (neg)
		*v = -*v;
	return 0;
}

int
ch_encode_cell(const struct ch_feature *f, const char *s, size_t len,
    uint8_t *code)
{
	double v;
	long k;
	int i;

	/* the common cases first: a known category, a plain number */
	if (f->type == CH_CATEGORICAL && f->fastcats) {
		for (i = 0; i < f->nbins; i++)
			if (f->catlen[i] == len && memcmp(f->cats[i], s, len) == 0) {
				*code = (uint8_t)i;
				return 0;
			}
	} else if (f->type == CH_NUMERIC && plain_decimal(s, len, &v) == 0) {
		*code = ch_bin_numeric(f, v);
		return 0;
	}
	if (ch_is_missing(s, len)) {
		*code = CH_MISSING;
		return 0;
	}
	if (f->type == CH_NUMERIC) {
		if (ch_parse_double(s, len, &v) != 0)
			return -1;
		*code = ch_bin_numeric(f, v);
		return 0;
	}
	k = ch_strmap_get(f->catmap, s, len);
	*code = k < 0 ? CH_MISSING : (uint8_t)k;
	return k < 0;
}

/*
 * The one message form for a value that does not fit its feature:
 * "where column 'x': 'abc' is not a number" (kind "column" for CSV,
 * "field" for JSON), the value cut at QUOTE bytes on a character boundary.
 */
#define QUOTE 40

static int
not_number(struct ch_err *e, const char *where, const char *kind,
    const char *name, const char *s, size_t len)
{
	if (len > QUOTE) {
		len = QUOTE;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	return ch_errf(e, "%s%s '%s': '%.*s' is not a number", where, kind,
	    name, (int)len, s);
}

int
ch_encode_record(const struct ch_schema *s, const struct ch_cols *c,
    const struct ch_record *rec, const char *name, uint8_t *codes,
    ch_unseen_fn *unseen, void *arg, int *bad, struct ch_err *e)
{
	char where[512];
	const char *v;
	size_t len;
	int f, rc, ret = 0;

	if (bad)
		*bad = -1;
	if (rec->n != c->n)
		return ch_errf(e, "%s:%ld: ragged row: %zu fields, the header "
		    "has %zu", name, rec->line, rec->n, c->n);
	for (f = 0; f < s->nfeat; f++) {
		v = rec->field[c->col[f]];
		len = rec->len[c->col[f]];
		rc = ch_encode_cell(&s->f[f], v, len, &codes[f]);
		if (rc > 0 && unseen)
			unseen(arg, f, v, len);
		if (rc < 0) {
			/* the rule of training too: missing, and said */
			codes[f] = CH_MISSING;
			if (ret == 0) {
				if (bad)
					*bad = f;
				snprintf(where, sizeof where, "%s:%ld: ", name,
				    rec->line);
				not_number(e, where, "column", s->f[f].name, v, len);
				ret = 1;
			}
		}
	}
	return ret;
}

/* Whether the object iterator it is at the key name[0..len) */
static int
at_key(void *it, const char *name, size_t len)
{
	return json_object_iter_key_len(it) == len &&
	    memcmp(json_object_iter_key(it), name, len) == 0;
}

void
ch_json_fields(const struct ch_schema *s, json_t *obj, json_t **v)
{
	void *it = json_object_iter(obj), *nx;
	size_t len;
	int i;

	/* the fields mostly come in the schema's order, maybe after an id:
	 * walked in step (jansson keeps the order received), each looked up
	 * only when out of step */
	for (i = 0; i < s->nfeat; i++) {
		len = strlen(s->f[i].name);
		if (it && !at_key(it, s->f[i].name, len) &&
		    (nx = json_object_iter_next(obj, it)) &&
		    at_key(nx, s->f[i].name, len))
			it = nx;
		if (it && at_key(it, s->f[i].name, len)) {
			v[i] = json_object_iter_value(it);
			it = json_object_iter_next(obj, it);
		} else
			v[i] = json_object_get(obj, s->f[i].name);
	}
}

json_t **
ch_json_fields_new(const struct ch_schema *s, json_t *obj)
{
	json_t **v = ch_reallocarray(NULL, s->nfeat ? (size_t)s->nfeat : 1,
	    sizeof *v);

	ch_json_fields(s, obj, v);
	return v;
}

int
ch_encode_json(const struct ch_schema *s, json_t *obj, uint8_t *codes,
    ch_unseen_fn *unseen, void *arg, int *bad, struct ch_err *e)
{
	json_t *small[64], **v;
	int rc;

	if (bad)
		*bad = -1;
	if (!json_is_object(obj))
		return ch_errf(e, "expected a JSON object of features");
	v = s->nfeat <= 64 ? small :
	    ch_reallocarray(NULL, (size_t)s->nfeat, sizeof *v);
	ch_json_fields(s, obj, v);
	rc = ch_encode_fields(s, v, codes, unseen, arg, bad, e);
	if (v != small)
		free(v);
	return rc;
}

int
ch_encode_fields(const struct ch_schema *s, json_t *const *vals,
    uint8_t *codes, ch_unseen_fn *unseen, void *arg, int *bad,
    struct ch_err *e)
{
	const struct ch_feature *f;
	json_t *v;
	char buf[64];
	const char *str;
	size_t len;
	int i, rc, first = -1;

	for (i = 0; i < s->nfeat; i++) {
		f = &s->f[i];
		if (bad)
			*bad = i;
		if (!(v = vals[i]))
			return ch_errf(e, "no field '%s' (a feature of the model)",
			    f->name);
		if (json_is_null(v)) {
			codes[i] = CH_MISSING;
			continue;
		}
		if (json_is_number(v)) {
			if (f->type == CH_NUMERIC) {
				if (!isfinite(json_number_value(v)))
					return ch_errf(e, "field '%s': not a finite number", f->name);
				codes[i] = ch_bin_numeric(f, json_number_value(v));
				continue;
			}
			/* a category written as a number: match its text */
			if (json_is_integer(v))
				snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
			else
				snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
			str = buf;
			len = strlen(buf);
		} else if (json_is_string(v)) {
			str = json_string_value(v);
			len = json_string_length(v);
		} else {
			return ch_errf(e, "field '%s': expected a %s, not a JSON %s",
			    f->name, f->type == CH_NUMERIC ? "number" : "string",
			    json_is_boolean(v) ? "boolean" :
			    json_is_array(v) ? "array" : "object");
		}
		rc = ch_encode_cell(f, str, len, &codes[i]);
		if (rc < 0) {
			/* the rule of training too: missing, and said */
			codes[i] = CH_MISSING;
			if (first < 0) {
				first = i;
				not_number(e, "", "field", f->name, str, len);
			}
		}
		if (rc > 0 && unseen)
			unseen(arg, i, str, len);
	}
	if (bad)
		*bad = first;
	return first >= 0;
}

int
ch_schema_map_header(const struct ch_schema *s, char *const *hdr, size_t n,
    struct ch_cols *c, const char *name, struct ch_err *e)
{
	size_t j;
	int i;

	c->col = ch_reallocarray(c->col, s->nfeat ? (size_t)s->nfeat : 1,
	    sizeof *c->col);
	c->n = n;
	for (i = 0; i < s->nfeat; i++) {
		c->col[i] = -1;
		for (j = 0; j < n && c->col[i] < 0; j++)
			if (strcmp(hdr[j], s->f[i].name) == 0)
				c->col[i] = (int)j;
		if (c->col[i] < 0)
			return ch_errf(e, "%s:1: no column '%s' (a feature of the model)",
			    name, s->f[i].name);
	}
	c->id = -1;
	for (j = 0; s->id && j < n; j++)
		if (strcmp(hdr[j], s->id) == 0)
			c->id = (int)j;
	return 0;
}

void
ch_cols_free(struct ch_cols *c)
{
	free(c->col);
	c->col = NULL;
}

/* JSON */

static json_t *
reals(const double *v, int n)
{
	json_t *a = json_array();
	int i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_real(v[i]));
	return a;
}

json_t *
ch_profile_to_json(const struct ch_profile *p)
{
	json_t *o = json_object(), *c = json_array();
	int i;

	if (p->edges)
		json_object_set_new(o, "edges", reals(p->edges, p->nbins - 1));
	for (i = 0; i < p->nbins; i++)
		json_array_append_new(c, json_integer((json_int_t)p->counts[i]));
	json_object_set_new(o, "counts", c);
	json_object_set_new(o, "missing", json_integer((json_int_t)p->missing));
	return o;
}

int
ch_profile_from_json(json_t *j, enum ch_ftype t, struct ch_profile *p,
    struct ch_err *e)
{
	json_t *c = json_object_get(j, "counts"), *ed = json_object_get(j, "edges");
	json_t *m = json_object_get(j, "missing");
	size_t i, n;

	memset(p, 0, sizeof *p);
	if (!json_is_array(c) || !json_is_integer(m) || json_array_size(c) == 0)
		return ch_errf(e, "bad profile");
	n = json_array_size(c);
	if (t == CH_NUMERIC &&
	    (!json_is_array(ed) || json_array_size(ed) + 1 != n))
		return ch_errf(e, "bad profile edges");
	p->nbins = (int)n;
	p->counts = ch_calloc(n, sizeof *p->counts);
	for (i = 0; i < n; i++) {
		json_t *x = json_array_get(c, i);

		if (!json_is_integer(x) || json_integer_value(x) < 0) {
			ch_profile_free(p);
			return ch_errf(e, "bad profile count");
		}
		p->counts[i] = (uint64_t)json_integer_value(x);
		p->total += p->counts[i];
	}
	if (json_integer_value(m) < 0) {
		ch_profile_free(p);
		return ch_errf(e, "bad profile count");
	}
	p->missing = (uint64_t)json_integer_value(m);
	p->total += p->missing;
	if (t == CH_NUMERIC) {
		p->edges = ch_calloc(n, sizeof *p->edges);
		for (i = 0; i + 1 < n; i++) {
			json_t *x = json_array_get(ed, i);

			if (!json_is_number(x) ||
			    (i > 0 && json_number_value(x) <= p->edges[i - 1])) {
				ch_profile_free(p);
				return ch_errf(e, "bad profile edges");
			}
			p->edges[i] = json_number_value(x);
		}
	}
	return 0;
}

void
ch_profile_free(struct ch_profile *p)
{
	free(p->edges);
	free(p->counts);
	p->edges = NULL;
	p->counts = NULL;
}

json_t *
ch_schema_to_json(const struct ch_schema *s)
{
	json_t *o = json_object(), *fs = json_array(), *x, *cats;
	const struct ch_feature *f;
	int i, k;

	json_object_set_new(o, "target", json_string(s->target));
	json_object_set_new(o, "positive", s->positive ? json_string(s->positive) : json_null());
	json_object_set_new(o, "id", s->id ? json_string(s->id) : json_null());
	for (i = 0; i < s->nfeat; i++) {
		f = &s->f[i];
		x = json_object();
		json_object_set_new(x, "name", json_string(f->name));
		json_object_set_new(x, "type", json_string(f->type == CH_NUMERIC ? "numeric" : "categorical"));
		if (f->type == CH_NUMERIC) {
			json_object_set_new(x, "edges", reals(f->edges, f->nbins - 1));
			json_object_set_new(x, "min", json_real(f->min));
			json_object_set_new(x, "max", json_real(f->max));
		} else {
			cats = json_array();
			for (k = 0; k < f->nbins; k++)
				json_array_append_new(cats, json_string(f->cats[k]));
			json_object_set_new(x, "categories", cats);
		}
		json_object_set_new(x, "reference", ch_profile_to_json(&f->ref));
		json_array_append_new(fs, x);
	}
	json_object_set_new(o, "features", fs);
	return o;
}

int
ch_schema_from_json(json_t *j, struct ch_schema **out, struct ch_err *e)
{
	struct ch_schema *s;
	struct ch_feature *f;
	json_t *fs = json_object_get(j, "features"), *x, *a;
	const char *t;
	size_t i, k, n;

	if (!ch_jstr(j, "target", NULL) || !json_is_array(fs) || json_array_size(fs) == 0 ||
	    json_array_size(fs) > 100000)
		return ch_errf(e, "bad schema");
	s = ch_calloc(1, sizeof *s);
	s->target = ch_strdup(ch_jstr(j, "target", NULL));
	if (ch_jstr(j, "positive", NULL))
		s->positive = ch_strdup(ch_jstr(j, "positive", NULL));
	if (ch_jstr(j, "id", NULL))
		s->id = ch_strdup(ch_jstr(j, "id", NULL));
	s->nfeat = (int)json_array_size(fs);
	s->f = ch_calloc((size_t)s->nfeat, sizeof *s->f);
	for (i = 0; i < (size_t)s->nfeat; i++) {
		f = &s->f[i];
		x = json_array_get(fs, i);
		t = ch_jstr(x, "type", NULL);
		if (!ch_jstr(x, "name", NULL) || !t)
			goto bad;
		f->name = ch_strdup(ch_jstr(x, "name", NULL));
		if (strcmp(t, "numeric") == 0) {
			f->type = CH_NUMERIC;
			a = json_object_get(x, "edges");
			n = json_array_size(a);
			if (!json_is_array(a) || n + 1 > CH_MAXBINS)
				goto bad;
			f->nbins = (int)n + 1;
			f->edges = ch_calloc(n + 1, sizeof *f->edges);
			for (k = 0; k < n; k++) {
				if (!json_is_number(json_array_get(a, k)))
					goto bad;
				f->edges[k] = json_number_value(json_array_get(a, k));
				if (k > 0 && !(f->edges[k] > f->edges[k - 1]))
					goto bad;
			}
			f->min = json_number_value(json_object_get(x, "min"));
			f->max = json_number_value(json_object_get(x, "max"));
		} else if (strcmp(t, "categorical") == 0) {
			f->type = CH_CATEGORICAL;
			a = json_object_get(x, "categories");
			n = json_array_size(a);
			if (!json_is_array(a) || n == 0 || n > CH_MAXBINS - 1)
				goto bad;
			f->nbins = (int)n;
			f->cats = ch_calloc(n, sizeof *f->cats);
			for (k = 0; k < n; k++) {
				json_t *c = json_array_get(a, k);

				if (!json_is_string(c) ||
				    strlen(json_string_value(c)) != json_string_length(c))
					goto bad;
				f->cats[k] = ch_strdup(json_string_value(c));
			}
			if (ch_feature_index(f) != 0)
				goto bad;
		} else {
			goto bad;
		}
		if (ch_profile_from_json(json_object_get(x, "reference"), f->type,
		    &f->ref, e) != 0 || f->ref.nbins != f->nbins)
			goto bad;
	}
	*out = s;
	return 0;
bad:
	ch_errf(e, "bad schema: feature %zu", i + 1);
	ch_schema_free(s);
	return -1;
}

/* The reference value a user would recognise: numeric median (the upper
 * edge of the bin where the cumulative share reaches one half), categorical
 * mode. */
static json_t *
reference_value(const struct ch_feature *f)
{
	uint64_t sum = 0, half = (f->ref.total - f->ref.missing + 1) / 2, best = 0;
	int i, arg = 0;

	if (f->type == CH_CATEGORICAL) {
		for (i = 0; i < f->nbins; i++)
			if (f->ref.counts[i] > best)
				best = f->ref.counts[i], arg = i;
		return json_string(f->cats[arg]);
	}
	for (i = 0; i < f->nbins - 1; i++) {
		sum += f->ref.counts[i];
		if (sum >= half)
			return json_real(f->edges[i]);
	}
	return json_real(f->max);
}

json_t *
ch_schema_input_json(const struct ch_schema *s)
{
	json_t *o = json_object(), *fs = json_array(), *x, *cats;
	const struct ch_feature *f;
	int i, k;

	json_object_set_new(o, "target", json_string(s->target));
	json_object_set_new(o, "id", s->id ? json_string(s->id) : json_null());
	for (i = 0; i < s->nfeat; i++) {
		f = &s->f[i];
		x = json_object();
		json_object_set_new(x, "name", json_string(f->name));
		if (f->type == CH_NUMERIC) {
			json_object_set_new(x, "type", json_string("numeric"));
			json_object_set_new(x, "min", json_real(f->min));
			json_object_set_new(x, "max", json_real(f->max));
			json_object_set_new(x, "median", reference_value(f));
		} else {
			json_object_set_new(x, "type", json_string("categorical"));
			cats = json_array();
			for (k = 0; k < f->nbins; k++)
				json_array_append_new(cats, json_string(f->cats[k]));
			json_object_set_new(x, "categories", cats);
			json_object_set_new(x, "mode", reference_value(f));
		}
		json_array_append_new(fs, x);
	}
	json_object_set_new(o, "features", fs);
	return o;
}

static void
feature_free(struct ch_feature *f)
{
	int k;

	free(f->name);
	free(f->edges);
	for (k = 0; f->cats && k < f->nbins; k++)
		free(f->cats[k]);
	free(f->cats);
	ch_strmap_free(f->catmap);
	free(f->catlen);
	ch_profile_free(&f->ref);
}

void
ch_schema_drop_feature(struct ch_schema *s, int i)
{
	feature_free(&s->f[i]);
	memmove(&s->f[i], &s->f[i + 1], (size_t)(s->nfeat - i - 1) * sizeof *s->f);
	s->nfeat--;
}

void
ch_schema_free(struct ch_schema *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < s->nfeat; i++)
		feature_free(&s->f[i]);
	free(s->f);
	free(s->target);
	free(s->positive);
	free(s->id);
	free(s);
}
