/* openapi.c - GET /openapi.json: the API description, derived from the
 * route table (routes.c) and, for /predict, from the loaded model */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "http.h"

/* the media type of a body kind, as the description names it */
static const char *const kind_type[B_NKINDS] = {
	[B_JSON] = "application/json", [B_JSONL] = "application/x-ndjson",
	[B_CSV] = "text/csv", [B_FORM] = "application/x-www-form-urlencoded",
};

static json_t *
ref(const char *what)
{
	return json_pack("{s:s+}", "$ref", "#/components/", what);
}

/* A customer as /predict takes it: every feature of the loaded model
 * (numbers may come as strings, as in a CSV); other fields are kept
 * (an id) or ignored */
static json_t *
customer_schema(const struct loaded *l)
{
	json_t *s, *props, *req, *f, *sch;
	const char *name, *type;
	size_t i;

	if (!l || !(sch = json_loads(l->schema_json, 0, NULL)))
		return json_pack("{s:s,s:s}", "type", "object", "description",
		    "a customer: every feature of the model (GET "
		    "/predict/schema; no model is loaded now)");
	props = json_object();
	req = json_array();
	json_array_foreach(json_object_get(sch, "features"), i, f) {
		name = json_string_value(json_object_get(f, "name"));
		type = json_string_value(json_object_get(f, "type"));
		if (!name)
			continue;
		if (type && !strcmp(type, "numeric"))
			json_object_set_new(props, name, json_pack(
			    "{s:[{s:s},{s:s}]}", "oneOf", "type", "number",
			    "type", "string"));
		else
			json_object_set_new(props, name, json_pack("{s:s,s:O*}",
			    "type", "string", "x-categories",
			    json_object_get(f, "categories")));
		json_array_append_new(req, json_string(name));
	}
	s = json_pack("{s:s,s:o,s:o,s:b}", "type", "object", "properties",
	    props, "required", req, "additionalProperties", 1);
	json_object_set_new(s, "description", json_sprintf("a customer: "
	    "every feature of model %s (numbers may come as strings); other "
	    "fields are ignored, but for the id column, copied to the answer",
	    json_string_value(json_object_get(sch, "model_version")) ?
	    json_string_value(json_object_get(sch, "model_version")) : "?"));
	json_decref(sch);
	return s;
}

static json_t *
components(const struct loaded *l)
{
	return json_pack("{s:{s:{s:s,s:s,s:s}},"
	    "s:{s:{s:s,s:[s],s:{s:{s:s}}},s:o,"
	    "s:{s:s,s:[s,s,s],s:{s:{s:s,s:f,s:f},s:{s:s},s:{s:s},"
	    "s:{s:s},s:{s:s}}}},"
	    "s:{s:{s:s,s:{s:{s:o}}}}}",
	    "securitySchemes", "admin", "type", "http", "scheme", "bearer",
	    "description", "the admin token (CHURN_ADMIN_TOKEN)",
	    "schemas",
	    "Error", "type", "object", "required", "error", "properties",
	    "error", "type", "string",
	    "Customer", customer_schema(l),
	    "Prediction", "type", "object", "required", "churn_probability",
	    "churn", "model_version", "properties",
	    "churn_probability", "type", "number", "minimum", 0.0, "maximum",
	    1.0,
	    "churn", "type", "boolean",
	    "model_version", "type", "string",
	    "explanation", "type", "array",
	    "warnings", "type", "array",
	    "responses",
	    "Error", "description", "an error: {\"error\": message}",
	    "content", "application/json", "schema", ref("schemas/Error"));
}

/* get_predict_schema from "get" and "/predict/schema" */
static json_t *
operation_id(const char *method, const char *path)
{
	char id[128];
	size_t n = (size_t)snprintf(id, sizeof id, "%s", method);
	int gap = 1;

	for (; *path && n + 2 < sizeof id; path++) {
		if (isalnum((unsigned char)*path)) {
			if (gap)
				id[n++] = '_';
			id[n++] = *path;
			gap = 0;
		} else
			gap = 1;
	}
	id[n] = '\0';
	if (!strcmp(id, method))
		snprintf(id + n, sizeof id - n, "_root");
	return json_string(id);
}

/* The schema of a body of media type t at route rt */
static json_t *
body_schema(const struct route *rt, const char *t, int answer)
{
	if (strcmp(t, "application/json") != 0)
		return json_pack("{s:s}", "type", "string");
	if (rt->handler == predict)
		return json_pack("{s:[o,{s:s,s:o}]}", "oneOf", ref(answer ?
		    "schemas/Prediction" : "schemas/Customer"), "type", "array",
		    "items", ref(answer ? "schemas/Prediction" :
		    "schemas/Customer"));
	if (rt->handler == outcomes && answer)
		return json_pack("{s:s,s:[s,s,s,s,s],s:{s:{s:s},s:{s:s},s:{s:s},"
		    "s:{s:s},s:{s:s}}}", "type", "object", "required", "rows",
		    "positives", "recorded", "duplicates", "unmatched",
		    "properties", "rows", "type", "integer", "positives", "type",
		    "integer", "recorded", "type", "integer", "duplicates", "type",
		    "integer", "unmatched", "type", "integer");
	return json_pack("{s:s}", "type", "object");
}

static json_t *
operation(const struct route *rt, const char *method)
{
	json_t *op, *resp, *content = json_object(), *params = json_array();
	char t[64], q[64], st[8];
	const char *p, *e;

	for (p = rt->answers; *p; p = e + strspn(e, " ")) {
		e = p + strcspn(p, " ");
		snprintf(t, sizeof t, "%.*s", (int)(e - p), p);
		json_object_set_new(content, t, json_pack("{s:o}", "schema",
		    body_schema(rt, t, 1)));
	}
	snprintf(st, sizeof st, "%d", rt->ok);
	resp = json_pack("{s:{s:s,s:o},s:o}", st, "description", rt->summary,
	    "content", content, "default", ref("responses/Error"));
	op = json_pack("{s:o,s:s,s:o}", "operationId",
	    operation_id(method, rt->path), "summary", rt->summary,
	    "responses", resp);
	for (p = rt->query; p && *p; p = e + strspn(e, " ")) {
		e = p + strcspn(p, " ");
		snprintf(q, sizeof q, "%.*s", (int)(e - p), p);
		json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:{s:s}}",
		    "name", q, "in", "query", "required", 0, "schema", "type",
		    "string"));
	}
	if (rt->flags & RF_PREFIX)
		json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:{s:s}}",
		    "name", "file", "in", "path", "required", 1, "schema",
		    "type", "string"));
	if (json_array_size(params))
		json_object_set(op, "parameters", params);
	json_decref(params);
	if (rt->bodies) {
		json_t *bc = json_object();
		unsigned k;

		for (k = 0; k < B_NKINDS; k++)
			if (rt->bodies & BK(k) && kind_type[k])
				json_object_set_new(bc, kind_type[k], json_pack(
				    "{s:o}", "schema", body_schema(rt,
				    kind_type[k], 0)));
		json_object_set_new(op, "requestBody", json_pack("{s:b,s:o}",
		    "required", (rt->flags & RF_BODY) != 0, "content", bc));
	}
	if (rt->flags & RF_ADMIN)
		json_object_set_new(op, "security", json_pack("[{s:[]}]",
		    "admin"));
	return op;
}

enum MHD_Result
openapi(struct MHD_Connection *c, struct req *r)
{
	struct loaded *l = model_acquire();
	json_t *paths = json_object(), *doc;
	char path[128];
	size_t i;

	for (i = 0; i < nroutes; i++) {
		const struct route *rt = &routes[i];
		json_t *item = json_object();

		snprintf(path, sizeof path, "%s%s", rt->path,
		    rt->flags & RF_PREFIX ? "{file}" : "");
		if (rt->methods & RM_GET) {
			json_object_set_new(item, "get", operation(rt, "get"));
			json_object_set_new(item, "head", operation(rt, "head"));
		}
		if (rt->methods & RM_POST)
			json_object_set_new(item, "post", operation(rt, "post"));
		json_object_set_new(paths, path, item);
	}
	doc = json_pack("{s:s,s:{s:s,s:s,s:s},s:o,s:o}", "openapi", "3.0.3",
	    "info", "title", "churn-serve", "version", CHURN_VERSION,
	    "description", "Customer churn predictions from the loaded model, "
	    "its registry, drift checks and retraining (see churn-serve(1)). "
	    "Every answer carries X-Request-Id.",
	    "paths", paths, "components", components(l));
	if (l)
		model_release(l);
	return send_json(c, r, 200, doc);
}
