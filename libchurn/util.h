/* util.h - error buffers, allocation, messages, option values, usage and
 * progress, hashing, growable buffers, directories and atomic files.  The
 * small things every other file uses; calls only libc, OpenSSL, jansson. */
#ifndef CHURN_UTIL_H
#define CHURN_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

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
 * The one usage() shape (cmd/ only).  ch_usage(u, 0) prints "usage: "
 * and the synopsis, a line for every option and the environment variables
 * the program reads to stdout, checks the write and exits 0; ch_usage(u, 2)
 * prints the synopsis and a pointer to --help to stderr and exits 2.
 * Every program takes the common options -h/--help, -V/--version,
 * -q/--quiet and -v/--verbose: put CH_COMMON_LONGOPTS in its long options
 * and CH_COMMON_SHORTOPTS in its short ones, and hand getopt's answer to
 * ch_common_opt first, which handles those four (-h and -V exit) and
 * returns 1, or returns 0 for the program's own.
 */
struct ch_usage {
	const char *synopsis;   /* lines after "usage: "; the 2nd on indented */
	const char *options;    /* "  -o, --output FILE   what it does\n" ... */
	const char *environment;/* "  CHURN_STORE   what it is\n" ..., or NULL */
};
_Noreturn void ch_usage(const struct ch_usage *u, int status);
#define CH_COMMON_SHORTOPTS "hVqv"
#define CH_COMMON_LONGOPTS \
	{ "help", no_argument, NULL, 'h' }, \
	{ "version", no_argument, NULL, 'V' }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "verbose", no_argument, NULL, 'v' }
/* The option lines every --help ends its list with. */
#define CH_COMMON_HELP \
	"  -q, --quiet           no progress, no warnings that are not errors\n" \
	"  -v, --verbose         say more on stderr (what was read, how fast)\n" \
	"  -V, --version         print the version and exit\n" \
	"  -h, --help            print this help and exit\n"
int ch_common_opt(int c, const struct ch_usage *u);
/* -1 after -q, 1 after -v (the last one given wins), 0 otherwise. */
int ch_verbosity(void);

/*
 * Option values (cmd/ only).  A bad value ends the program with status 2
 * and one message form, "prog: --trees: 'abc' is not a number from 1 to
 * 100000".  Integers are decimal; ch_opt_double also takes a fraction;
 * ch_opt_seconds a duration (30, 2.5s, 500ms, 5m, 1h) in seconds;
 * ch_opt_size a byte count with an optional k, M or G (powers of 1024).
 * The ch_parse_* functions under them return 0 or -1 and never exit.
 */
long long ch_opt_int(const char *opt, const char *s, long long lo, long long hi);
double ch_opt_double(const char *opt, const char *s, double lo, double hi);
double ch_opt_seconds(const char *opt, const char *s, double lo, double hi);
unsigned long long ch_opt_size(const char *opt, const char *s,
    unsigned long long lo, unsigned long long hi);
int ch_parse_int(const char *s, long long *out);
int ch_parse_seconds(const char *s, double *out);
int ch_parse_size(const char *s, unsigned long long *out);

/*
 * Progress on stderr (cmd/ only), for every long read, training and
 * scoring: "prog: 120000 rows, 85000 rows/s, 37%, 3 s left".  Only when
 * stderr is a terminal and not -q: otherwise ch_progress_new returns NULL
 * and the other calls do nothing with it.  fd (or -1) is the input being
 * read: when it is a regular file its size and offset give the share
 * done and the time left; ch_progress_total gives a known total of items
 * instead.  Counting is cheap (an atomic store), so that a library
 * callback may call ch_progress_set from any thread; a thread of the
 * progress itself redraws the line five times a second.  ch_progress_end
 * clears the line and frees p.
 */
struct ch_progress;
struct ch_progress *ch_progress_new(const char *unit, int fd); /* unit NULL: MB read */
void ch_progress_total(struct ch_progress *p, const char *unit, uint64_t total);
void ch_progress_set(struct ch_progress *p, uint64_t done);
void ch_progress_add(struct ch_progress *p, uint64_t n);
void ch_progress_end(struct ch_progress *p);

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

/* The string member k of object o, or dflt when o has no string k. */
const char *ch_jstr(const json_t *o, const char *k, const char *dflt);

/*
 * The one growable buffer: bytes at s, len used, always NUL-terminated
 * after the first add (the NUL not counted).  A zeroed struct is empty;
 * free(b.s) frees it.  ch_buf_room returns a place for n more bytes
 * (the caller then adds n to len).
 */
struct ch_buf {
	char *s;
	size_t len, cap;
};
void ch_buf_add(struct ch_buf *b, const void *p, size_t n);
void ch_buf_adds(struct ch_buf *b, const char *s);
void ch_buf_printf(struct ch_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *ch_buf_room(struct ch_buf *b, size_t n);

/*
 * x as printf("%.17g", x) writes it, the same text (so it reads back as
 * the same double), in out (NUL-terminated; at most 24 bytes used) at a
 * fraction of printf's cost: one long double product for the 17 digits,
 * printf itself where that could round otherwise (near a tie, outside
 * 1e-11..1e43, on a platform without a 64-bit long double).  Returns
 * the length.  ch_buf_g17 appends it to a buffer.
 */
size_t ch_g17(double x, char out[32]);
void ch_buf_g17(struct ch_buf *b, double x);

/* mkdir -p: dir and every missing directory above it (mode 0777 less
 * the umask).  Returns 0 or -1 with e filled. */
int ch_mkdirs(const char *dir, struct ch_err *e);

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

/* Monotonic seconds, for timings and deadlines: the one clock. */
double ch_seconds(void);

/* *ts = now + seconds on that clock (CLOCK_MONOTONIC), for waits such as
 * pthread_cond_timedwait with a monotonic condition variable. */
void ch_deadline(struct timespec *ts, double seconds);

/* Number of online CPUs (at least 1). */
int ch_ncpus(void);

/* splitmix64's finaliser: a bijection that spreads every input bit over
 * the whole word (for hashes whose low bits are weak, and seeding). */
uint64_t ch_mix64(uint64_t x);

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
