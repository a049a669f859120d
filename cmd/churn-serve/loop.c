/* loop.c - POST /outcomes and GET /performance: customer outcomes in,
 * each version's live performance out (outcomes.h, perf.h) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

#include "outcomes.h"
#include "perf.h"
#include "predlog.h"

/* --- POST /outcomes --------------------------------------------------- */

/*
 * The body is a file as churn-outcomes reads it (CSV with a header, or
 * JSON lines), with its rules: ?positive= and ?time= are its --positive
 * and --time, a bad row records nothing and the 422 names its line and
 * column, the rows are one transaction, a key recorded before is counted
 * as a duplicate.  Parsing and recording run off the HTTP workers
 * (admin_call).
 */
struct outcomes_job {
	const char *body;           /* the request's (kept by the req) */
	size_t len;
	struct ch_outcomes_opts o;
	struct ch_outcomes_stats st;
	int status;                 /* 0 recorded, 422 bad file, 503 */
	struct ch_err e;
};

static void
outcomes_run(void *arg)
{
	struct outcomes_job *j = arg;
	struct ch_outcome *rows = NULL;
	size_t n = 0;

	memset(&j->st, 0, sizeof j->st);
	if (ch_outcomes_parse(j->body ? j->body : "", j->len, "request body",
	    &j->o, &rows, &n, &j->e) != 0) {
		j->status = 422;
		return;
	}
	if (reg_outcomes_record(rows, n, &j->st, &j->e) != 0)
		j->status = 503;
	ch_outcomes_free(rows, n);
}

enum MHD_Result
outcomes(struct MHD_Connection *c, struct req *r)
{
	struct outcomes_job *j = admin_called(r);
	const char *pos, *t;
	enum MHD_Result ret;
	char mt[64];

	if (j)
		goto answer;
	if (!reg_available())
		return fail(c, r, 503, NULL, "no registry to record outcomes "
		    "in (CHURN_STORE)");
	media_type(c, mt, sizeof mt);
	switch (body_kind(mt)) {
	case B_CSV:
	case B_JSONL:
	case B_JSON:
	case B_FORM:    /* curl --data-binary @file: the content says */
		break;
	default:
		return fail(c, r, 415, NULL, "content type '%s' is not "
		    "accepted: send text/csv or application/x-ndjson", mt);
	}
	j = ch_calloc(1, sizeof *j);
	j->body = r->body;
	j->len = r->len;
	if ((pos = query(c, "positive")) && !*pos) {
		free(j);
		return fail(c, r, 400, NULL, "positive: an empty label");
	}
	j->o.positive = pos;
	if ((t = query(c, "time"))) {
		if (ch_time_parse(t, strlen(t), &j->o.default_time) < 0) {
			free(j);
			return fail(c, r, 400, NULL, "time: '%s' is not a time "
			    "(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)", t);
		}
	} else {
		/* today, UTC, at midnight, as churn-outcomes: a file posted
		 * twice today has the same keys */
		time_t now = time(NULL);
		j->o.default_time = now - now % 86400;
	}
	return admin_call(c, r, outcomes_run, j, free);

answer:
	if (j->status == 422)
		ret = fail(c, r, 422, NULL, "%s (nothing recorded)", j->e.msg);
	else if (j->status)
		ret = fail(c, r, 503, NULL, "outcomes not recorded: %s",
		    j->e.msg);
	else {
		slog("info", "outcomes recorded", json_pack("{s:I,s:I,s:I,s:I}",
		    "rows", (json_int_t)j->st.rows, "recorded",
		    (json_int_t)j->st.recorded, "duplicates",
		    (json_int_t)j->st.duplicates, "unmatched",
		    (json_int_t)j->st.unmatched));
		ret = send_json(c, r, 200, json_pack("{s:I,s:I,s:I,s:I,s:I}",
		    "rows", (json_int_t)j->st.rows, "positives",
		    (json_int_t)j->st.positives, "recorded",
		    (json_int_t)j->st.recorded, "duplicates",
		    (json_int_t)j->st.duplicates, "unmatched",
		    (json_int_t)j->st.unmatched));
	}
	free(j);
	return ret;
}

/* --- GET /performance ------------------------------------------------ */

/*
 * ch_perf_registry's answer (what `churn-models perf --json` prints), kept
 * PERF_CACHE_S seconds per (by, horizon): it reads every outcome and the
 * predictions they can reach, so it is computed off the HTTP workers, one
 * computation at a time, and shared by the requests of those seconds.
 */
#define PERF_CACHE_S 10.0
#define PERF_KEYS 8
#define PERF_WAITING 4          /* requests waiting for a computation */

static struct {
	pthread_mutex_t mu;         /* guards the cache */
	pthread_mutex_t run;        /* one computation at a time */
	int waiting;                /* jobs started, not freed (under mu) */
	struct {
		int by;
		long horizon;
		double at;              /* ch_seconds(), 0: empty */
		char *text;
		size_t len;
	} c[PERF_KEYS];
} P = { .mu = PTHREAD_MUTEX_INITIALIZER, .run = PTHREAD_MUTEX_INITIALIZER };

struct perf_job {
	struct ch_perf_opts o;
	char *text;                 /* the answer, or NULL with e */
	size_t len;
	struct ch_err e;
};

/* A copy of the cached answer for o when fresh, else NULL; with P.mu. */
static char *
cached(const struct ch_perf_opts *o, size_t *len)
{
	double now = ch_seconds();
	int i;

	for (i = 0; i < PERF_KEYS; i++)
		if (P.c[i].at > 0 && now - P.c[i].at < PERF_CACHE_S &&
		    P.c[i].by == (int)o->by && P.c[i].horizon == o->horizon_days) {
			*len = P.c[i].len;
			return ch_strdup(P.c[i].text);
		}
	return NULL;
}

static void
perf_run(void *arg)
{
	struct perf_job *j = arg;
	json_t *res;
	int i, old = 0;

	pthread_mutex_lock(&P.run);
	pthread_mutex_lock(&P.mu);
	j->text = cached(&j->o, &j->len);
	pthread_mutex_unlock(&P.mu);
	if (j->text || !(res = reg_perf(&j->o, &j->e))) {
		pthread_mutex_unlock(&P.run);
		return;
	}
	j->text = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(17));
	json_decref(res);
	if (!j->text) {
		ch_errf(&j->e, "performance: out of memory");
		pthread_mutex_unlock(&P.run);
		return;
	}
	j->len = strlen(j->text);
	pthread_mutex_lock(&P.mu);
	for (i = 0; i < PERF_KEYS; i++) {
		if (P.c[i].by == (int)j->o.by &&
		    P.c[i].horizon == j->o.horizon_days) {
			old = i;
			break;
		}
		if (P.c[i].at < P.c[old].at)
			old = i;
	}
	free(P.c[old].text);
	P.c[old].by = (int)j->o.by;
	P.c[old].horizon = j->o.horizon_days;
	P.c[old].text = ch_strdup(j->text);
	P.c[old].len = j->len;
	P.c[old].at = ch_seconds();
	pthread_mutex_unlock(&P.mu);
	pthread_mutex_unlock(&P.run);
}

/* The end of a job, answered or not (admin_call's arg_free). */
static void
perf_free(void *arg)
{
	struct perf_job *j = arg;

	pthread_mutex_lock(&P.mu);
	P.waiting--;
	pthread_mutex_unlock(&P.mu);
	free(j->text);
	free(j);
}

enum MHD_Result
performance(struct MHD_Connection *c, struct req *r)
{
	struct perf_job *j = admin_called(r);
	struct ch_perf_opts o = { CH_PERF_HORIZON_DAYS, CH_PERF_MONTH };
	const char *by = query(c, "by"), *h = query(c, "horizon");
	enum MHD_Result ret;
	char *text, *end;
	size_t len;
	long v;
	int b;

	if (j)
		goto answer;
	if (!reg_available())
		return fail(c, r, 503, NULL, "no registry to read outcomes and "
		    "predictions from (CHURN_STORE)");
	if (by) {
		if ((b = ch_perf_by_parse(by)) < 0)
			return fail(c, r, 400, NULL, "by: '%s' is not day, week, "
			    "month or all", by);
		o.by = (enum ch_perf_by)b;
	}
	if (h) {
		v = strtol(h, &end, 10);
		if (!*h || *end || v < 1 || v > 36500)
			return fail(c, r, 400, NULL, "horizon: '%s' is not a "
			    "number of days from 1 to 36500", h);
		o.horizon_days = v;
	}
	pthread_mutex_lock(&P.mu);
	/* a few queries wait for the computation; more are turned away */
	if (!(text = cached(&o, &len)) && P.waiting < PERF_WAITING)
		P.waiting++;
	else if (!text) {
		pthread_mutex_unlock(&P.mu);
		return fail(c, r, 503, NULL, "performance: %d queries are being "
		    "computed; try again in a few seconds", PERF_WAITING);
	}
	pthread_mutex_unlock(&P.mu);
	if (text)
		return send_buf(c, r, 200, JSON, text, len,
		    MHD_RESPMEM_MUST_FREE, NULL);
	j = ch_calloc(1, sizeof *j);
	j->o = o;
	return admin_call(c, r, perf_run, j, perf_free);

answer:
	if (!j->text)
		ret = fail(c, r, 503, NULL, "performance: %s", j->e.msg);
	else {
		ret = send_buf(c, r, 200, JSON, j->text, j->len,
		    MHD_RESPMEM_MUST_FREE, NULL);
		j->text = NULL;
	}
	perf_free(j);
	return ret;
}
