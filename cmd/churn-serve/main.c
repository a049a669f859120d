/* churn-serve - HTTP API and web UI for a churn model: in-process
 * prediction, hot reload, drift checks over live traffic */
#define _GNU_SOURCE 1           /* sched_getaffinity, CPU_COUNT */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "serve.h"

#include "predlog.h"

struct config cfg = {
	.listen = "127.0.0.1:8000",
	.state_dir = "./var/serve",
	.drift_cmd = "churn-drift",
	.body_limit = 1024 * 1024,
	.conn_limit = 1024,
	.per_ip_limit = 64,
	.timeout = 30,
	.request_timeout = 15,
	.child_timeout = 60,
	.retrain_timeout = 3600,
	.child_output_limit = 8 * 1024 * 1024,
	.window_rows = 10000,
	.refresh_interval = 5,
	.registry_timeout = 5,
	.window_row_bytes = 8 * 1024,
	.window_bytes = 64 * 1024 * 1024,
	.predlog = 1,
	.predlog_flush_rows = 10000,
	.predlog_flush_interval = 1,
	.predlog_queue = 100000,
	.predlog_retain_days = CH_PREDLOG_RETAIN_DAYS,
};

/* long options without a short one */
enum { O_PREDLOG = 0x1200, O_PREDLOG_FLUSH_ROWS, O_PREDLOG_FLUSH_INTERVAL,
	O_PREDLOG_QUEUE, O_PREDLOG_RETAIN };

static const struct ch_usage use = {
	"churn-serve [-qv] [--listen ADDR:PORT] [--model FILE|ALIAS|VERSION]\n"
	"                   [--state-dir DIR] [--pid-file FILE] [--threads N]\n"
	"                   [--body-limit BYTES] [--max-connections N]\n"
	"                   [--max-connections-per-ip N] [--timeout S]\n"
	"                   [--request-timeout S]\n"
	"                   [--drift-cmd PROG] [--drift-option OPT] [--drift-timeout S]\n"
	"                   [--drift-output-limit BYTES] [--window-rows N]\n"
	"                   [--window-row-bytes BYTES] [--window-bytes BYTES]\n"
	"                   [--retrain-cmd CMD] [--retrain-timeout S]\n"
	"                   [--pipeline-cmd CMD] [--log-format text|json]\n"
	"                   [--access-log] [--refresh-interval S]\n"
	"                   [--registry-timeout S] [--cors-origin ORIGIN] [--drain S]\n"
	"                   [--predlog on|off] [--predlog-flush-rows N]\n"
	"                   [--predlog-flush-interval S] [--predlog-queue N]\n"
	"                   [--predlog-retain-days N]\n",
	"  --listen ADDR:PORT    where to listen (127.0.0.1:8000)\n"
	"  -m, --model MODEL     a model file, or an alias or version in the registry\n"
	"  --state-dir DIR       pulled models, drift reports, the window (./var/serve)\n"
	"  --pid-file FILE       write the process ID there\n"
	"  --threads N           request threads (the CPUs it may run on)\n"
	"  --body-limit BYTES    the largest request body, k, M, G allowed (1M)\n"
	"  --max-connections N   connections at once (1024)\n"
	"  --max-connections-per-ip N   connections at once from one address (64; 0: any)\n"
	"  --timeout S           idle connection timeout, seconds (30)\n"
	"  --request-timeout S   the whole request must arrive within S seconds (15)\n"
	"  --drift-cmd PROG      the drift program /drift/check runs (churn-drift)\n"
	"  --drift-option OPT    an option for it, as churn-drift takes it (up to 8)\n"
	"  --drift-timeout S     its time limit, seconds or 500ms, 5m, 1h (60)\n"
	"  --drift-output-limit BYTES   the most it may print (8M)\n"
	"  --window-rows N       live rows kept for drift checks (10000)\n"
	"  --window-row-bytes BYTES   a longer live row is not kept (8k)\n"
	"  --window-bytes BYTES  the window files together at most (64M)\n"
	"  --retrain-cmd CMD     what /retrain runs (none)\n"
	"  --retrain-timeout S   its time limit (1h)\n"
	"  --pipeline-cmd CMD    what the GitHub webhook runs (none)\n"
	"  --log-format F        text or json (text)\n"
	"  --access-log          a line per request (as -v does)\n"
	"  --refresh-interval S  how often the registry view is refreshed (5)\n"
	"  --registry-timeout S  each registry call at most, seconds (5)\n"
	"  --cors-origin ORIGIN  web origins allowed to call the API (none)\n"
	"  --drain S             after SIGTERM, /ready 503 for S seconds first (0)\n"
	"  --predlog on|off      keep answered rows in the registry's prediction log (on)\n"
	"  --predlog-flush-rows N       write the log when N rows wait (10000)\n"
	"  --predlog-flush-interval S   or S seconds have passed (1)\n"
	"  --predlog-queue N     rows waiting at most; more are dropped (100000)\n"
	"  --predlog-retain-days N      prune rows older than N days (180; 0: keep)\n",
	"  CHURN_LISTEN, CHURN_MODEL   defaults of --listen and --model\n"
	"  CHURN_ADMIN_TOKEN     the bearer token of /reload, /drift/check, /retrain, /outcomes\n"
	"  CHURN_WEBHOOK_SECRET  the GitHub webhook secret\n"
	"  CHURN_STORE           the store that resolves --model names (var/store)\n"
	"  CHURN_DATABASE_URL    the PostgreSQL registry and live window\n"
	"  CHURN_S3_ENDPOINT     the S3 endpoint of an s3:// store\n"
	"  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION\n"
	"                        its credentials (AWS_SESSION_TOKEN: temporary ones)\n"
	"  AWS_ENDPOINT_URL      the S3 endpoint when CHURN_S3_ENDPOINT is not set\n"
	"  CHURN_PROMOTE_MIN_ROWS, CHURN_PROMOTE_MIN_LABELLED, CHURN_PROMOTE_MARGIN\n"
	"                        GET /rollout: the verdict's rule (1000, 200, 0.01)\n",
};

/* scheme://host[:port] as a browser sends it in Origin, or "*" */
static int
is_origin(const char *o)
{
	const char *h;

	if (!strcmp(o, "*"))
		return 1;
	if (!strncmp(o, "http://", 7))
		h = o + 7;
	else if (!strncmp(o, "https://", 8))
		h = o + 8;
	else
		return 0;
	return *h && strspn(h, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.:[]") == strlen(h);
}

/* --cors-origin ORIGIN[,ORIGIN...]: adds each to list (n so far), kept
 * for the life of the process */
static const char **
cors_add(const char **list, size_t *n, const char *arg)
{
	const char *p = arg;
	size_t len;
	char *o;

	for (;;) {
		len = strcspn(p, ",");
		o = ch_strdup(p);
		o[len] = '\0';
		if (!is_origin(o))
			ch_die(2, "--cors-origin: '%s' is not an origin "
			    "(scheme://host[:port], or *)", o);
		list = ch_realloc(list, (*n + 2) * sizeof *list);
		list[(*n)++] = o;
		list[*n] = NULL;
		if (!p[len])
			return list;
		p += len + 1;
	}
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* The live-traffic window reaches its file or the database five times a
 * second, written here so that no request waits on the disk or the
 * network, and no signal waits on the window. */
static atomic_int flusher_stop;
static pthread_t flusher_th;

static void *
flusher(void *arg)
{
	(void)arg;
	while (!atomic_load(&flusher_stop)) {
		nanosleep(&(struct timespec){ 0, 200 * 1000 * 1000 }, NULL);
		window_flush();
	}
	return NULL;
}

/* --threads by default: the CPUs this process may run on (taskset, a
 * cpuset), not all the machine's.  Workers beyond them take turns on the
 * same core, each a scheduler slice (milliseconds) at a time while the
 * other's connections wait: on one core, one worker answers sooner. */
static unsigned
usable_cpus(void)
{
	cpu_set_t set;
	int n = ch_ncpus(), k;

	if (sched_getaffinity(0, sizeof set, &set) == 0 &&
	    (k = CPU_COUNT(&set)) > 0 && k < n)
		n = k;
	return (unsigned)n;
}

/* A name the registry could resolve (NULL: its newest version), not a
 * file path: no '/', and the registry's name characters only. */
static int
registry_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!name)
		return 1;
	return n > 0 && n < 64 && name[0] != '.' && name[0] != '-' &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == n;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "model", required_argument, NULL, 'm' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "body-limit", required_argument, NULL, 'b' },
		{ "max-connections", required_argument, NULL, 'c' },
		{ "max-connections-per-ip", required_argument, NULL, 'I' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "request-timeout", required_argument, NULL, 'Q' },
		{ "drift-cmd", required_argument, NULL, 'D' },
		{ "drift-timeout", required_argument, NULL, 'd' },
		{ "drift-option", required_argument, NULL, 'o' },
		{ "drift-output-limit", required_argument, NULL, 'O' },
		{ "window-rows", required_argument, NULL, 'w' },
		{ "window-row-bytes", required_argument, NULL, 'W' },
		{ "window-bytes", required_argument, NULL, 'B' },
		{ "retrain-cmd", required_argument, NULL, 'R' },
		{ "retrain-timeout", required_argument, NULL, 'r' },
		{ "pipeline-cmd", required_argument, NULL, 'P' },
		{ "log-format", required_argument, NULL, 'L' },
		{ "access-log", no_argument, NULL, 'a' },
		{ "refresh-interval", required_argument, NULL, 'F' },
		{ "registry-timeout", required_argument, NULL, 'G' },
		{ "drain", required_argument, NULL, 'N' },
		{ "cors-origin", required_argument, NULL, 'C' },
		{ "predlog", required_argument, NULL, O_PREDLOG },
		{ "predlog-flush-rows", required_argument, NULL, O_PREDLOG_FLUSH_ROWS },
		{ "predlog-flush-interval", required_argument, NULL, O_PREDLOG_FLUSH_INTERVAL },
		{ "predlog-queue", required_argument, NULL, O_PREDLOG_QUEUE },
		{ "predlog-retain-days", required_argument, NULL, O_PREDLOG_RETAIN },
		CH_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct MHD_Daemon *d;
	struct ch_err e;
	sigset_t set;
	char version[17], bound[200];
	const char **cors = NULL;
	size_t ncors = 0;
	int c, sig;

	ch_setprogname(argv[0]);
	if (env("CHURN_LISTEN"))
		cfg.listen = env("CHURN_LISTEN");
	if (env("CHURN_MODEL"))
		cfg.model = env("CHURN_MODEL");
	cfg.admin_token = env("CHURN_ADMIN_TOKEN");
	cfg.webhook_secret = env("CHURN_WEBHOOK_SECRET");
	cfg.store = env("CHURN_STORE");
	cfg.database_url = env("CHURN_DATABASE_URL");
	cfg.threads = usable_cpus();
	while ((c = getopt_long(argc, argv, "l:m:s:p:t:" CH_COMMON_SHORTOPTS,
	    lo, NULL)) != -1) {
		if (ch_common_opt(c, &use))
			continue;
		switch (c) {
		case 'l': cfg.listen = optarg; break;
		case 'm': cfg.model = optarg; break;
		case 's': cfg.state_dir = optarg; break;
		case 'p': cfg.pid_file = optarg; break;
		case 't': cfg.threads = (unsigned)ch_opt_int("--threads", optarg, 1, 256); break;
		case 'b': cfg.body_limit = ch_opt_size("--body-limit", optarg, 1024, 1UL << 30); break;
		case 'c': cfg.conn_limit = (unsigned)ch_opt_int("--max-connections", optarg, 1, 100000); break;
		case 'T': cfg.timeout = (unsigned)ch_opt_int("--timeout", optarg, 1, 86400); break;
		case 'D': cfg.drift_cmd = optarg; break;
		case 'o':
			if (optarg[0] != '-' || optarg[1] == '\0')
				ch_die(2, "--drift-option: '%s' is not an option "
				    "(e.g. --min-rows=200)", optarg);
			if (cfg.ndrift_opts == 8)
				ch_die(2, "--drift-option: at most 8");
			cfg.drift_opts[cfg.ndrift_opts++] = optarg;
			break;
		case 'd': cfg.child_timeout = ch_opt_seconds("--drift-timeout", optarg, 0.001, 86400); break;
		case 'O': cfg.child_output_limit = ch_opt_size("--drift-output-limit", optarg, 1024, 1UL << 30); break;
		case 'w': cfg.window_rows = (long)ch_opt_int("--window-rows", optarg, 10, 10000000); break;
		case 'I': cfg.per_ip_limit = (unsigned)ch_opt_int("--max-connections-per-ip", optarg, 0, 100000); break;
		case 'Q': cfg.request_timeout = ch_opt_seconds("--request-timeout", optarg, 0.001, 86400); break;
		case 'W': cfg.window_row_bytes = ch_opt_size("--window-row-bytes", optarg, 256, 1UL << 24); break;
		case 'B': cfg.window_bytes = ch_opt_size("--window-bytes", optarg, 4096, 1ULL << 40); break;
		case 'R': cfg.retrain_cmd = optarg; break;
		case 'r': cfg.retrain_timeout = ch_opt_seconds("--retrain-timeout", optarg, 0.001, 86400); break;
		case 'P': cfg.pipeline_cmd = optarg; break;
		case 'L':
			if (!strcmp(optarg, "json"))
				cfg.log_json = 1;
			else if (strcmp(optarg, "text") != 0)
				ch_die(2, "--log-format: '%s' is not text or "
				    "json", optarg);
			break;
		case 'a': cfg.access_log = 1; break;
		case 'F': cfg.refresh_interval = ch_opt_seconds("--refresh-interval", optarg, 0.001, 86400); break;
		case 'G': cfg.registry_timeout = (unsigned)ch_opt_int("--registry-timeout", optarg, 1, 3600); break;
		case 'C': cfg.cors_origins = cors = cors_add(cors, &ncors, optarg); break;
		case 'N': cfg.drain = ch_opt_seconds("--drain", optarg, 0, 3600); break;
		case O_PREDLOG:
			if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0)
				ch_die(2, "--predlog: '%s' is not on or off", optarg);
			cfg.predlog = !strcmp(optarg, "on");
			break;
		case O_PREDLOG_FLUSH_ROWS: cfg.predlog_flush_rows = (long)ch_opt_int("--predlog-flush-rows", optarg, 1, 1000000); break;
		case O_PREDLOG_FLUSH_INTERVAL: cfg.predlog_flush_interval = ch_opt_seconds("--predlog-flush-interval", optarg, 0.001, 3600); break;
		case O_PREDLOG_QUEUE: cfg.predlog_queue = (long)ch_opt_int("--predlog-queue", optarg, 1, 100000000); break;
		case O_PREDLOG_RETAIN: cfg.predlog_retain_days = (long)ch_opt_int("--predlog-retain-days", optarg, 0, 36500); break;
		default: ch_usage(&use, 2);
		}
	}
	if (optind != argc)
		ch_usage(&use, 2);
	/* -q: warnings and errors only; -v: a line per request too */
	cfg.quiet = ch_verbosity() < 0;
	if (ch_verbosity() > 0)
		cfg.access_log = 1;
	if (ch_mkdirs(cfg.state_dir, &e) != 0)
		ch_die(2, "--state-dir: %s", e.msg);

	/* signals are taken synchronously by this thread only (sigwait):
	 * every thread started from here on inherits the mask */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	metrics_init();
	if (cfg.model || reg_enabled()) {
		/* without --model: the newest version in the registry */
		if (model_reload(cfg.model, version, &e) == 0)
			slog("info", "model loaded", json_pack("{s:s,s:o}",
			    "model_version", version, "source", jtext(cfg.model ?
			    cfg.model : "newest in the registry")));
		else if (!reg_enabled() || !registry_name(cfg.model))
			ch_die(2, "%s", e.msg);
		else
			/* not there yet (an empty registry, an alias not set
			 * yet) or the registry not up: the refresher loads it
			 * when it can */
			slog("warn", "no model yet: /ready answers 503 until it "
			    "can be loaded; the registry is read again every "
			    "--refresh-interval", json_pack("{s:o,s:o,s:f}",
			    "source", jtext(cfg.model ? cfg.model :
			    "newest in the registry"), "error", jtext(e.msg),
			    "refresh_interval", cfg.refresh_interval));
	} else
		slog("warn", "no model configured: /ready answers 503 until "
		    "a reload with ?model=", NULL);
	/* the registry view: the first round gets --registry-timeout to
	 * finish before the first request; /models answers 503 with
	 * Retry-After until one has */
	if (refresher_start(&e) != 0)
		ch_die(2, "%s", e.msg);
	if (reg_enabled())
		refresher_sync(cfg.registry_timeout);
	if (window_open(cfg.state_dir, cfg.window_rows, cfg.window_row_bytes,
	    cfg.window_bytes, cfg.database_url != NULL, &e) != 0)
		ch_die(2, "%s", e.msg);
	if (predlog_start(&e) != 0)
		ch_die(2, "%s", e.msg);
	if (predlog_enabled())
		slog("info", "prediction log on", json_pack("{s:I,s:f,s:I,s:I}",
		    "flush_rows", (json_int_t)cfg.predlog_flush_rows,
		    "flush_interval_s", cfg.predlog_flush_interval, "queue",
		    (json_int_t)cfg.predlog_queue, "retain_days",
		    (json_int_t)cfg.predlog_retain_days));
	if (!(d = http_start(cfg.listen, bound, sizeof bound, &e)))
		ch_die(2, "%s", e.msg);
	if (cfg.pid_file) {
		char pid[32];
		int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
		if (ch_write_atomic(cfg.pid_file, pid, (size_t)n, &e) != 0)
			ch_die(2, "%s", e.msg);
	}
	/* the last word of the start: scripts wait for this line */
	slog("info", "listening", json_pack("{s:s,s:i,s:I}", "addr", bound,
	    "threads", (int)cfg.threads, "body_limit",
	    (json_int_t)cfg.body_limit));

	if ((c = pthread_create(&flusher_th, NULL, flusher, NULL)) != 0)
		ch_die(2, "cannot start the window writer: %s", strerror(c));
	for (;;) {
		/* this thread only waits for signals: a slow window write
		 * never delays SIGTERM's drain */
		if ((sig = sigwaitinfo(&set, NULL)) < 0)
			continue;
		if (sig == SIGHUP) {
			/* the refresher reloads: this thread never waits on
			 * the registry */
			refresher_wake(REFRESH_RELOAD | REFRESH_REGISTRY);
			continue;
		}
		break;
	}
	slog("info", "shutting down", json_pack("{s:s,s:f}", "signal",
	    sig == SIGTERM ? "TERM" : "INT", "drain_s", cfg.drain));
	/* --drain: /ready says 503 while requests are still served, so that a
	 * load balancer's checks take this replica out before it closes */
	http_drain();
	for (double until = ch_seconds() + cfg.drain; ch_seconds() < until; ) {
		struct timespec tick = { 0, 100 * 1000 * 1000 };

		if (sigtimedwait(&set, NULL, &tick) == SIGINT)
			break;      /* a second, impatient stop */
	}
	http_stop(d, 10);
	/* every answered row is queued by now: write them */
	predlog_stop();
	atomic_store(&flusher_stop, 1);
	pthread_join(flusher_th, NULL);
	refresher_stop();
	window_close();
	model_shutdown();
	reg_close();
	if (cfg.pid_file) {
		/* the file written at the start, never a device or a FIFO */
		char *f = realpath(cfg.pid_file, NULL);
		struct stat st;

		if (f && stat(f, &st) == 0 && S_ISREG(st.st_mode))
			unlink(f);
		free(f);
	}
	slog("info", "stopped", NULL);
	return 0;
}
