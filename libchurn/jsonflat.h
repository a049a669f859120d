/* jsonflat.h - a fast reader for the common prediction request: one flat
 * JSON object of plain values.  Owns nothing else; calls only jansson. */
#ifndef CHURN_JSONFLAT_H
#define CHURN_JSONFLAT_H

#include <stddef.h>

#include <jansson.h>

/*
 * The object text s[0..n) holds, read as json_loadb(s, n, 0, ...) reads it,
 * when it is in the subset this reader takes: one object whose keys and
 * string values are printable ASCII without escapes, and whose values are
 * strings, numbers, true, false or null, with only whitespace around.
 * Returns NULL for anything else (valid or not): the caller then asks
 * json_loadb, which also words any error.  The object returned equals
 * json_loadb's, key order included (tests/fuzz/fuzz_jsonflat.c).
 *
 *   json_t *j = ch_json_flat(body, len);
 *   if (!j) j = json_loadb(body, len, 0, &err);
 */
json_t *ch_json_flat(const char *s, size_t n);

/*
 * The length of the longest prefix of s[0..n) that a JSON string holds as
 * it is: no control byte, quote or backslash, and with ascii set no byte
 * past ASCII either (jansson's plain case).  Eight bytes a step: the
 * writers of churn-serve's log lines call it for every value.
 */
size_t ch_json_plain(const char *s, size_t n, int ascii);

#endif
