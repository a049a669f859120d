/* util_opt.c - the programs' side of util.h: their name and messages,
 * usage and the common options, option values, and progress on stderr */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* messages */

static const char *progname = "churn";
static atomic_int progress_shown;   /* a progress line is on stderr */

void
ch_setprogname(const char *argv0)
{
	const char *p = strrchr(argv0, '/');

	progname = p ? p + 1 : argv0;
}

const char *
ch_progname(void)
{
	return progname;
}

static void
vwarn(const char *fmt, va_list ap)
{
	int saved = errno;
	size_t n = strlen(fmt);

	if (atomic_load(&progress_shown))
		fputs("\r\033[K", stderr);
	fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	if (n && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
}

void
ch_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void
ch_die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(status);
}

void
ch_fshut(FILE *fp, const char *name)
{
	int bad = fflush(fp) != 0 || ferror(fp);

	if (fclose(fp) != 0)
		bad = 1;
	if (bad)
		ch_die(2, "write %s:", name);
}

/* usage and the common options */

static int verbosity;

void
ch_usage(const struct ch_usage *u, int status)
{
	if (status) {
		fprintf(stderr, "usage: %s", u->synopsis);
		fprintf(stderr, "try '%s --help' for the options\n", progname);
		exit(2);
	}
	printf("usage: %s\noptions:\n%s", u->synopsis, u->options);
	printf("%s", CH_COMMON_HELP);
	if (u->environment)
		printf("environment:\n%s", u->environment);
	ch_fshut(stdout, "<stdout>");
	exit(0);
}

int
ch_common_opt(int c, const struct ch_usage *u)
{
	switch (c) {
	case 'h':
		ch_usage(u, 0);
	case 'V':
		printf("%s %s\n", progname, CHURN_VERSION);
		ch_fshut(stdout, "<stdout>");
		exit(0);
	case 'q':
		verbosity = -1;
		return 1;
	case 'v':
		verbosity = 1;
		return 1;
	case '?':
	case ':':
		ch_usage(u, 2);
	}
	return 0;
}

int
ch_verbosity(void)
{
	return verbosity;
}

/* option values */

int
ch_parse_int(const char *s, long long *out)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)*s) && !(*s == '-' &&
	    isdigit((unsigned char)s[1])))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

/* A number and what follows it: the suffix, for durations and sizes. */
static int
number_suffix(const char *s, double *v, const char **suffix)
{
	size_t n = strspn(s, "0123456789.");

	if (n == 0 || ch_parse_double(s, n, v) != 0)
		return -1;
	*suffix = s + n;
	return 0;
}

int
ch_parse_seconds(const char *s, double *out)
{
	static const struct { const char *sfx; double mul; } unit[] = {
		{ "", 1 }, { "s", 1 }, { "ms", 1e-3 }, { "m", 60 }, { "h", 3600 },
	};
	const char *sfx;
	double v;
	size_t i;

	if (number_suffix(s, &v, &sfx) != 0)
		return -1;
	for (i = 0; i < sizeof unit / sizeof unit[0]; i++)
		if (strcmp(sfx, unit[i].sfx) == 0) {
			*out = v * unit[i].mul;
			return 0;
		}
	return -1;
}

int
ch_parse_size(const char *s, unsigned long long *out)
{
	static const char sfx[] = "kMG";
	const char *p;
	unsigned long long mul = 1;
	long long v;
	char *num;
	size_t n = strspn(s, "0123456789");
	int rc;

	if (n == 0)
		return -1;
	if (s[n]) {
		if (s[n + 1] || !(p = strchr(sfx, s[n])) || !*p)
			return -1;
		mul = 1ULL << (10 * (p - sfx + 1));
	}
	num = ch_strndup(s, n);
	rc = ch_parse_int(num, &v);
	free(num);
	if (rc != 0 || (unsigned long long)v > ULLONG_MAX / mul)
		return -1;
	*out = (unsigned long long)v * mul;
	return 0;
}

long long
ch_opt_int(const char *opt, const char *s, long long lo, long long hi)
{
	long long v;

	if (ch_parse_int(s, &v) != 0 || v < lo || v > hi)
		ch_die(2, "%s: '%s' is not a number from %lld to %lld", opt, s,
		    lo, hi);
	return v;
}

double
ch_opt_double(const char *opt, const char *s, double lo, double hi)
{
	double v;

	if (ch_parse_double(s, strlen(s), &v) != 0 || v < lo || v > hi)
		ch_die(2, "%s: '%s' is not a number from %g to %g", opt, s, lo, hi);
	return v;
}

double
ch_opt_seconds(const char *opt, const char *s, double lo, double hi)
{
	double v;

	if (ch_parse_seconds(s, &v) != 0 || v < lo || v > hi)
		ch_die(2, "%s: '%s' is not a number of seconds from %g to %g "
		    "(or with ms, s, m or h)", opt, s, lo, hi);
	return v;
}

unsigned long long
ch_opt_size(const char *opt, const char *s, unsigned long long lo,
    unsigned long long hi)
{
	unsigned long long v;

	if (ch_parse_size(s, &v) != 0 || v < lo || v > hi)
		ch_die(2, "%s: '%s' is not a number of bytes from %llu to %llu "
		    "(or with k, M or G)", opt, s, lo, hi);
	return v;
}

/* progress */

struct ch_progress {
	const char *unit;
	atomic_uint_least64_t done;
	uint64_t total;
	int fd;
	off_t size;               /* of a regular input, or 0 */
	double t0;
	int stop, shown;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
};

static void
progress_draw(struct ch_progress *p)
{
	char line[200], count[80], left[48] = "";
	uint64_t done = atomic_load(&p->done);
	double dt = ch_seconds() - p->t0, share = -1;
	off_t at = p->fd >= 0 ? lseek(p->fd, 0, SEEK_CUR) : -1;
	int n;

	if (dt <= 0)
		dt = 1e-9;
	if (p->total)
		share = (double)done / (double)p->total;
	else if (p->size > 0 && at >= 0)
		share = (double)at / (double)p->size;
	if (share > 1)
		share = 1;
	if (share > 0.001)
		snprintf(left, sizeof left, ", %.0f%%, %.0f s left", 100 * share,
		    dt * (1 - share) / share);
	if (p->unit)
		snprintf(count, sizeof count, "%llu %s, %.0f %s/s",
		    (unsigned long long)done, p->unit, (double)done / dt, p->unit);
	else if (at >= 0)	/* nothing counted: the bytes read so far */
		snprintf(count, sizeof count, "%.1f MB read, %.1f MB/s",
		    (double)at / 1e6, (double)at / 1e6 / dt);
	else			/* nor can they be (a pipe) */
		snprintf(count, sizeof count, "reading for %.0f s", dt);
	n = snprintf(line, sizeof line, "\r%s: %s%s\033[K", progname, count,
	    left);
	if (write(STDERR_FILENO, line, (size_t)n) > 0) {
		p->shown = 1;
		atomic_store(&progress_shown, 1);
	}
}

static void *
progress_thread(void *arg)
{
	struct ch_progress *p = arg;
	struct timespec ts;

	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		if (!p->stop)
			progress_draw(p);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct ch_progress *
ch_progress_new(const char *unit, int fd)
{
	struct ch_progress *p;
	struct stat st;

	if (verbosity < 0 || !isatty(STDERR_FILENO))
		return NULL;
	p = ch_calloc(1, sizeof *p);
	p->unit = unit;
	p->fd = fd;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		p->size = st.st_size;
	p->t0 = ch_seconds();
	atomic_init(&p->done, 0);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->th, NULL, progress_thread, p) != 0) {
		free(p);
		return NULL;
	}
	return p;
}

void
ch_progress_total(struct ch_progress *p, const char *unit, uint64_t total)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->unit = unit;
	p->total = total;
	p->t0 = ch_seconds();
	atomic_store(&p->done, 0);
	pthread_mutex_unlock(&p->mu);
}

void
ch_progress_set(struct ch_progress *p, uint64_t done)
{
	if (p)
		atomic_store_explicit(&p->done, done, memory_order_relaxed);
}

void
ch_progress_add(struct ch_progress *p, uint64_t n)
{
	if (p)
		atomic_fetch_add_explicit(&p->done, n, memory_order_relaxed);
}

void
ch_progress_end(struct ch_progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->th, NULL);
	if (p->shown) {
		ssize_t w = write(STDERR_FILENO, "\r\033[K", 4);
		(void)w;
		atomic_store(&progress_shown, 0);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
