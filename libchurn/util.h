/* util.h - error buffers, allocation, messages, hashing, atomic files */
#ifndef CHURN_UTIL_H
#define CHURN_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define CHURN_VERSION "0.1.0"

/*
 * Library functions report trouble through a caller-owned error buffer and
 * a return value (-1); they never print and never exit.  The message follows
 * git's guidelines: lowercase, no full stop, offending value quoted, e.g.
 * "data.csv:118: column 'tenure': 'abc' is not a number".
 */
struct ch_err {
	char msg[1024];
};

/* Formats msg into e (if e is not NULL) and returns -1, so that
 * `return ch_errf(e, "...")` reads naturally. */
int ch_errf(struct ch_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Allocation that cannot fail: out of memory aborts the process. */
void *ch_malloc(size_t n);
void *ch_calloc(size_t n, size_t size);
void *ch_realloc(void *p, size_t n);
void *ch_reallocarray(void *p, size_t n, size_t size);
char *ch_strdup(const char *s);
char *ch_strndup(const char *s, size_t n);

/*
 * Messages for programs (cmd/ only).  ch_setprogname() once in main;
 * ch_warn() prints "progname: message"; a format ending in ':' appends
 * strerror(errno), like sbase's eprintf.  ch_die() then exits with status.
 */
void ch_setprogname(const char *argv0);
const char *ch_progname(void);
void ch_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void ch_die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Flushes and closes fp, dies with status 2 on a write error (full disk,
 * closed pipe): a program must not exit 0 after losing its output. */
void ch_fshut(FILE *fp, const char *name);

/*
 * Strict number parsing: the whole cell (surrounding blanks allowed) must be
 * a finite decimal number; hex, inf and nan are refused.  Returns 0 and
 * stores the value, or -1.
 */
int ch_parse_double(const char *s, size_t len, double *out);

/* Nonzero when a cell counts as missing: empty, whitespace only, or one of
 * NA, NaN, ? (surrounding blanks ignored). */
int ch_is_missing(const char *s, size_t len);

/*
 * String interning map: maps byte strings to dense indices 0..n-1 in
 * insertion order.  Keys are copied.  ch_strmap_put returns the index of
 * the key, adding it when new (*added set to 1 then, if added is not NULL).
 * ch_strmap_get returns the index or -1.
 */
struct ch_strmap;
struct ch_strmap *ch_strmap_new(void);
void ch_strmap_free(struct ch_strmap *m);
long ch_strmap_put(struct ch_strmap *m, const char *s, size_t len, int *added);
long ch_strmap_get(const struct ch_strmap *m, const char *s, size_t len);
size_t ch_strmap_count(const struct ch_strmap *m);
const char *ch_strmap_key(const struct ch_strmap *m, size_t i, size_t *len);

/* Splits a comma-separated list ("a,b,c") into a NULL-terminated array of
 * strings; free with ch_strv_free.  NULL in gives an empty list. */
char **ch_strv_split(const char *list);
void ch_strv_free(char **v);
int ch_strv_has(char *const *v, const char *s);

/* SHA-256 (OpenSSL EVP) as 64 lowercase hex digits plus NUL. */
void ch_sha256_hex(const void *buf, size_t len, char hex[65]);
void ch_hex(const unsigned char *b, size_t n, char *out);

/*
 * Text from outside (a request, a file, a child's output) made fit for
 * JSON, which must be UTF-8: valid UTF-8 is kept as it is, and every other
 * byte, NUL included, becomes the four characters \xNN.  Returns a
 * malloc'd NUL-terminated string, its length in *outlen when not NULL.
 * ch_utf8_clean("caf\xe9", 4, NULL) gives "caf\\xe9".
 */
char *ch_utf8_clean(const char *s, size_t len, size_t *outlen);

/* Nonzero when s[0..len) is valid UTF-8 without NUL bytes (what
 * ch_utf8_clean keeps as it is). */
int ch_utf8_valid(const char *s, size_t len);

/* Version string vYYYYMMDD-HHMMSS (UTC) and ISO-8601 UTC time. */
void ch_version_string(time_t t, char out[17]);
void ch_iso8601(time_t t, char out[21]);

/*
 * Writes len bytes to path, by what is there: a regular file, or nothing,
 * is replaced atomically (a temporary file beside it, fsync, rename, fsync
 * of the directory), so a reader sees the old file or the new one, never a
 * part; a character or block device or a FIFO is opened and written in
 * place (a FIFO waits for a reader); a symbolic link is followed and its
 * target, existing or not, written by the same rules; a socket or a
 * directory is refused.  Every output file of churn goes through here.
 * Returns 0 or -1 with e filled.
 */
int ch_write_atomic(const char *path, const void *buf, size_t len,
    struct ch_err *e);

/* Reads a whole file ("-" is stdin) into a malloc'd buffer (NUL added,
 * not counted in *len).  Returns NULL with e filled. */
char *ch_read_file(const char *path, size_t *len, struct ch_err *e);

/* Monotonic seconds, for timings. */
double ch_seconds(void);

/* Number of online CPUs (at least 1). */
int ch_ncpus(void);

/* Deterministic 64-bit RNG (splitmix64 seeding a xoshiro256**). */
struct ch_rng {
	uint64_t s[4];
};
void ch_rng_seed(struct ch_rng *r, uint64_t seed);
uint64_t ch_rng_next(struct ch_rng *r);
/* Uniform integer in [0, n), unbiased. */
uint64_t ch_rng_below(struct ch_rng *r, uint64_t n);
/* Uniform double in [0, 1). */
double ch_rng_unit(struct ch_rng *r);

#endif
