/* rollout.c - what the champion and the challenger answered: rows,
 * requests, latency and score histograms per version, the PSI between
 * the two score distributions; GET /rollout and /metrics read them, and
 * GET /rollout adds the comparison on the registry's outcomes */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#include "compare.h"

#define SCORE_BINS 10
static const double lat_le[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1, 2.5 };
#define LAT_BINS (sizeof lat_le / sizeof *lat_le)

/* One slot a role (0 champion, 1 challenger), reset when another version
 * takes it. */
static struct slot {
	char version[64];
	long rows, answered, requests; /* rows scored, rows answered */
	double seconds, ssum;
	long lat[LAT_BINS + 1];     /* the last: above every bound */
	long score[SCORE_BINS];
} S[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const char *const role[2] = { "champion", "challenger" };

/* With mu held. */
static struct slot *
slot(int k, const char *version)
{
	struct slot *x = &S[k];

	if (strcmp(x->version, version) != 0) {
		memset(x, 0, sizeof *x);
		snprintf(x->version, sizeof x->version, "%s", version);
	}
	return x;
}

void
rollout_reset(void)
{
	pthread_mutex_lock(&mu);
	memset(S, 0, sizeof S);
	pthread_mutex_unlock(&mu);
}

void
rollout_note(int challenger, const char *version, double p, int answered)
{
	int b = (int)(p * SCORE_BINS);

	b = b < 0 ? 0 : b >= SCORE_BINS ? SCORE_BINS - 1 : b;
	pthread_mutex_lock(&mu);
	slot(challenger != 0, version)->score[b]++;
	S[challenger != 0].ssum += p;
	S[challenger != 0].answered += answered != 0;
	S[challenger != 0].rows++;
	pthread_mutex_unlock(&mu);
}

void
rollout_request(const long rows[2], double seconds)
{
	size_t b;
	int k;

	for (b = 0; b < LAT_BINS && seconds > lat_le[b]; b++)
		;
	pthread_mutex_lock(&mu);
	for (k = 0; k < 2; k++)
		if (rows[k] > 0 && S[k].version[0]) {
			S[k].requests++;
			S[k].seconds += seconds;
			S[k].lat[b]++;
		}
	pthread_mutex_unlock(&mu);
}

/* PSI of b against a over the score bins (empty bins count 1e-4), or
 * NaN when either is empty. */
static double
psi(const long *a, const long *b)
{
	double na = 0, nb = 0, sum = 0, pa, pb;
	int i;

	for (i = 0; i < SCORE_BINS; i++)
		na += (double)a[i], nb += (double)b[i];
	if (na == 0 || nb == 0)
		return NAN;
	for (i = 0; i < SCORE_BINS; i++) {
		pa = fmax((double)a[i] / na, 1e-4);
		pb = fmax((double)b[i] / nb, 1e-4);
		sum += (pb - pa) * log(pb / pa);
	}
	return sum;
}

json_t *
rollout_state(void)
{
	struct ch_rollout ro;
	struct loaded *champ = model_acquire(), *chal = rollout_acquire(&ro);
	struct slot s[2];
	json_t *out, *versions = json_array(), *h;
	double d;
	int k, i;

	pthread_mutex_lock(&mu);
	memcpy(s, S, sizeof s);
	pthread_mutex_unlock(&mu);
	for (k = 0; k < 2; k++) {
		const struct loaded *l = k ? chal : champ;

		if (!l)
			continue;
		if (strcmp(s[k].version, l->m->version) != 0)
			memset(&s[k], 0, sizeof s[k]);
		h = json_array();
		for (i = 0; i < SCORE_BINS; i++)
			json_array_append_new(h, json_integer(s[k].score[i]));
		json_array_append_new(versions, json_pack("{s:s,s:s,s:I,s:I,"
		    "s:I,s:f,s:o}", "role", role[k], "model_version", l->m->version,
		    "rows", (json_int_t)s[k].rows, "answered",
		    (json_int_t)s[k].answered, "requests",
		    (json_int_t)s[k].requests, "mean_seconds", s[k].requests ?
		    s[k].seconds / (double)s[k].requests : 0.0, "scores", h));
	}
	out = json_pack("{s:o,s:o}", "rollout", ch_rollout_json(&ro),
	    "versions", versions);
	d = chal ? psi(s[0].score, s[1].score) : NAN;
	json_object_set_new(out, "psi", isnan(d) ? json_null() : json_real(d));
	/* in a canary, the share of rows the challenger answered */
	if (chal && ro.mode == CH_ROLLOUT_CANARY &&
	    s[0].answered + s[1].answered > 0)
		json_object_set_new(out, "observed_share", json_real(100.0 *
		    (double)s[1].answered / (double)(s[0].answered +
		    s[1].answered)));
	json_object_set_new(out, "score_bins", json_integer(SCORE_BINS));
	model_release(chal);
	model_release(champ);
	return out;
}

void
rollout_metrics(FILE *fp)
{
	struct ch_rollout ro;
	struct loaded *chal = rollout_acquire(&ro);
	struct slot s[2];
	long cum;
	size_t b;
	int k;

	model_release(chal);
	pthread_mutex_lock(&mu);
	memcpy(s, S, sizeof s);
	pthread_mutex_unlock(&mu);
	fprintf(fp, "# HELP churn_rollout_share Percent of customers the "
	    "challenger answers (canary), 100 in shadow, 0 off.\n"
	    "# TYPE churn_rollout_share gauge\n"
	    "churn_rollout_share{mode=\"%s\",rollout=\"%lld\"} %g\n",
	    ch_rollout_mode_name(ro.mode), ro.id, ro.share);
	fputs("# HELP churn_version_requests_total Requests with rows a "
	    "version answered (or, in shadow, scored).\n"
	    "# TYPE churn_version_requests_total counter\n", fp);
	for (k = 0; k < 2; k++)
		if (s[k].version[0])
			fprintf(fp, "churn_version_requests_total{role=\"%s\","
			    "version=\"%s\"} %ld\n", role[k], s[k].version,
			    s[k].requests);
	fputs("# HELP churn_version_request_seconds Request time by the "
	    "versions that answered it.\n"
	    "# TYPE churn_version_request_seconds histogram\n", fp);
	for (k = 0; k < 2; k++) {
		if (!s[k].version[0])
			continue;
		for (b = 0, cum = 0; b <= LAT_BINS; b++) {
			cum += s[k].lat[b];
			if (b < LAT_BINS)
				fprintf(fp, "churn_version_request_seconds_bucket"
				    "{role=\"%s\",version=\"%s\",le=\"%g\"} %ld\n",
				    role[k], s[k].version, lat_le[b], cum);
			else
				fprintf(fp, "churn_version_request_seconds_bucket"
				    "{role=\"%s\",version=\"%s\",le=\"+Inf\"} %ld\n",
				    role[k], s[k].version, cum);
		}
		fprintf(fp, "churn_version_request_seconds_sum{role=\"%s\","
		    "version=\"%s\"} %g\n", role[k], s[k].version, s[k].seconds);
		fprintf(fp, "churn_version_request_seconds_count{role=\"%s\","
		    "version=\"%s\"} %ld\n", role[k], s[k].version, cum);
	}
	fputs("# HELP churn_version_score Churn probabilities a version "
	    "gave.\n# TYPE churn_version_score histogram\n", fp);
	for (k = 0; k < 2; k++) {
		if (!s[k].version[0])
			continue;
		for (b = 0, cum = 0; b < SCORE_BINS; b++) {
			cum += s[k].score[b];
			fprintf(fp, "churn_version_score_bucket{role=\"%s\","
			    "version=\"%s\",le=\"%s\"} %ld\n", role[k],
			    s[k].version, b + 1 < SCORE_BINS ? (char[8]){ '0',
			    '.', (char)('1' + b), 0 } : "+Inf", cum);
		}
		fprintf(fp, "churn_version_score_sum{role=\"%s\",version="
		    "\"%s\"} %g\n", role[k], s[k].version, s[k].ssum);
		fprintf(fp, "churn_version_score_count{role=\"%s\",version="
		    "\"%s\"} %ld\n", role[k], s[k].version, cum);
	}
}

/* --- GET /rollout ---------------------------------------------------- */

/*
 * The state above plus "comparison": ch_compare_registry's answer for the
 * two versions held (churn-models compare --json's, with the verdict of
 * the CHURN_PROMOTE_* rule), or null with "comparison_error" saying why
 * (no rollout, no registry, too many waiting, a registry failure).  It
 * reads every outcome and the predictions since the rollout began, so it
 * is computed off the HTTP workers, one at a time, and kept CMP_CACHE_S
 * seconds for its rollout and versions.
 */
#define CMP_CACHE_S 10.0
#define CMP_WAITING 4           /* requests waiting for a computation */
#define CMP_BOOTSTRAP 200

static struct {
	pthread_mutex_t mu;         /* guards the cache */
	pthread_mutex_t run;        /* one computation at a time */
	int waiting;                /* jobs started, not freed (under mu) */
	char key[160];
	double at;                  /* ch_seconds(), 0: empty */
	json_t *cmp;
} C = { .mu = PTHREAD_MUTEX_INITIALIZER, .run = PTHREAD_MUTEX_INITIALIZER };

struct cmp_job {
	json_t *state;              /* the answer, completed by the job */
	struct ch_rollout ro;
	char champion[64], challenger[64], key[160];
	json_t *cmp;
	struct ch_err e;
};

/* A reference to the cached comparison for key when fresh; with C.mu. */
static json_t *
cmp_cached(const char *key)
{
	if (C.cmp && ch_seconds() - C.at < CMP_CACHE_S &&
	    strcmp(C.key, key) == 0)
		return json_incref(C.cmp);
	return NULL;
}

static void
cmp_run(void *arg)
{
	struct cmp_job *j = arg;
	struct ch_verdict_rule rule = CH_VERDICT_RULE_INIT;
	struct ch_cmp_query q = { .champion = j->champion,
	    .challenger = j->challenger, .boot = CMP_BOOTSTRAP, .seed = 1,
	    .paired = j->ro.mode == CH_ROLLOUT_SHADOW };

	pthread_mutex_lock(&C.run);
	pthread_mutex_lock(&C.mu);
	j->cmp = cmp_cached(j->key);
	pthread_mutex_unlock(&C.mu);
	if (!j->cmp && ch_verdict_rule_fill(&rule, getenv, &j->e) == 0 &&
	    (j->cmp = reg_compare(&j->ro, &q, &j->e))) {
		ch_compare_verdict(j->cmp, &rule);
		pthread_mutex_lock(&C.mu);
		json_decref(C.cmp);
		C.cmp = json_incref(j->cmp);
		snprintf(C.key, sizeof C.key, "%s", j->key);
		C.at = ch_seconds();
		pthread_mutex_unlock(&C.mu);
	}
	pthread_mutex_unlock(&C.run);
}

/* The end of a job, answered or not (admin_call's arg_free). */
static void
cmp_free(void *arg)
{
	struct cmp_job *j = arg;

	pthread_mutex_lock(&C.mu);
	C.waiting--;
	pthread_mutex_unlock(&C.mu);
	json_decref(j->state);
	json_decref(j->cmp);
	free(j);
}

static enum MHD_Result
with_comparison(struct MHD_Connection *c, struct req *r, json_t *state,
    json_t *cmp, const char *why)
{
	json_object_set_new(state, "comparison", cmp ? cmp : json_null());
	if (!cmp)
		json_object_set_new(state, "comparison_error", jtext(why));
	return send_json(c, r, 200, state);
}

enum MHD_Result
rollout_page(struct MHD_Connection *c, struct req *r)
{
	struct cmp_job *j = admin_called(r);
	struct ch_rollout ro;
	struct loaded *champ, *chal;
	json_t *state, *cmp;
	enum MHD_Result ret;
	int busy = 0;

	if (j) {
		ret = with_comparison(c, r, json_incref(j->state),
		    json_incref(j->cmp), j->e.msg);
		cmp_free(j);
		return ret;
	}
	state = rollout_state();
	champ = model_acquire();
	chal = rollout_acquire(&ro);
	if (!champ || !chal || ro.mode == CH_ROLLOUT_OFF || !reg_available()) {
		model_release(chal);
		model_release(champ);
		return with_comparison(c, r, state, NULL, !reg_available() ?
		    "no registry to read outcomes and predictions from" :
		    "no rollout on");
	}
	j = ch_calloc(1, sizeof *j);
	j->ro = ro;
	snprintf(j->champion, sizeof j->champion, "%s", champ->m->version);
	snprintf(j->challenger, sizeof j->challenger, "%s", chal->m->version);
	snprintf(j->key, sizeof j->key, "%lld %s %s %s", ro.id,
	    ch_rollout_mode_name(ro.mode), j->champion, j->challenger);
	model_release(chal);
	model_release(champ);
	pthread_mutex_lock(&C.mu);
	/* a few queries wait for the computation; more are turned away */
	if (!(cmp = cmp_cached(j->key)) && (busy = C.waiting >= CMP_WAITING) == 0)
		C.waiting++;
	pthread_mutex_unlock(&C.mu);
	if (cmp || busy) {
		free(j);
		return with_comparison(c, r, state, cmp, "comparisons are being "
		    "computed; try again in a few seconds");
	}
	j->state = state;
	return admin_call(c, r, cmp_run, j, cmp_free);
}
