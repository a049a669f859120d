/* http.h - what churn-serve's route handlers share (private) */
#ifndef CHURN_SERVE_HTTP_H
#define CHURN_SERVE_HTTP_H

#include <stddef.h>

#include <microhttpd.h>

#include "serve.h"

/* An X-Request-Id a client sends is kept when it is 1 to this many
 * letters, digits and -_.:+/=@; otherwise one is made */
#define REQUEST_ID_MAX 128

/* One request: its route, start time and body. */
struct req {
	double t0;
	int route;                  /* index in routes[], -1: none */
	int status;
	int too_big;
	int close;                  /* answer with Connection: close */
	char *body;
	size_t len, cap;
	char *url;                  /* the path asked for */
	char *warning;              /* a Warning header for the answer */
	struct job *job;            /* admin work running or done (admin.c) */
	const char *cors;           /* Access-Control-Allow-Origin, or NULL */
	size_t sent;                /* bytes of the answer's body */
	char method[8];
	char id[REQUEST_ID_MAX + 1];        /* X-Request-Id */
	char remote[64];            /* the client's address, for the log */
};

extern const char JSON[];               /* "application/json" */

/* Answers buf (freed or copied by MHD as mode says); allow for 405. */
enum MHD_Result send_buf(struct MHD_Connection *c, struct req *r, int status,
    const char *type, void *buf, size_t len, enum MHD_ResponseMemoryMode mode,
    const char *allow);
/* Answers j (stolen) as JSON. */
enum MHD_Result send_json(struct MHD_Connection *c, struct req *r, int status,
    json_t *j);
/* {"error": message}; statuses >= 500 are logged. */
enum MHD_Result fail(struct MHD_Connection *c, struct req *r, int status,
    const char *allow, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* 422 {"error": msg, "field": field} (field may be NULL) */
enum MHD_Result fail_field(struct MHD_Connection *c, struct req *r,
    const char *msg, const char *field);

const char *header(struct MHD_Connection *c, const char *name);
const char *query(struct MHD_Connection *c, const char *name);
/* "1", "true", "yes" or an empty value */
int truthy(const char *v);
/* the request's media type, lowercased, without parameters; "" if none */
void media_type(struct MHD_Connection *c, char *out, size_t n);
enum body_kind { B_JSON, B_JSONL, B_CSV, B_FORM, B_UNKNOWN, B_NKINDS };
enum body_kind body_kind(const char *mt);
int has_length(struct MHD_Connection *c);
int admin_ok(struct MHD_Connection *c);

/* --- routes.c: the route table -------------------------------------- */
/*
 * Every route is one row of routes[] (routes.c), redis command-table
 * style: routing, 405 with Allow, the 401 of admin routes, the 411 of
 * routes that need a body, the metric label and the API description are
 * all derived from it.  Adding a route is adding a row.
 */
typedef enum MHD_Result route_fn(struct MHD_Connection *c, struct req *r);
enum {
	RM_GET = 1,                 /* GET and HEAD */
	RM_POST = 2,
};
enum {
	RF_ADMIN = 1,               /* needs the bearer token (--admin-token) */
	RF_BODY = 2,                /* needs a body length (411 without) */
	RF_PREFIX = 4,              /* path is a prefix: /static/<file> */
};
#define BK(k) (1u << (k))      /* a bit of route.bodies */
struct route {
	const char *path;
	const char *name;           /* metric label: the path, or one shared */
	unsigned methods;           /* RM_* */
	unsigned flags;             /* RF_* */
	unsigned bodies;            /* BK(B_*): request bodies taken */
	route_fn *handler;
	const char *answers;        /* media types of the answer, ' '-separated */
	int ok;                     /* the status of a success */
	const char *query;          /* query parameters, ' '-separated */
	const char *summary;        /* one line for the API description */
};
extern const struct route routes[];
/* The row for url, or -1 */
int route_find(const char *url);
/* The methods of a row for an Allow header: "GET, HEAD" or "POST" */
const char *route_allow(int i);

/* http.c: the read-only routes */
route_fn health, ready, model_schema, model_info, models, reports,
    metrics_page, rollout_page, ui;
/* openapi.c */
route_fn openapi;

/* predict.c */
enum MHD_Result predict(struct MHD_Connection *c, struct req *r);
/* admin.c */
enum MHD_Result reload(struct MHD_Connection *c, struct req *r);
enum MHD_Result drift_check(struct MHD_Connection *c, struct req *r);
enum MHD_Result retrain(struct MHD_Connection *c, struct req *r);
enum MHD_Result github_hook(struct MHD_Connection *c, struct req *r);
/* Runs fn(arg) on a thread of its own with c suspended, as the admin
 * routes' children run (registry I/O off the HTTP workers); the handler
 * is called again once it returned and takes arg back with admin_called
 * (NULL: nothing was started for r).  arg_free frees arg when the
 * connection ends first, or at shutdown (then 503). */
enum MHD_Result admin_call(struct MHD_Connection *c, struct req *r,
    void (*fn)(void *), void *arg, void (*arg_free)(void *));
void *admin_called(struct req *r);
/* loop.c: customer outcomes in, live performance out */
enum MHD_Result outcomes(struct MHD_Connection *c, struct req *r);
enum MHD_Result performance(struct MHD_Connection *c, struct req *r);
/* frees r's job, if any (the connection ended before its answer) */
void admin_forget(struct req *r);
/* shutdown: kills admin children, waits until every suspended request
 * is resumed */
void admin_stop(void);

#endif
