/* jsonflat.c - the flat object of a prediction request, read without
 * jansson's general lexer (which costs most of a /predict request's time
 * in churn-serve); anything outside the subset is left to json_loadb */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonflat.h"

static int
ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && ws(*p))
		p++;
	return p;
}

/* A string without escapes of printable ASCII (DEL included, as jansson
 * takes it): *p at the opening quote; its bytes in *s, *len; the byte
 * after the closing quote, or NULL. */
static const char *
plain_string(const char *p, const char *end, const char **s, size_t *len)
{
	const char *q = ++p;

	while (q < end && *q != '"') {
		unsigned char c = (unsigned char)*q;

		if (c < 0x20 || c > 0x7f || c == '\\')
			return NULL;
		q++;
	}
	if (q == end)
		return NULL;
	*s = p;
	*len = (size_t)(q - p);
	return q + 1;
}

static int
digit(const char *p, const char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* A number as jansson's lexer reads it: an integer (up to 18 digits,
 * always in range) without fraction or exponent, else a real; NULL when
 * the text is not one or is one this reader leaves to jansson. */
static json_t *
number(const char **pp, const char *end)
{
	const char *p = *pp, *start = p;
	char buf[64], *tail;
	int real = 0, neg = 0;
	json_int_t v = 0;
	double d;
	size_t nd = 0;

	if (p < end && *p == '-')
		neg = 1, p++;
	if (!digit(p, end))
		return NULL;
	if (*p == '0') {
		p++;
		if (digit(p, end))
			return NULL;    /* a leading zero: jansson's error */
		nd = 1;
	} else
		for (; digit(p, end); p++, nd++)
			if (nd < 18)
				v = v * 10 + (*p - '0');
	if (p < end && *p == '.') {
		p++, real = 1;
		if (!digit(p, end))
			return NULL;
		while (digit(p, end))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++, real = 1;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!digit(p, end))
			return NULL;
		while (digit(p, end))
			p++;
	}
	*pp = p;
	if (!real)
		return nd <= 18 ? json_integer(neg ? -v : v) : NULL;
	if ((size_t)(p - start) >= sizeof buf)
		return NULL;
	memcpy(buf, start, (size_t)(p - start));
	buf[p - start] = '\0';
	d = strtod(buf, &tail);
	/* jansson refuses an overflow; an underflow it keeps, as here */
	if (d == HUGE_VAL || d == -HUGE_VAL)
		return NULL;
	return json_real(d);
}

static json_t *
literal(const char **pp, const char *end)
{
	static const struct {
		const char *text;
		size_t len;
	} lit[] = { { "true", 4 }, { "false", 5 }, { "null", 4 } };
	const char *p = *pp;
	size_t i, left = (size_t)(end - p);

	for (i = 0; i < sizeof lit / sizeof lit[0]; i++)
		if (left >= lit[i].len && !memcmp(p, lit[i].text, lit[i].len)) {
			/* "nullx" is one token to jansson: an error */
			if (left > lit[i].len && ((p[lit[i].len] >= 'a' &&
			    p[lit[i].len] <= 'z') || (p[lit[i].len] >= 'A' &&
			    p[lit[i].len] <= 'Z') || digit(p + lit[i].len, end) ||
			    p[lit[i].len] == '_'))
				return NULL;
			*pp = p + lit[i].len;
			return i == 0 ? json_true() : i == 1 ? json_false() :
			    json_null();
		}
	return NULL;
}

static json_t *
value(const char **pp, const char *end)
{
	const char *p = *pp, *s;
	size_t len;
	json_t *v;

	if (p == end)
		return NULL;
	if (*p == '"') {
		if (!(p = plain_string(p, end, &s, &len)))
			return NULL;
		if ((v = json_stringn_nocheck(s, len)))
			*pp = p;
		return v;
	}
	if (*p == '-' || (*p >= '0' && *p <= '9'))
		return number(pp, end);
	return literal(pp, end);
}

json_t *
ch_json_flat(const char *s, size_t n)
{
	const char *p = s, *end = s + n, *key;
	size_t klen;
	json_t *obj, *v;

	p = skip_ws(p, end);
	if (p == end || *p != '{' || !(obj = json_object()))
		return NULL;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		goto close;
	for (;;) {
		if (p == end || *p != '"' ||
		    !(p = plain_string(p, end, &key, &klen)))
			goto out;
		p = skip_ws(p, end);
		if (p == end || *p != ':')
			goto out;
		p = skip_ws(p + 1, end);
		if (!(v = value(&p, end)))
			goto out;
		if (json_object_setn_new_nocheck(obj, key, klen, v) != 0)
			goto out;
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			break;
		goto out;
	}
close:
	if (skip_ws(p + 1, end) == end)
		return obj;
out:
	json_decref(obj);
	return NULL;
}

size_t
ch_json_plain(const char *s, size_t n, int ascii)
{
	/* a control byte, a quote or a backslash in a word, and with ascii
	 * a byte past ASCII (the "has a zero byte" trick) */
	uint64_t high = ascii ? ~0ull : 0;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t w, x, y;

		memcpy(&w, s + i, 8);
		x = w ^ 0x2222222222222222ull;
		y = w ^ 0x5c5c5c5c5c5c5c5cull;
		if ((((w - 0x2020202020202020ull) & ~w) | (w & high) |
		    ((x - 0x0101010101010101ull) & ~x) |
		    ((y - 0x0101010101010101ull) & ~y)) & 0x8080808080808080ull)
			break;
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == '"' || c == '\\' || (ascii && c > 0x7f))
			break;
	}
	return i;
}
