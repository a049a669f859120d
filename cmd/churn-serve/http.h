/* http.h - what churn-serve's route handlers share (private) */
#ifndef CHURN_SERVE_HTTP_H
#define CHURN_SERVE_HTTP_H

#include <stddef.h>

#include <microhttpd.h>

#include "serve.h"

/* One request: its route, start time and body. */
struct req {
	double t0;
	enum route route;
	int status;
	int too_big;
	int close;                  /* answer with Connection: close */
	char *body;
	size_t len, cap;
	char *url;                  /* kept for the access log only */
	char *warning;              /* a Warning header for the answer */
	struct job *job;            /* admin work running or done (admin.c) */
	char method[8];
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
enum body_kind { B_JSON, B_JSONL, B_CSV, B_FORM, B_UNKNOWN };
enum body_kind body_kind(const char *mt);
int has_length(struct MHD_Connection *c);
int admin_ok(struct MHD_Connection *c);

/* predict.c */
enum MHD_Result predict(struct MHD_Connection *c, struct req *r);
/* admin.c */
enum MHD_Result reload(struct MHD_Connection *c, struct req *r);
enum MHD_Result drift_check(struct MHD_Connection *c, struct req *r);
enum MHD_Result retrain(struct MHD_Connection *c, struct req *r);
enum MHD_Result github_hook(struct MHD_Connection *c, struct req *r);
/* frees r's job, if any (the connection ended before its answer) */
void admin_forget(struct req *r);
/* shutdown: kills admin children, waits until every suspended request
 * is resumed */
void admin_stop(void);

#endif
