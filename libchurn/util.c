/* util.c - error buffers, allocation, parsing, string maps and vectors,
 * hashing, growable buffers, directories and atomic files; the programs'
 * side (messages, usage, option values, progress) is in util_opt.c */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util.h"

int
ch_errf(struct ch_err *e, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static _Noreturn void
oom(void)
{
	fputs("out of memory\n", stderr);
	abort();
}

void *
ch_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *
ch_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *
ch_realloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *
ch_reallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		oom();
	return ch_realloc(p, n * size);
}

char *
ch_strdup(const char *s)
{
	return ch_strndup(s, strlen(s));
}

char *
ch_strndup(const char *s, size_t n)
{
	char *p = ch_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* parsing */

int
ch_is_missing(const char *s, size_t len)
{
	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0)
		return 1;
	return (len == 2 && memcmp(s, "NA", 2) == 0) ||
	    (len == 3 && memcmp(s, "NaN", 3) == 0) ||
	    (len == 1 && *s == '?');
}

int
ch_parse_double(const char *s, size_t len, double *out)
{
	char buf[64], *end;
	size_t i;
	double v;

	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof buf)
		return -1;
	/* strtod also takes hex, inf and nan; a data cell must be decimal */
	for (i = 0; i < len; i++)
		if (!strchr("0123456789+-.eE", s[i]))
			return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtod(buf, &end);
	if (end != buf + len || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/* string map: open addressing, FNV-1a, keys in one growing arena */

struct ch_strmap {
	size_t n, cap;          /* keys, slots (power of two) */
	long *slot;             /* key index or -1 */
	uint32_t *hash;         /* [n] */
	size_t *off, *len;      /* [n] into arena */
	char *arena;
	size_t alen, acap;
	size_t kcap;
};

static uint32_t
fnv1a(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	while (len--)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

struct ch_strmap *
ch_strmap_new(void)
{
	struct ch_strmap *m = ch_calloc(1, sizeof *m);

	m->cap = 16;
	m->slot = ch_malloc(m->cap * sizeof *m->slot);
	memset(m->slot, 0xff, m->cap * sizeof *m->slot);
	return m;
}

void
ch_strmap_free(struct ch_strmap *m)
{
	if (!m)
		return;
	free(m->slot);
	free(m->hash);
	free(m->off);
	free(m->len);
	free(m->arena);
	free(m);
}

static long
lookup(const struct ch_strmap *m, const char *s, size_t len, uint32_t h,
    size_t *where)
{
	size_t i = h & (m->cap - 1);
	long k;

	while ((k = m->slot[i]) >= 0) {
		if (m->hash[k] == h && m->len[k] == len &&
		    memcmp(m->arena + m->off[k], s, len) == 0)
			return k;
		i = (i + 1) & (m->cap - 1);
	}
	*where = i;
	return -1;
}

static void
grow(struct ch_strmap *m)
{
	size_t i, j;

	free(m->slot);
	m->cap *= 2;
	m->slot = ch_malloc(m->cap * sizeof *m->slot);
	memset(m->slot, 0xff, m->cap * sizeof *m->slot);
	for (i = 0; i < m->n; i++) {
		j = m->hash[i] & (m->cap - 1);
		while (m->slot[j] >= 0)
			j = (j + 1) & (m->cap - 1);
		m->slot[j] = (long)i;
	}
}

long
ch_strmap_put(struct ch_strmap *m, const char *s, size_t len, int *added)
{
	uint32_t h = fnv1a(s, len);
	size_t where;
	long k = lookup(m, s, len, h, &where);

	if (added)
		*added = k < 0;
	if (k >= 0)
		return k;
	if (m->n == m->kcap) {
		m->kcap = m->kcap ? 2 * m->kcap : 16;
		m->hash = ch_reallocarray(m->hash, m->kcap, sizeof *m->hash);
		m->off = ch_reallocarray(m->off, m->kcap, sizeof *m->off);
		m->len = ch_reallocarray(m->len, m->kcap, sizeof *m->len);
	}
	while (m->alen + len + 1 > m->acap) {
		m->acap = m->acap ? 2 * m->acap : 256;
		m->arena = ch_realloc(m->arena, m->acap);
	}
	memcpy(m->arena + m->alen, s, len);
	m->arena[m->alen + len] = '\0';
	k = (long)m->n++;
	m->hash[k] = h;
	m->off[k] = m->alen;
	m->len[k] = len;
	m->alen += len + 1;
	m->slot[where] = k;
	if (2 * m->n > m->cap)
		grow(m);
	return k;
}

long
ch_strmap_get(const struct ch_strmap *m, const char *s, size_t len)
{
	size_t where;

	return lookup(m, s, len, fnv1a(s, len), &where);
}

size_t
ch_strmap_count(const struct ch_strmap *m)
{
	return m->n;
}

const char *
ch_strmap_key(const struct ch_strmap *m, size_t i, size_t *len)
{
	if (len)
		*len = m->len[i];
	return m->arena + m->off[i];
}

/* string lists */

char **
ch_strv_split(const char *list)
{
	char **v;
	const char *p, *q;
	size_t n = 0, cap = 4;

	v = ch_malloc(cap * sizeof *v);
	for (p = list; p && *p; p = *q ? q + 1 : q) {
		q = strchr(p, ',');
		if (!q)
			q = p + strlen(p);
		if (q > p) {
			if (n + 2 > cap)
				v = ch_reallocarray(v, cap *= 2, sizeof *v);
			v[n++] = ch_strndup(p, (size_t)(q - p));
		}
	}
	v[n] = NULL;
	return v;
}

void
ch_strv_free(char **v)
{
	char **p;

	if (!v)
		return;
	for (p = v; *p; p++)
		free(*p);
	free(v);
}

int
ch_strv_has(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return 1;
	return 0;
}

/* JSON, buffers, directories */

const char *
ch_jstr(const json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : dflt;
}

char *
ch_buf_room(struct ch_buf *b, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? 2 * b->cap : 1024;
		b->s = ch_realloc(b->s, b->cap);
	}
	return b->s + b->len;
}

void
ch_buf_add(struct ch_buf *b, const void *p, size_t n)
{
	memcpy(ch_buf_room(b, n), p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
ch_buf_adds(struct ch_buf *b, const char *s)
{
	ch_buf_add(b, s, strlen(s));
}

void
ch_buf_printf(struct ch_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	ch_buf_room(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* The 17 significant digits of |x| (nonzero, finite) in d and the
 * decimal exponent of the first in *x10, rounded as printf rounds them;
 * -1 when the product might round otherwise (then printf decides). */
static int
g17_digits(double x, char d[17], int *x10)
{
#if LDBL_MANT_DIG >= 64
	/* exact in a 64-bit mantissa: 5^27 < 2^64 */
	static const long double p10[28] = { 1e0L, 1e1L, 1e2L, 1e3L, 1e4L,
	    1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L, 1e11L, 1e12L, 1e13L, 1e14L,
	    1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L, 1e23L,
	    1e24L, 1e25L, 1e26L, 1e27L };
	long double v, fl, fr;
	unsigned long long n;
	int e2, k, tries, i;

	x = fabs(x);
	frexp(x, &e2);
	*x10 = (int)floor((e2 - 1) * 0.30102999566398120);
	for (tries = 0; ; tries++) {
		/* v = x 10^k in [1e16, 1e17): one rounding, 2^-64 relative */
		k = 16 - *x10;
		if (k > 27 || k < -27 || tries > 1)
			return -1;
		v = k >= 0 ? (long double)x * p10[k] : (long double)x / p10[-k];
		if (v >= 1e17L)
			++*x10;
		else if (v < 1e16L)
			--*x10;
		else
			break;
	}
	/* v is within 2^-8 of the exact product: away from a tie, the
	 * rounding to 17 digits is the exact one's */
	fl = floorl(v);
	fr = v - fl;
	if (fabsl(fr - 0.5L) < 0.01L)
		return -1;
	n = (unsigned long long)fl + (fr > 0.5L);
	if (n == 100000000000000000ull) {
		n /= 10;
		++*x10;
	}
	for (i = 16; i >= 0; i--, n /= 10)
		d[i] = (char)('0' + n % 10);
	return 0;
#else
	(void)x, (void)d, (void)x10;
	return -1;
#endif
}

size_t
ch_g17(double x, char out[32])
{
	char d[17], *o = out;
	int x10, nd, i;

	if (x == 0 || !isfinite(x) || g17_digits(x, d, &x10) < 0)
		return (size_t)snprintf(out, 32, "%.17g", x);
	if (signbit(x))
		*o++ = '-';
	for (nd = 17; nd > 1 && d[nd - 1] == '0'; nd--)
		;
	if (x10 < -4 || x10 >= 17) {            /* d.ddde+XX */
		*o++ = d[0];
		if (nd > 1) {
			*o++ = '.';
			memcpy(o, d + 1, (size_t)nd - 1);
			o += nd - 1;
		}
		*o++ = 'e';
		*o++ = x10 < 0 ? '-' : '+';
		x10 = abs(x10);
		if (x10 >= 100)
			*o++ = (char)('0' + x10 / 100);
		*o++ = (char)('0' + x10 / 10 % 10);
		*o++ = (char)('0' + x10 % 10);
		*o = '\0';
		return (size_t)(o - out);
	}
	if (x10 < 0) {                          /* 0.000ddd */
		*o++ = '0', *o++ = '.';
		for (i = -1; i > x10; i--)
			*o++ = '0';
		memcpy(o, d, (size_t)nd);
		o += nd;
	} else {                                /* ddd.ddd */
		memcpy(o, d, (size_t)x10 + 1);
		o += x10 + 1;
		if (nd > x10 + 1) {
			*o++ = '.';
			memcpy(o, d + x10 + 1, (size_t)(nd - x10 - 1));
			o += nd - x10 - 1;
		}
	}
	*o = '\0';
	return (size_t)(o - out);
}

void
ch_buf_g17(struct ch_buf *b, double x)
{
	b->len += ch_g17(x, ch_buf_room(b, 32));
}

int
ch_mkdirs(const char *dir, struct ch_err *e)
{
	char *p, *d = ch_strdup(dir), c;
	struct stat st;

	for (p = d + 1; ; p++) {
		if (*p != '/' && *p)
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(d, 0777) != 0 && errno != EEXIST) {
			ch_errf(e, "cannot create directory '%s': %s", d,
			    strerror(errno));
			free(d);
			return -1;
		}
		*p = c;
		if (!c)
			break;
	}
	if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
		ch_errf(e, "cannot create directory '%s': %s", d,
		    strerror(ENOTDIR));
		free(d);
		return -1;
	}
	free(d);
	return 0;
}

/* hashing and times */

void
ch_hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Length of the UTF-8 character at s (at most len bytes), or 0 when the
 * bytes there are not one: the rules jansson checks (no overlong forms,
 * no surrogates, nothing above U+10FFFF); NUL counts as invalid too, for
 * the C strings that carry the result. */
static size_t
utf8_char(const unsigned char *s, size_t len)
{
	unsigned long cp;
	size_t n, i;

	if (s[0] > 0 && s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

int
ch_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < len) {
		if ((k = utf8_char(u + i, len - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

char *
ch_utf8_clean(const char *s, size_t len, size_t *outlen)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0, k;
	char *out = ch_malloc(len * 4 + 1);

	while (i < len) {
		if ((k = utf8_char(u + i, len - i)) > 0) {
			memcpy(out + o, u + i, k);
			i += k, o += k;
		} else {
			out[o++] = '\\', out[o++] = 'x';
			out[o++] = digits[u[i] >> 4];
			out[o++] = digits[u[i] & 15];
			i++;
		}
	}
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return out;
}

void
ch_sha256_hex(const void *buf, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL);
	ch_hex(md, 32, hex);
}

void
ch_version_string(time_t t, char out[17])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "v%Y%m%d-%H%M%S", &tm);
}

void
ch_iso8601(time_t t, char out[21])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

double
ch_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
ch_deadline(struct timespec *ts, double seconds)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)seconds;
	ts->tv_nsec += (long)((seconds - floor(seconds)) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int
ch_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

/* files */

/* Writes all of buf to fd, at most WRITE_PIECE bytes a call, the CPU
 * given up between pieces: a write of megabytes holds a CPU for
 * milliseconds in the kernel, where a server's requests cannot preempt
 * it.  Returns 0, or -1 with errno set. */
#define WRITE_PIECE (256 << 10)

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len < WRITE_PIECE ? len : WRITE_PIECE);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
		if (len > 0)
			sched_yield();
	}
	return 0;
}

/* A regular file (or nothing yet) at path: a temporary file beside it, fsync,
 * rename over path, fsync of the directory. */
static int
replace_file(const char *path, const void *buf, size_t len,
    struct ch_err *e)
{
	char *tmp, *dcopy;
	size_t n = strlen(path) + 16;
	int fd, dfd, rc = -1;

	tmp = ch_malloc(n);
	snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ch_errf(e, "create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	if (write_all(fd, buf, len) != 0) {
		ch_errf(e, "write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (fsync(fd) != 0) {
		ch_errf(e, "fsync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		ch_errf(e, "close %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		ch_errf(e, "rename %s to %s: %s", tmp, path, strerror(errno));
		goto fail;
	}
	dcopy = ch_strdup(path);
	dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(dcopy);
	free(tmp);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return rc;
}

/* A device or a FIFO: opened and written where it is (a FIFO waits for its
 * reader, as a shell's > does). */
static int
write_in_place(const char *path, const struct stat *st, const void *buf,
    size_t len, struct ch_err *e)
{
	int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return ch_errf(e, "open %s: %s", path, strerror(errno));
	if (write_all(fd, buf, len) != 0 ||
	    (S_ISBLK(st->st_mode) && fsync(fd) != 0)) {
		ch_errf(e, "write %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) != 0)
		return ch_errf(e, "close %s: %s", path, strerror(errno));
	return 0;
}

/*
 * The name a write to path lands on: its symbolic links followed one by
 * one (a relative one from the link's own directory) up to a name that is
 * not a link, which may not exist yet.  Returns a malloc'd path, or NULL
 * with e filled.
 */
static char *
follow_links(const char *path, struct ch_err *e)
{
	char *cur = ch_strdup(path), *next, *slash, link[PATH_MAX];
	struct stat st;
	size_t d;
	ssize_t n;
	int hops;

	for (hops = 0; lstat(cur, &st) == 0 && S_ISLNK(st.st_mode); hops++) {
		n = hops < 40 ? readlink(cur, link, sizeof link) : -1;
		if (n < 0 || (size_t)n == sizeof link) {
			ch_errf(e, "%s: cannot follow the link %s: %s", path, cur,
			    hops == 40 ? strerror(ELOOP) : n < 0 ?
			    strerror(errno) : strerror(ENAMETOOLONG));
			free(cur);
			return NULL;
		}
		link[n] = '\0';
		slash = strrchr(cur, '/');
		d = link[0] == '/' || !slash ? 0 : (size_t)(slash - cur) + 1;
		next = ch_malloc(d + (size_t)n + 1);
		memcpy(next, cur, d);
		memcpy(next + d, link, (size_t)n + 1);
		free(cur);
		cur = next;
	}
	return cur;
}

int
ch_write_atomic(const char *path, const void *buf, size_t len,
    struct ch_err *e)
{
	struct stat st;
	char *to;
	int rc;

	if (stat(path, &st) == 0) {
		if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ||
		    S_ISFIFO(st.st_mode))
			return write_in_place(path, &st, buf, len, e);
		if (S_ISSOCK(st.st_mode))
			return ch_errf(e, "%s: is a socket, not a file", path);
		if (S_ISDIR(st.st_mode))
			return ch_errf(e, "%s: is a directory", path);
		if (!S_ISREG(st.st_mode))
			return ch_errf(e, "%s: is not a regular file", path);
	} else if (errno != ENOENT)
		return ch_errf(e, "%s: %s", path, strerror(errno));
	if (!(to = follow_links(path, e)))
		return -1;
	rc = replace_file(to, buf, len, e);
	free(to);
	return rc;
}

char *
ch_read_file(const char *path, size_t *len, struct ch_err *e)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, r;

	if (!fp) {
		ch_errf(e, "open %s: %s", path, strerror(errno));
		return NULL;
	}
	do {
		if (cap - n < 65536)
			buf = ch_realloc(buf, cap = cap ? 2 * cap : 65536 + 1);
		r = fread(buf + n, 1, cap - n - 1, fp);
		n += r;
	} while (r > 0);
	if (ferror(fp)) {
		ch_errf(e, "read %s: %s", path, strerror(errno));
		free(buf);
		buf = NULL;
	} else {
		buf[n] = '\0';
		*len = n;
	}
	if (fp != stdin)
		fclose(fp);
	return buf;
}

/* RNG: splitmix64 seeds xoshiro256** */

uint64_t
ch_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void
ch_rng_seed(struct ch_rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = ch_mix64(seed += 0x9e3779b97f4a7c15ull);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
ch_rng_next(struct ch_rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

uint64_t
ch_rng_below(struct ch_rng *r, uint64_t n)
{
	uint64_t x, lim;

	if (n <= 1)
		return 0;
	lim = -n % n;   /* 2^64 mod n: reject the short tail */
	do
		x = ch_rng_next(r);
	while (x < lim);
	return x % n;
}

double
ch_rng_unit(struct ch_rng *r)
{
	return (double)(ch_rng_next(r) >> 11) * 0x1.0p-53;
}
