/* unit.h - what every Check unit shares: a fresh temporary directory for
 * a test (unit_dir), the one main that runs a suite and turns its result
 * into the exit status, and the skip of a binary that cannot run here
 * (exit 77, tests/run's skip, after saying why).  Include after check.h. */
#ifndef CHURN_UNIT_H
#define CHURN_UNIT_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

static char unit_dir[256];

/* A checked fixture's setup and teardown: unit_dir made, then removed. */
static inline void
unit_tmpdir(void)
{
	snprintf(unit_dir, sizeof unit_dir, "/tmp/churn-unit.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(unit_dir));
}

static inline void
unit_rmdir(void)
{
	char cmd[300];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", unit_dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The variable k when set and not empty, else NULL. */
static inline const char *
unit_env(const char *k)
{
	const char *v = getenv(k);

	return v && *v ? v : NULL;
}

/* Ends a binary whose cases cannot run here: says why, exits 77. */
static inline _Noreturn void __attribute__((format(printf, 2, 3)))
unit_skip(const char *suite, const char *fmt, ...)
{
	va_list ap;

	printf("%s: skipped: ", suite);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	exit(77);
}

/* Runs the suite: exit status 0 when every case passed, else 1. */
static inline int
unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

#endif
