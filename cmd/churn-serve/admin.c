/* admin.c - reload, drift check, retrain and the GitHub webhook */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "http.h"

/* --- admin: reload, drift check, retrain, webhook -------------------- */

enum MHD_Result
reload(struct MHD_Connection *c, struct req *r)
{
	struct ch_err e;
	char v[17], *target;
	const char *name = query(c, "model");
	struct loaded *l = model_acquire();
	json_t *prev = l ? json_string(l->m->version) : json_null();

	model_release(l);
	if (name && !*name)
		name = NULL;
	if (model_reload(name, v, &e) != 0) {
		json_t *j;

		slog("error", "reload failed", json_pack("{s:o,s:O}", "error",
		    jtext(e.msg), "model_version", prev));
		j = json_pack("{s:o,s:b,s:o}", "error", jtext(e.msg),
		    "reloaded", 0, "model_version", prev);
		return send_json(c, r, 500, j);
	}
	target = name ? NULL : model_target();
	slog("info", "reloaded", json_pack("{s:s,s:O,s:o}", "model_version", v,
	    "previous", prev, "source", jtext(name ? name : target ? target :
	    "newest in the registry")));
	free(target);
	return send_json(c, r, 200, json_pack("{s:b,s:s,s:o}", "reloaded", 1,
	    "model_version", v, "previous", prev));
}

/* --- admin work off the HTTP workers ----------------------------------
 *
 * /drift/check and /retrain answer when their child is done, but no HTTP
 * worker waits for it: the handler checks the request, suspends the
 * connection (MHD_suspend_connection) and starts a thread of its own that
 * runs the child (bridge_run) and resumes the connection; libmicrohttpd
 * then calls the handler again, which finds the job done and answers.
 * Meanwhile /health, /ready and /predict are served by the same workers.
 * At shutdown admin_stop kills the children and waits for every job to
 * have resumed its connection, so that none is left suspended.
 */
enum job_kind { J_DRIFT, J_RETRAIN, J_CALL };
enum job_end { J_RAN, J_NOSTART, J_NOWINDOW, J_EMPTY };

struct job {
	enum job_kind kind;
	struct MHD_Connection *c;
	char *argv[8];
	double timeout;
	struct loaded *l;           /* drift: the model, held to the answer */
	int posted;                 /* drift: the body, not the window */
	struct bridge_buf in;       /* the body (r->body, kept by the req) */
	long rows;                  /* drift: window rows read */
	enum job_end end;
	struct ch_err e;
	struct child_result res;
	void (*fn)(void *);         /* J_CALL: fn(arg) */
	void *arg;
	void (*arg_free)(void *);
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int running, stopping;
} J = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };

static void
job_free(struct job *j)
{
	if (!j)
		return;
	bridge_result_free(&j->res);
	model_release(j->l);
	if (j->arg && j->arg_free)
		j->arg_free(j->arg);
	free(j);
}

void
admin_forget(struct req *r)
{
	job_free(r->job);
	r->job = NULL;
}

static void *
job_main(void *arg)
{
	struct job *j = arg;
	struct window_reader *wr = NULL;
	size_t bytes = 0;

	j->end = J_RAN;
	if (j->kind == J_CALL)
		j->fn(j->arg);
	else if (j->kind == J_DRIFT && !j->posted) {
		/* opened here: in the database it is a network call */
		if (!(wr = window_reader_open(&j->rows, &bytes, &j->e)))
			j->end = J_NOWINDOW;
		else if (bytes == 0)
			j->end = J_EMPTY;
	}
	if (j->kind != J_CALL && j->end == J_RAN && bridge_run(j->argv, wr ? window_feed :
	    j->in.len ? bridge_feed_buf : NULL, wr ? (void *)wr : &j->in,
	    j->timeout, cfg.child_output_limit, &j->res, &j->e) != 0)
		j->end = J_NOSTART;
	if (wr) {
		long n = window_reader_close(wr, &j->e);

		if (n < 0 && j->end == J_RAN)
			j->end = J_NOWINDOW;    /* the child got part of it */
		if (n > j->rows)
			j->rows = n;
	}
	/* after this the request may be answered and freed at once: j is
	 * not touched again */
	MHD_resume_connection(j->c);
	pthread_mutex_lock(&J.mu);
	J.running--;
	pthread_cond_broadcast(&J.cv);
	pthread_mutex_unlock(&J.mu);
	return NULL;
}

/* Suspends c and runs j on a thread of its own (r keeps j); the handler
 * is called again once it is done. */
static enum MHD_Result
job_start(struct MHD_Connection *c, struct req *r, struct job *j)
{
	pthread_attr_t a;
	pthread_t t;
	int rc;

	pthread_mutex_lock(&J.mu);
	if (J.stopping) {
		pthread_mutex_unlock(&J.mu);
		job_free(j);
		return fail(c, r, 503, NULL, "shutting down");
	}
	J.running++;
	pthread_mutex_unlock(&J.mu);
	j->c = c;
	r->job = j;
	MHD_suspend_connection(c);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &a, job_main, j);
	pthread_attr_destroy(&a);
	if (rc != 0) {
		/* answered by the next call, like a child that did not start;
		 * a call runs here instead */
		j->end = J_NOSTART;
		ch_errf(&j->e, "cannot start a thread: %s", strerror(rc));
		if (j->kind == J_CALL) {
			j->fn(j->arg);
			j->end = J_RAN;
		}
		MHD_resume_connection(c);
		pthread_mutex_lock(&J.mu);
		J.running--;
		pthread_cond_broadcast(&J.cv);
		pthread_mutex_unlock(&J.mu);
	}
	return MHD_YES;
}

enum MHD_Result
admin_call(struct MHD_Connection *c, struct req *r, void (*fn)(void *),
    void *arg, void (*arg_free)(void *))
{
	struct job *j = ch_calloc(1, sizeof *j);

	j->kind = J_CALL;
	j->fn = fn;
	j->arg = arg;
	j->arg_free = arg_free;
	return job_start(c, r, j);
}

void *
admin_called(struct req *r)
{
	struct job *j = r->job;
	void *arg;

	if (!j || j->kind != J_CALL)
		return NULL;
	arg = j->arg;
	j->arg = NULL;
	job_free(j);
	r->job = NULL;
	return arg;
}

void
admin_stop(void)
{
	pthread_mutex_lock(&J.mu);
	J.stopping = 1;
	if (J.running > 0)
		slog("warn", "admin work stopped at shutdown", json_pack("{s:i}",
		    "jobs", J.running));
	bridge_cancel_all();
	while (J.running > 0)
		pthread_cond_wait(&J.cv, &J.mu);
	pthread_mutex_unlock(&J.mu);
	pipeline_stop();
}

static int
shutting_down(void)
{
	int s;

	pthread_mutex_lock(&J.mu);
	s = J.stopping;
	pthread_mutex_unlock(&J.mu);
	return s;
}

/* The answer for a child that did not run or did not finish, or 0. */
static enum MHD_Result
job_failed(struct MHD_Connection *c, struct req *r, struct job *j,
    const char *what, int *answered)
{
	*answered = 1;
	if (j->end == J_NOSTART)
		return fail(c, r, j->res.cancelled || shutting_down() ? 503 :
		    500, NULL, "%s: %s", what, j->e.msg);
	if (j->res.cancelled)
		return fail(c, r, 503, NULL, "%s: stopped: the server is "
		    "shutting down", what);
	if (j->res.timed_out)
		return fail(c, r, 504, NULL, "%s: no answer within %g s", what,
		    j->timeout);
	if (j->res.too_big)
		return fail(c, r, 502, NULL, "%s: output larger than %zu bytes",
		    what, cfg.child_output_limit);
	*answered = 0;
	return MHD_YES;
}

/* Runs `drift_cmd -m MODEL [--json-in] -` over the posted data or the
 * live-traffic window (streamed from its files or the database); exit 0
 * or 1 both carry a report. */
enum MHD_Result
drift_check(struct MHD_Connection *c, struct req *r)
{
	struct job *j = r->job;
	struct ch_err e;
	char mt[64];
	int jsonl = 1, n = 0, done;
	json_t *rep;
	enum MHD_Result ret;

	if (j)
		goto answer;
	j = ch_calloc(1, sizeof *j);
	j->kind = J_DRIFT;
	j->timeout = cfg.child_timeout;
	if (!(j->l = model_acquire())) {
		job_free(j);
		return fail(c, r, 503, NULL, "no model loaded");
	}
	if ((j->posted = r->len > 0)) {
		media_type(c, mt, sizeof mt);
		switch (body_kind(mt)) {
		case B_CSV:
			jsonl = 0;
			break;
		case B_JSON:
		case B_JSONL:
			break;
		case B_FORM:        /* curl --data-binary @file: sniff it */
			jsonl = r->body[strspn(r->body, " \t\r\n")] == '{';
			break;
		default:
			job_free(j);
			return fail(c, r, 415, NULL, "content type '%s' is not "
			    "accepted: send text/csv or application/x-ndjson",
			    mt);
		}
		j->in = (struct bridge_buf){ r->body, r->len, 0 };
	}
	j->argv[n++] = (char *)cfg.drift_cmd;
	j->argv[n++] = "-m";
	j->argv[n++] = j->l->path;
	if (jsonl)
		j->argv[n++] = "--json-in";
	j->argv[n++] = "-";
	j->argv[n] = NULL;
	return job_start(c, r, j);

answer:
	r->job = NULL;
	if (j->end == J_NOWINDOW) {
		ret = fail(c, r, 503, NULL, "the live-traffic window cannot be "
		    "read: %s", j->e.msg);
		job_free(j);
		return ret;
	}
	if (j->end == J_EMPTY) {
		job_free(j);
		return fail(c, r, 422, NULL, "the live-traffic window is empty: "
		    "score some customers first, or post CSV or JSON lines to "
		    "check");
	}
	ret = job_failed(c, r, j, cfg.drift_cmd, &done);
	if (done) {
		job_free(j);
		return ret;
	}
	if (!j->res.exited || (j->res.code != 0 && j->res.code != 1)) {
		char *nl, *last = j->res.err;

		/* the last line of its stderr says what went wrong */
		while ((nl = strrchr(j->res.err, '\n')) && nl[1] == '\0')
			*nl = '\0';
		if ((nl = strrchr(j->res.err, '\n')))
			last = nl + 1;
		ret = j->res.exited && j->posted && j->res.code == 2 ?
		    fail(c, r, 422, NULL, "%s", *last ? last :
		    "the posted data could not be checked") :
		    fail(c, r, 502, NULL, "%s %s %d: %s", cfg.drift_cmd,
		    j->res.exited ? "exited with" : "killed by signal",
		    j->res.code, *last ? last : "no message");
		job_free(j);
		return ret;
	}
	if (!(rep = json_loadb(j->res.out, j->res.outlen, 0, NULL)) ||
	    !json_is_object(rep)) {
		json_decref(rep);
		job_free(j);
		return fail(c, r, 502, NULL, "%s printed no JSON report",
		    cfg.drift_cmd);
	}
	/* the exit status is the verdict when the report lacks it */
	if (!json_object_get(rep, "drift"))
		json_object_set_new(rep, "drift", json_boolean(j->res.code == 1));
	if (drift_record(rep, &e) != 0)
		slog("error", "drift report not recorded", json_pack("{s:o}",
		    "error", jtext(e.msg)));
	metrics_drift(json_is_true(json_object_get(rep, "drift")),
	    json_number_value(json_object_get(rep, "drift_share")),
	    json_string_value(json_object_get(rep, "model_version")));
	slog("info", "drift checked", json_pack("{s:b,s:s,s:I}", "drift",
	    json_is_true(json_object_get(rep, "drift")), "data",
	    j->posted ? "posted" : "window", "rows",
	    (json_int_t)(j->posted ? 0 : j->rows)));
	job_free(j);
	return send_json(c, r, 200, rep);
}

enum MHD_Result
retrain(struct MHD_Connection *c, struct req *r)
{
	struct job *j = r->job;
	json_t *out;
	int done;
	enum MHD_Result ret;

	if (j)
		goto answer;
	if (!cfg.retrain_cmd)
		return fail(c, r, 503, NULL, "retraining is not configured "
		    "(--retrain-cmd)");
	j = ch_calloc(1, sizeof *j);
	j->kind = J_RETRAIN;
	j->timeout = cfg.retrain_timeout;
	j->argv[0] = "/bin/sh";
	j->argv[1] = "-c";
	j->argv[2] = (char *)cfg.retrain_cmd;
	j->in = (struct bridge_buf){ r->body, r->len, 0 };
	slog("info", "retrain started", NULL);
	return job_start(c, r, j);

answer:
	r->job = NULL;
	ret = job_failed(c, r, j, "retrain", &done);
	if (!done && (!j->res.exited || j->res.code != 0)) {
		ret = fail(c, r, 502, NULL, "retrain: %s %d: %s", j->res.exited ?
		    "exited with" : "killed by signal", j->res.code, j->res.err);
		done = 1;
	}
	if (done) {
		job_free(j);
		return ret;
	}
	if (!(out = json_loadb(j->res.out, j->res.outlen, 0, NULL)))
		out = json_pack("{s:o}", "output", jtextn(j->res.out,
		    j->res.outlen));
	job_free(j);
	slog("info", "retrain finished", NULL);
	return send_json(c, r, 200, out);
}

/* The deliveries seen, behind hook_ledger (created on first use). */
static pthread_mutex_t hook_mu = PTHREAD_MUTEX_INITIALIZER;
static struct hook_ledger *ledger;

/*
 * POST /hooks/github: a signed push starts the pipeline (202, "started"),
 * or, while one runs, queues one more run (202, "queued"; a later push
 * replaces the queued one: "coalesced").  A delivery whose id or body was
 * accepted in the last 24 h is answered 200 ("duplicate") and starts
 * nothing.
 */
enum MHD_Result
github_hook(struct MHD_Connection *c, struct req *r)
{
	const char *sig = header(c, "X-Hub-Signature-256");
	const char *ev = header(c, "X-GitHub-Event");
	const char *delivery = header(c, "X-GitHub-Delivery");
	char mt[64], *env[4], kdel[160], kbody[80], digest[65];
	char eref[600], esha[120], edel[120];
	const char *keys[3];
	struct ch_err e;
	json_t *j;
	pid_t pid = -1;
	int rc, nk = 0;
	static const char *const state[] = { "started", "queued",
	    "coalesced" };

	if (!cfg.webhook_secret)
		return fail(c, r, 503, NULL, "webhooks are not configured "
		    "(CHURN_WEBHOOK_SECRET)");
	media_type(c, mt, sizeof mt);
	if (strcmp(mt, "application/json") != 0)
		return fail(c, r, 415, NULL, "content type '%s' is not "
		    "accepted: configure the webhook with application/json", mt);
	if (!sig)
		return fail(c, r, 401, NULL, "missing X-Hub-Signature-256");
	if (!ch_signature_ok(sig, cfg.webhook_secret, r->body ? r->body : "",
	    r->len)) {
		slog("warn", "webhook signature mismatch", NULL);
		return fail(c, r, 401, NULL, "X-Hub-Signature-256 does not "
		    "match the body");
	}
	if (!ev)
		return fail(c, r, 400, NULL, "missing X-GitHub-Event");
	if (delivery && (strlen(delivery) > 100 ||
	    strspn(delivery, "0123456789abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.") != strlen(delivery)))
		return fail(c, r, 400, NULL, "X-GitHub-Delivery is not a "
		    "delivery id");
	if (!(j = json_loadb(r->body ? r->body : "", r->len, 0, NULL)) ||
	    !json_is_object(j)) {
		json_decref(j);
		return fail(c, r, 400, NULL, "webhook payload is not a JSON "
		    "object");
	}
	if (!strcmp(ev, "ping")) {
		json_decref(j);
		return send_json(c, r, 200, json_pack("{s:b,s:s}", "ok", 1,
		    "event", "ping"));
	}
	if (strcmp(ev, "push") != 0) {
		json_decref(j);
		return fail(c, r, 400, NULL, "event '%s' is not accepted: "
		    "push only", ev);
	}
	if (!cfg.pipeline_cmd) {
		json_decref(j);
		return fail(c, r, 503, NULL, "no pipeline is configured "
		    "(--pipeline-cmd)");
	}
	snprintf(eref, sizeof eref, "CHURN_HOOK_REF=%s",
	    json_string_value(json_object_get(j, "ref")) ?
	    json_string_value(json_object_get(j, "ref")) : "");
	snprintf(esha, sizeof esha, "CHURN_HOOK_SHA=%s",
	    json_string_value(json_object_get(j, "after")) ?
	    json_string_value(json_object_get(j, "after")) : "");
	snprintf(edel, sizeof edel, "CHURN_HOOK_DELIVERY=%s",
	    delivery ? delivery : "");
	json_decref(j);
	env[0] = eref, env[1] = esha, env[2] = edel, env[3] = NULL;

	/* the id GitHub gives the delivery, and the signed body itself: the
	 * id header is not signed, a replay may change it */
	if (delivery) {
		snprintf(kdel, sizeof kdel, "delivery:%s", delivery);
		keys[nk++] = kdel;
	}
	ch_sha256_hex(r->body ? r->body : "", r->len, digest);
	snprintf(kbody, sizeof kbody, "body:%s", digest);
	keys[nk++] = kbody;
	keys[nk] = NULL;
	pthread_mutex_lock(&hook_mu);
	if (!ledger)
		ledger = cfg.database_url ? hook_ledger_db() :
		    hook_ledger_file(cfg.state_dir);
	/* rc: -1 ledger trouble, 0 seen before, 1 + PIPE_* or -2 */
	if ((rc = ledger->claim(ledger, keys, time(NULL), &e)) == 1)
		rc = (rc = pipeline_submit(env, &pid, &e)) < 0 ? -2 : rc + 1;
	pthread_mutex_unlock(&hook_mu);
	if (rc == 0) {
		slog("info", "webhook delivery seen before: ignored",
		    json_pack("{s:o}", "delivery", jtext(delivery)));
		return send_json(c, r, 200, json_pack("{s:b,s:b,s:s}",
		    "accepted", 0, "duplicate", 1, "event", "push"));
	}
	if (rc < 0)
		return fail(c, r, 500, NULL, "%s: %s", rc == -1 ?
		    "webhook deliveries" : "pipeline", e.msg);
	rc--;
	slog("info", rc == PIPE_STARTED ? "pipeline started" :
	    "pipeline queued", json_pack("{s:s,s:i,s:o,s:o}", "state",
	    state[rc], "pid", (int)pid, "ref", jtext(eref + 15), "delivery",
	    jtext(delivery ? delivery : "")));
	j = json_pack("{s:b,s:s,s:s}", "accepted", 1, "event", "push",
	    "pipeline", state[rc]);
	if (rc == PIPE_STARTED)
		json_object_set_new(j, "pid", json_integer(pid));
	return send_json(c, r, 202, j);
}
