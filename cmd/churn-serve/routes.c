/* routes.c - churn-serve's route table: one row a route */
#include <string.h>

#include "http.h"

/*
 * Each row: path, metric label, methods, flags, request bodies, handler;
 * then for the API description the answer's media types, the status of
 * a success, the query parameters and a summary.  The order is the order
 * of /metrics; rows sharing a label share its counters.
 */
const struct route routes[] = {
	{ "/", "/", RM_GET, 0, 0, ui,
	    "text/html", 200, NULL, "the web UI" },
	{ "/index.html", "/", RM_GET, 0, 0, ui,
	    "text/html", 200, NULL, "the web UI" },
	{ "/static/", "/static", RM_GET, RF_PREFIX, 0, ui,
	    "application/javascript text/css image/svg+xml", 200, NULL,
	    "the web UI's files" },
	{ "/favicon.ico", "/favicon.ico", RM_GET, 0, 0, ui,
	    "image/x-icon", 200, NULL, "the icon (204 when none is built in)" },
	{ "/health", "/health", RM_GET, 0, 0, health,
	    "application/json", 200, NULL,
	    "liveness: uptime, requests, the model version, reloads" },
	{ "/ready", "/ready", RM_GET, 0, 0, ready,
	    "application/json", 200, NULL,
	    "readiness: 200 once a model is loaded, else 503" },
	{ "/predict/schema", "/predict/schema", RM_GET, 0, 0, model_schema,
	    "application/json", 200, NULL,
	    "the features /predict takes, with types and categories" },
	{ "/predict", "/predict", RM_POST, RF_BODY, BK(B_JSON) | BK(B_CSV),
	    predict,
	    "application/json text/csv", 200, "explain",
	    "churn probability of one customer (a JSON object), several (an "
	    "array) or a CSV file (?explain=1: each feature's part)" },
	{ "/model", "/model", RM_GET, 0, 0, model_info,
	    "application/json", 200, NULL,
	    "the loaded model: version, digest, training metrics" },
	{ "/models", "/models", RM_GET, 0, 0, models,
	    "application/json", 200, NULL,
	    "the registry's versions, aliases and history" },
	{ "/drift/reports", "/drift/reports", RM_GET, 0, 0, reports,
	    "application/json", 200, "limit",
	    "the last drift reports, newest last (?limit=N, 1 to 10000)" },
	{ "/drift/check", "/drift/check", RM_POST, RF_ADMIN,
	    BK(B_JSON) | BK(B_JSONL) | BK(B_CSV), drift_check,
	    "application/json", 200, NULL,
	    "a drift check of the posted rows, or of the live window "
	    "without a body" },
	{ "/reload", "/reload", RM_POST, RF_ADMIN, 0, reload,
	    "application/json", 200, "model",
	    "reload the model (?model=FILE|ALIAS|VERSION)" },
	{ "/retrain", "/retrain", RM_POST, RF_ADMIN, 0, retrain,
	    "application/json", 200, NULL,
	    "run the retrain command, then reload" },
	{ "/hooks/github", "/hooks/github", RM_POST, RF_BODY, BK(B_JSON),
	    github_hook,
	    "application/json", 202, NULL,
	    "a signed GitHub push starts the pipeline" },
	{ "/outcomes", "/outcomes", RM_POST, RF_ADMIN | RF_BODY,
	    BK(B_CSV) | BK(B_JSONL), outcomes,
	    "application/json", 200, "positive time",
	    "record customer outcomes (CSV or JSON lines of id, outcome[, "
	    "time]) as churn-outcomes does: one transaction, a bad row records "
	    "nothing (?positive=LABEL, ?time=T for rows without one)" },
	{ "/performance", "/performance", RM_GET, 0, 0, performance,
	    "application/json", 200, "by horizon",
	    "each version's live performance: outcomes joined to the "
	    "predictions served (?by=day|week|month|all, ?horizon=DAYS), as "
	    "churn-models perf --json" },
	{ "/metrics", "/metrics", RM_GET, 0, 0, metrics_page,
	    "text/plain", 200, NULL, "Prometheus metrics" },
	{ "/rollout", "/rollout", RM_GET, 0, 0, rollout_page,
	    "application/json", 200, NULL,
	    "the rollout (champion and challenger) and each version's answers" },
	{ "/openapi.json", "/openapi.json", RM_GET, 0, 0, openapi,
	    "application/json", 200, NULL,
	    "this description of the API (OpenAPI 3.0)" },
};
const size_t nroutes = sizeof routes / sizeof routes[0];

int
route_find(const char *url)
{
	size_t i;

	for (i = 0; i < nroutes; i++)
		if (routes[i].flags & RF_PREFIX ?
		    !strncmp(url, routes[i].path, strlen(routes[i].path)) :
		    !strcmp(url, routes[i].path))
			return (int)i;
	return -1;
}

const char *
route_allow(int i)
{
	switch (routes[i].methods) {
	case RM_GET: return "GET, HEAD";
	case RM_POST: return "POST";
	default: return "GET, HEAD, POST";
	}
}

const char *
route_name(int i)
{
	return i >= 0 && (size_t)i < nroutes ? routes[i].name : "other";
}
