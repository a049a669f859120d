/* prom.c - request counters, latency histograms, Prometheus text */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"

/* Counters are kept per metric label: routes sharing a label (/ and
 * /index.html) share a slot, and requests to no route count as "other",
 * the last slot. */
#define SLOTS 64
static int row_slot[SLOTS];             /* route row -> slot */
static const char *slot_name[SLOTS];
static size_t nslots;

/* the statuses the server answers with; anything else counts as "other" */
static const int statuses[] = {
	200, 202, 204, 304, 400, 401, 404, 405, 411, 413, 415, 422, 500,
	502, 503, 504, 0
};
#define NSTATUS (sizeof statuses / sizeof statuses[0])

/* latency bucket upper bounds, seconds */
static const double bounds[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
#define NBUCKET (sizeof bounds / sizeof bounds[0])

static const char *const refusal_name[REF_N] = {
	[REF_PER_IP] = "per_ip", [REF_LIMIT] = "limit",
	[REF_DEADLINE] = "deadline", [REF_EVICTED] = "evicted",
};

/* Per-second request counts over the last minute: slot s % 60 holds the
 * count of second s.  Races at a second boundary lose a few counts; the
 * rate is an estimate. */
struct slot {
	atomic_long sec;
	atomic_long n;
};

static struct {
	atomic_long req[SLOTS][NSTATUS];
	atomic_long bucket[SLOTS][NBUCKET + 1];   /* not cumulative */
	atomic_long sum_us[SLOTS];
	atomic_long total;
	atomic_long predictions;
	atomic_long refused[REF_N];
	struct slot slot[60];
	double start;
	pthread_mutex_t drift_mu;
	int drift_known, drift;
	double drift_share, drift_time;
	char drift_version[32];
} M = { .drift_mu = PTHREAD_MUTEX_INITIALIZER };

void
metrics_init(void)
{
	size_t i, j;

	if (nroutes + 1 > SLOTS)
		ch_die(2, "%zu routes: prom.c counts at most %d", nroutes,
		    SLOTS - 1);
	for (i = 0; i < nroutes; i++) {
		for (j = 0; j < nslots && strcmp(slot_name[j],
		    route_name((int)i)); j++)
			;
		if (j == nslots)
			slot_name[nslots++] = route_name((int)i);
		row_slot[i] = (int)j;
	}
	slot_name[nslots++] = route_name(-1);
	M.start = ch_seconds();
}

double
metrics_uptime(void)
{
	return ch_seconds() - M.start;
}

void
metrics_request(int route, int status, double seconds)
{
	int r = route >= 0 && (size_t)route < nroutes ? row_slot[route] :
	    (int)nslots - 1;
	size_t i, b;
	long sec = (long)ch_seconds();
	struct slot *sl = &M.slot[sec % 60];
	long old = atomic_load_explicit(&sl->sec, memory_order_relaxed);

	for (i = 0; i < NSTATUS - 1 && statuses[i] != status; i++)
		;
	atomic_fetch_add_explicit(&M.req[r][i], 1, memory_order_relaxed);
	for (b = 0; b < NBUCKET && seconds > bounds[b]; b++)
		;
	atomic_fetch_add_explicit(&M.bucket[r][b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&M.sum_us[r], (long)(seconds * 1e6),
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&M.total, 1, memory_order_relaxed);
	if (old != sec &&
	    atomic_compare_exchange_strong(&sl->sec, &old, sec))
		atomic_store_explicit(&sl->n, 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&sl->n, 1, memory_order_relaxed);
}

void
metrics_predictions(long rows)
{
	atomic_fetch_add_explicit(&M.predictions, rows, memory_order_relaxed);
}

void
metrics_refused(enum refusal why)
{
	atomic_fetch_add_explicit(&M.refused[why], 1, memory_order_relaxed);
}

long
metrics_refused_count(enum refusal why)
{
	return atomic_load(&M.refused[why]);
}

void
metrics_drift(int drift, double share, const char *version)
{
	pthread_mutex_lock(&M.drift_mu);
	M.drift_known = 1;
	M.drift = drift;
	M.drift_share = share;
	M.drift_time = (double)time(NULL);
	snprintf(M.drift_version, sizeof M.drift_version, "%s",
	    version ? version : "");
	pthread_mutex_unlock(&M.drift_mu);
}

long
metrics_requests(void)
{
	return atomic_load(&M.total);
}

double
metrics_rate(void)
{
	long now = (long)ch_seconds(), n = 0;
	double span = metrics_uptime();
	int i;

	for (i = 0; i < 60; i++) {
		long s = atomic_load(&M.slot[i].sec);
		/* the current second is still filling: count the 60 before */
		if (s < now && s >= now - 60)
			n += atomic_load(&M.slot[i].n);
	}
	span = span < 1 ? 0 : span - 1 > 60 ? 60 : floor(span - 1 + 1e-9);
	return span <= 0 ? 0 : n / span;
}

/* Appends Prometheus text; label values here are plain ASCII (routes,
 * versions vYYYYMMDD-HHMMSS, hex digests). */
char *
metrics_render(size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *fp = open_memstream(&buf, &n);
	struct loaded *l = model_acquire();
	size_t r, i, b;

	fputs("# HELP churn_http_requests_total HTTP requests by route and status.\n"
	    "# TYPE churn_http_requests_total counter\n", fp);
	for (r = 0; r < nslots; r++)
		for (i = 0; i < NSTATUS; i++) {
			long v = atomic_load(&M.req[r][i]);
			if (!v)
				continue;
			if (statuses[i])
				fprintf(fp, "churn_http_requests_total{route=\"%s\",status=\"%d\"} %ld\n",
				    slot_name[r], statuses[i], v);
			else
				fprintf(fp, "churn_http_requests_total{route=\"%s\",status=\"other\"} %ld\n",
				    slot_name[r], v);
		}
	fputs("# HELP churn_http_request_duration_seconds Time from request start to response completion.\n"
	    "# TYPE churn_http_request_duration_seconds histogram\n", fp);
	for (r = 0; r < nslots; r++) {
		long cum = 0;
		for (b = 0; b <= NBUCKET; b++)
			cum += atomic_load(&M.bucket[r][b]);
		if (!cum)
			continue;
		cum = 0;
		for (b = 0; b < NBUCKET; b++) {
			cum += atomic_load(&M.bucket[r][b]);
			fprintf(fp, "churn_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %ld\n",
			    slot_name[r], bounds[b], cum);
		}
		cum += atomic_load(&M.bucket[r][NBUCKET]);
		fprintf(fp, "churn_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %ld\n",
		    slot_name[r], cum);
		fprintf(fp, "churn_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
		    slot_name[r], atomic_load(&M.sum_us[r]) / 1e6);
		fprintf(fp, "churn_http_request_duration_seconds_count{route=\"%s\"} %ld\n",
		    slot_name[r], cum);
	}
	fprintf(fp, "# HELP churn_predictions_total Rows scored.\n"
	    "# TYPE churn_predictions_total counter\n"
	    "churn_predictions_total %ld\n", atomic_load(&M.predictions));
	fprintf(fp, "# HELP churn_model_reloads_total Successful model loads.\n"
	    "# TYPE churn_model_reloads_total counter\n"
	    "churn_model_reloads_total %ld\n", model_reload_count());
	fprintf(fp, "# HELP churn_model_reload_failures_total Failed model loads (the old model kept serving).\n"
	    "# TYPE churn_model_reload_failures_total counter\n"
	    "churn_model_reload_failures_total %ld\n", model_reload_failures());
	fputs("# HELP churn_model_info The loaded model (value 1).\n"
	    "# TYPE churn_model_info gauge\n", fp);
	if (l)
		fprintf(fp, "churn_model_info{version=\"%s\",sha256=\"%s\"} 1\n",
		    l->m->version, l->m->sha256);
	fprintf(fp, "# HELP churn_model_loaded Whether a model is loaded.\n"
	    "# TYPE churn_model_loaded gauge\nchurn_model_loaded %d\n", l != NULL);
	pthread_mutex_lock(&M.drift_mu);
	if (M.drift_known) {
		fprintf(fp, "# HELP churn_drift_detected Result of the last drift check (1 drift).\n"
		    "# TYPE churn_drift_detected gauge\n"
		    "churn_drift_detected{model_version=\"%s\"} %d\n",
		    M.drift_version, M.drift);
		fprintf(fp, "# HELP churn_drift_share Share of drifted features in the last check.\n"
		    "# TYPE churn_drift_share gauge\n"
		    "churn_drift_share{model_version=\"%s\"} %g\n",
		    M.drift_version, M.drift_share);
		fprintf(fp, "# HELP churn_drift_last_check_timestamp_seconds Time of the last drift check.\n"
		    "# TYPE churn_drift_last_check_timestamp_seconds gauge\n"
		    "churn_drift_last_check_timestamp_seconds %.0f\n", M.drift_time);
	}
	pthread_mutex_unlock(&M.drift_mu);
	fputs("# HELP churn_connections_refused_total Connections refused when "
	    "they opened (per_ip: over their address's limit; limit: over the "
	    "total) or closed before their request was whole (deadline: past "
	    "the request timeout; evicted: to make room for a new client).\n"
	    "# TYPE churn_connections_refused_total counter\n", fp);
	for (i = 0; i < REF_N; i++)
		fprintf(fp, "churn_connections_refused_total{reason=\"%s\"} %ld\n",
		    refusal_name[i], metrics_refused_count(i));
	rollout_metrics(fp);
	predlog_metrics(fp);
	fprintf(fp, "# HELP churn_connections_open Open client connections.\n"
	    "# TYPE churn_connections_open gauge\nchurn_connections_open %u\n",
	    guard_open());
	fprintf(fp, "# HELP churn_uptime_seconds Seconds since start.\n"
	    "# TYPE churn_uptime_seconds gauge\nchurn_uptime_seconds %.3f\n",
	    metrics_uptime());
	fclose(fp);
	if (l)
		model_release(l);
	*len = n;
	return buf;
}
