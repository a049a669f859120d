/* admin.c - reload, drift check, retrain and the GitHub webhook */
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

/* Runs `drift_cmd -m MODEL [--json-in] -` over the posted data or the
 * live-traffic window; exit 0 or 1 both carry a report. */
enum MHD_Result
drift_check(struct MHD_Connection *c, struct req *r)
{
	struct child_result res;
	struct loaded *l;
	struct ch_err e;
	char mt[64], *data, *argv[8];
	size_t len;
	long rows = 0;
	int jsonl, n = 0, posted = r->len > 0;
	json_t *rep;
	enum MHD_Result ret;

	if (!(l = model_acquire()))
		return fail(c, r, 503, NULL, "no model loaded");
	if (posted) {
		media_type(c, mt, sizeof mt);
		switch (body_kind(mt)) {
		case B_CSV:
			jsonl = 0;
			break;
		case B_JSON:
		case B_JSONL:
			jsonl = 1;
			break;
		case B_FORM:        /* curl --data-binary @file: sniff it */
			jsonl = r->body[strspn(r->body, " \t\r\n")] == '{';
			break;
		default:
			model_release(l);
			return fail(c, r, 415, NULL, "content type '%s' is not "
			    "accepted: send text/csv or application/x-ndjson",
			    mt);
		}
		data = r->body;
		len = r->len;
	} else {
		if (!(data = window_snapshot(&len, &rows, &e))) {
			model_release(l);
			return fail(c, r, 503, NULL, "the live-traffic window "
			    "cannot be read: %s", e.msg);
		}
		jsonl = 1;
		if (len == 0) {
			free(data);
			model_release(l);
			return fail(c, r, 422, NULL, "the live-traffic window "
			    "is empty: score some customers first, or post "
			    "CSV or JSON lines to check");
		}
	}
	argv[n++] = (char *)cfg.drift_cmd;
	argv[n++] = "-m";
	argv[n++] = l->path;
	if (jsonl)
		argv[n++] = "--json-in";
	argv[n++] = "-";
	argv[n] = NULL;
	if (bridge_run(argv, data, len, cfg.child_timeout,
	    cfg.child_output_limit, &res, &e) != 0) {
		if (!posted)
			free(data);
		model_release(l);
		return fail(c, r, 500, NULL, "%s: %s", cfg.drift_cmd, e.msg);
	}
	if (!posted)
		free(data);
	model_release(l);
	if (res.timed_out) {
		bridge_result_free(&res);
		return fail(c, r, 504, NULL, "%s: no answer within %g s",
		    cfg.drift_cmd, cfg.child_timeout);
	}
	if (res.too_big) {
		bridge_result_free(&res);
		return fail(c, r, 502, NULL, "%s: report larger than %zu bytes",
		    cfg.drift_cmd, cfg.child_output_limit);
	}
	if (!res.exited || (res.code != 0 && res.code != 1)) {
		char *nl, *last = res.err;

		/* the last line of its stderr says what went wrong */
		while ((nl = strrchr(res.err, '\n')) && nl[1] == '\0')
			*nl = '\0';
		if ((nl = strrchr(res.err, '\n')))
			last = nl + 1;
		ret = res.exited && posted && res.code == 2 ?
		    fail(c, r, 422, NULL, "%s", *last ? last :
		    "the posted data could not be checked") :
		    fail(c, r, 502, NULL, "%s %s %d: %s", cfg.drift_cmd,
		    res.exited ? "exited with" : "killed by signal", res.code,
		    *last ? last : "no message");
		bridge_result_free(&res);
		return ret;
	}
	if (!(rep = json_loadb(res.out, res.outlen, 0, NULL)) ||
	    !json_is_object(rep)) {
		json_decref(rep);
		bridge_result_free(&res);
		return fail(c, r, 502, NULL, "%s printed no JSON report",
		    cfg.drift_cmd);
	}
	bridge_result_free(&res);
	/* the exit status is the verdict when the report lacks it */
	if (!json_object_get(rep, "drift"))
		json_object_set_new(rep, "drift", json_boolean(res.code == 1));
	if (drift_record(rep, &e) != 0)
		slog("error", "drift report not recorded", json_pack("{s:o}",
		    "error", jtext(e.msg)));
	metrics_drift(json_is_true(json_object_get(rep, "drift")),
	    json_number_value(json_object_get(rep, "drift_share")),
	    json_string_value(json_object_get(rep, "model_version")));
	slog("info", "drift checked", json_pack("{s:b,s:s,s:I}", "drift",
	    json_is_true(json_object_get(rep, "drift")), "data",
	    posted ? "posted" : "window", "rows",
	    (json_int_t)(posted ? 0 : rows)));
	return send_json(c, r, 200, rep);
}

enum MHD_Result
retrain(struct MHD_Connection *c, struct req *r)
{
	struct child_result res;
	struct ch_err e;
	char *argv[] = { "/bin/sh", "-c", (char *)cfg.retrain_cmd, NULL };
	json_t *j;

	if (!cfg.retrain_cmd)
		return fail(c, r, 503, NULL, "retraining is not configured "
		    "(--retrain-cmd)");
	slog("info", "retrain started", NULL);
	if (bridge_run(argv, r->body, r->len, cfg.retrain_timeout,
	    cfg.child_output_limit, &res, &e) != 0)
		return fail(c, r, 500, NULL, "retrain: %s", e.msg);
	if (res.timed_out || res.too_big || !res.exited || res.code != 0) {
		enum MHD_Result ret = res.timed_out ?
		    fail(c, r, 504, NULL, "retrain: no answer within %g s",
		    cfg.retrain_timeout) : res.too_big ?
		    fail(c, r, 502, NULL, "retrain: output larger than %zu bytes",
		    cfg.child_output_limit) :
		    fail(c, r, 502, NULL, "retrain: %s %d: %s", res.exited ?
		    "exited with" : "killed by signal", res.code, res.err);
		bridge_result_free(&res);
		return ret;
	}
	if (!(j = json_loadb(res.out, res.outlen, 0, NULL)))
		j = json_pack("{s:o}", "output", jtextn(res.out, res.outlen));
	bridge_result_free(&res);
	slog("info", "retrain finished", NULL);
	return send_json(c, r, 200, j);
}

enum MHD_Result
github_hook(struct MHD_Connection *c, struct req *r)
{
	const char *sig = header(c, "X-Hub-Signature-256");
	const char *ev = header(c, "X-GitHub-Event");
	const char *delivery = header(c, "X-GitHub-Delivery");
	char mt[64], logpath[4096], *env[4];
	char eref[600], esha[120], edel[120];
	struct ch_err e;
	json_t *j;
	pid_t pid;

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
	snprintf(logpath, sizeof logpath, "%s/pipeline.log", cfg.state_dir);
	if ((pid = bridge_background(cfg.pipeline_cmd, logpath, env, &e)) < 0)
		return fail(c, r, 500, NULL, "pipeline: %s", e.msg);
	slog("info", "pipeline started", json_pack("{s:i,s:o,s:o}", "pid",
	    (int)pid, "ref", jtext(eref + 15), "delivery",
	    jtext(delivery ? delivery : "")));
	return send_json(c, r, 202, json_pack("{s:b,s:s,s:i}", "accepted", 1,
	    "event", "push", "pid", (int)pid));
}

