/* churn-serve - HTTP API and web UI for a churn model: in-process
 * prediction, hot reload, drift checks over live traffic */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "serve.h"

struct config cfg = {
	.listen = "127.0.0.1:8000",
	.state_dir = "./var/serve",
	.drift_cmd = "churn-drift",
	.body_limit = 1024 * 1024,
	.conn_limit = 1024,
	.timeout = 30,
	.child_timeout = 60,
	.retrain_timeout = 3600,
	.child_output_limit = 8 * 1024 * 1024,
	.window_rows = 10000,
};

static const struct ch_usage use = {
	"churn-serve [-qv] [--listen ADDR:PORT] [--model FILE|ALIAS|VERSION]\n"
	"                   [--state-dir DIR] [--pid-file FILE] [--threads N]\n"
	"                   [--body-limit BYTES] [--max-connections N] [--timeout S]\n"
	"                   [--drift-cmd PROG] [--drift-timeout S]\n"
	"                   [--drift-output-limit BYTES] [--window-rows N]\n"
	"                   [--retrain-cmd CMD] [--retrain-timeout S]\n"
	"                   [--pipeline-cmd CMD] [--log-format text|json]\n"
	"                   [--access-log]\n",
	"  --listen ADDR:PORT    where to listen (127.0.0.1:8000)\n"
	"  -m, --model MODEL     a model file, or an alias or version in the registry\n"
	"  --state-dir DIR       pulled models, drift reports, the window (./var/serve)\n"
	"  --pid-file FILE       write the process ID there\n"
	"  --threads N           request threads (all cores)\n"
	"  --body-limit BYTES    the largest request body, k, M, G allowed (1M)\n"
	"  --max-connections N   connections at once (1024)\n"
	"  --timeout S           idle connection timeout, seconds (30)\n"
	"  --drift-cmd PROG      the drift program /drift/check runs (churn-drift)\n"
	"  --drift-timeout S     its time limit, seconds or 500ms, 5m, 1h (60)\n"
	"  --drift-output-limit BYTES   the most it may print (8M)\n"
	"  --window-rows N       live rows kept for drift checks (10000)\n"
	"  --retrain-cmd CMD     what /retrain runs (none)\n"
	"  --retrain-timeout S   its time limit (1h)\n"
	"  --pipeline-cmd CMD    what the GitHub webhook runs (none)\n"
	"  --log-format F        text or json (text)\n"
	"  --access-log          a line per request (as -v does)\n",
	"  CHURN_LISTEN, CHURN_MODEL   defaults of --listen and --model\n"
	"  CHURN_ADMIN_TOKEN     the bearer token of /reload, /drift/check, /retrain\n"
	"  CHURN_WEBHOOK_SECRET  the GitHub webhook secret\n"
	"  CHURN_STORE           the store that resolves --model names (var/store)\n"
	"  CHURN_DATABASE_URL    the PostgreSQL registry and live window\n"
	"  CHURN_S3_ENDPOINT     the S3 endpoint of an s3:// store\n"
	"  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION   its credentials\n",
};

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
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
		{ "timeout", required_argument, NULL, 'T' },
		{ "drift-cmd", required_argument, NULL, 'D' },
		{ "drift-timeout", required_argument, NULL, 'd' },
		{ "drift-output-limit", required_argument, NULL, 'O' },
		{ "window-rows", required_argument, NULL, 'w' },
		{ "retrain-cmd", required_argument, NULL, 'R' },
		{ "retrain-timeout", required_argument, NULL, 'r' },
		{ "pipeline-cmd", required_argument, NULL, 'P' },
		{ "log-format", required_argument, NULL, 'L' },
		{ "access-log", no_argument, NULL, 'a' },
		CH_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct MHD_Daemon *d;
	struct ch_err e;
	sigset_t set;
	char version[17], bound[200];
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
	cfg.threads = (unsigned)ch_ncpus();
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
		case 'd': cfg.child_timeout = ch_opt_seconds("--drift-timeout", optarg, 0.001, 86400); break;
		case 'O': cfg.child_output_limit = ch_opt_size("--drift-output-limit", optarg, 1024, 1UL << 30); break;
		case 'w': cfg.window_rows = (long)ch_opt_int("--window-rows", optarg, 10, 10000000); break;
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
		if (model_reload(cfg.model, version, &e) != 0)
			ch_die(2, "%s", e.msg);
		slog("info", "model loaded", json_pack("{s:s,s:s}",
		    "model_version", version, "source",
		    cfg.model ? cfg.model : "newest in the registry"));
	} else
		slog("warn", "no model configured: /ready answers 503 until "
		    "a reload with ?model=", NULL);
	if (window_open(cfg.state_dir, cfg.window_rows,
	    cfg.database_url != NULL, &e) != 0)
		ch_die(2, "%s", e.msg);
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

	for (;;) {
		/* the live-traffic window reaches its file or the database
		 * five times a second, written here so that no request waits
		 * on the disk or the network */
		struct timespec tick = { 0, 200 * 1000 * 1000 };

		sig = sigtimedwait(&set, NULL, &tick);
		window_flush();
		if (sig < 0)
			continue;
		if (sig == SIGHUP) {
			char v[17];

			if (model_reload(NULL, v, &e) == 0)
				slog("info", "reloaded", json_pack("{s:s,s:s,s:s}",
				    "model_version", v, "source",
				    cfg.model ? cfg.model : "", "by", "SIGHUP"));
			else
				slog("error", "reload failed", json_pack("{s:s,s:s}",
				    "error", e.msg, "by", "SIGHUP"));
			continue;
		}
		break;
	}
	slog("info", "shutting down", json_pack("{s:s}", "signal",
	    sig == SIGTERM ? "TERM" : "INT"));
	http_stop(d, 10);
	window_close();
	model_shutdown();
	reg_close();
	if (cfg.pid_file)
		unlink(cfg.pid_file);
	slog("info", "stopped", NULL);
	return 0;
}
