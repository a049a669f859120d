/* churn-outcomes - record whether customers left, for live performance */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "outcomes.h"
#include "predlog.h"
#include "registry.h"
#include "util.h"

static const struct ch_usage use = {
	"churn-outcomes [-qv] [--store URL] [--database URL] [--positive label]\n"
	"                      [--time T] [--json] [file ...]\n",
	"  --store URL           the registry's store (var/store)\n"
	"  --database URL        the PostgreSQL registry; else objects in the store\n"
	"  --positive LABEL      the outcome label that means churned (Yes/1/true/Y)\n"
	"  --time T              the time of rows without one (today, UTC)\n"
	"  --json                the counts as one JSON line a file on stdout\n"
	"files: CSV with a header (id, outcome[, time]) or JSON lines; none or - is stdin\n",
	"  CHURN_STORE           the store when --store is not given (var/store)\n"
	"  CHURN_DATABASE_URL    the registry when --database is not given\n"
	"  CHURN_REGISTRY_TIMEOUT  each registry call at most, seconds (30 S3, 10 connect)\n"
	"  CHURN_S3_ENDPOINT     the S3 endpoint of an s3:// store\n"
	"  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION   its credentials\n",
};

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "store", required_argument, NULL, 's' },
		{ "database", required_argument, NULL, 'd' },
		{ "positive", required_argument, NULL, 'p' },
		{ "time", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		CH_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct ch_registry_opts ro = { 0 };
	struct ch_outcomes_opts oo = { 0 };
	struct ch_registry *r;
	struct ch_err e;
	const char *deftime = NULL;
	char *stdin_only[] = { "-", NULL }, **files;
	int c, asjson = 0;

	ch_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, CH_COMMON_SHORTOPTS, lo, NULL)) != -1) {
		if (ch_common_opt(c, &use))
			continue;
		switch (c) {
		case 's': ro.store_url = optarg; break;
		case 'd': ro.database_url = optarg; break;
		case 'p': oo.positive = optarg; break;
		case 't': deftime = optarg; break;
		case 'j': asjson = 1; break;
		default: ch_usage(&use, 2);
		}
	}
	if (oo.positive && !*oo.positive)
		ch_die(2, "--positive: an empty label");
	if (deftime) {
		if (ch_time_parse(deftime, strlen(deftime), &oo.default_time) < 0)
			ch_die(2, "--time: '%s' is not a time (YYYY-MM-DD or "
			    "YYYY-MM-DDTHH:MM:SSZ)", deftime);
	} else {
		/* today, UTC, at midnight: a file loaded twice today has the
		 * same keys */
		time_t now = time(NULL);
		oo.default_time = now - now % 86400;
	}
	files = optind < argc ? argv + optind : stdin_only;

	ch_registry_opts_fill(&ro, getenv);
	if (ch_registry_open(&ro, &r, &e) != 0)
		ch_die(2, "%s", e.msg);
	for (; *files; files++) {
		const char *name = strcmp(*files, "-") == 0 ? "<stdin>" : *files;
		struct ch_outcomes_stats st;
		size_t len;
		char *buf = ch_read_file(*files, &len, &e);

		if (!buf)
			ch_die(2, "%s", e.msg);
		if (ch_outcomes_load(r, buf, len, name, &oo, &st, &e) != 0)
			ch_die(2, "%s (nothing recorded from it)", e.msg);
		free(buf);
		if (ch_verbosity() >= 0)
			ch_warn("%s: %zu rows (%zu churned): %zu recorded, %zu "
			    "already recorded, %zu unmatched (never scored)", name,
			    st.rows, st.positives, st.recorded, st.duplicates,
			    st.unmatched);
		if (asjson) {
			json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s}",
			    "file", name, "rows", (json_int_t)st.rows, "positives",
			    (json_int_t)st.positives, "recorded",
			    (json_int_t)st.recorded, "duplicates",
			    (json_int_t)st.duplicates, "unmatched",
			    (json_int_t)st.unmatched, "registry",
			    ch_registry_db_where(r));
			json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
			putchar('\n');
			json_decref(j);
		}
	}
	ch_registry_close(r);
	ch_fshut(stdout, "<stdout>");
	return 0;
}
