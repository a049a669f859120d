/* model.c - the model file: schema, forest, metadata, reference profiles */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "model.h"

/*
 * Layout (all integers little-endian), see churn-model(5):
 *   header:  "CHURNMDL" u32 format u32 flags(0) u64 payload-length
 *            u8[32] SHA-256 of the payload
 *   payload: u32 meta-length, meta (JSON, UTF-8; format 2 adds "learner",
 *              "base_score" and "calibration")
 *            u32 ntrees, u32 nfeat, then per tree:
 *              u32 nnodes, u32 nbitsets,
 *              nnodes x { i32 feat, u32 arg, u8 missing_left, u8 categorical,
 *                         u16 0, i32 left, i32 right, f32 value }
 *              nbitsets x u8[32]
 */
#define HDR 56
#define NODE 24

static void
put32(struct ch_buf *b, uint32_t v)
{
	unsigned char x[4] = { v, v >> 8, v >> 16, v >> 24 };

	ch_buf_add(b, x, 4);
}

static void
put64(struct ch_buf *b, uint64_t v)
{
	put32(b, (uint32_t)v);
	put32(b, (uint32_t)(v >> 32));
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get64(const unsigned char *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static json_t *
meta_json(const struct ch_model *m)
{
	json_t *o = json_object(), *k;
	const char *key;
	char created[21];

	ch_iso8601(m->created, created);
	json_object_set_new(o, "version", json_string(m->version));
	json_object_set_new(o, "created", json_string(created));
	json_object_set_new(o, "created_unix", json_integer((json_int_t)m->created));
	json_object_set_new(o, "threshold", json_real(m->threshold));
	json_object_set_new(o, "schema", ch_schema_to_json(m->schema));
	json_object_set_new(o, "prediction_reference", ch_profile_to_json(&m->pred_ref));
	json_object_set_new(o, "learner", json_string(
	    m->forest->learner == CH_LEARN_GBDT ? "gbdt" : "forest"));
	if (m->forest->learner == CH_LEARN_GBDT)
		json_object_set_new(o, "base_score", json_real(m->forest->base));
	json_object_set_new(o, "calibration", m->calib.method ?
	    ch_calib_to_json(&m->calib) : json_null());
	json_object_foreach(m->meta, key, k)
		if (!json_object_get(o, key))
			json_object_set(o, key, k);
	return o;
}

int
ch_model_encode(struct ch_model *m, unsigned char **out, size_t *outlen,
    struct ch_err *e)
{
	struct ch_buf b = { 0 };
	json_t *meta = meta_json(m);
	char *js = json_dumps(meta, JSON_COMPACT | JSON_REAL_PRECISION(17));
	unsigned char md[32];
	unsigned int mdlen = 0;
	const struct ch_forest *f = m->forest;
	uint32_t t, i;

	json_decref(meta);
	if (!js)
		return ch_errf(e, "cannot encode the model metadata");
	ch_buf_add(&b, CH_MODEL_MAGIC, 8);
	put32(&b, CH_MODEL_FORMAT);
	put32(&b, 0);
	put64(&b, 0);             /* payload length, patched below */
	ch_buf_add(&b, (unsigned char[32]){ 0 }, 32);
	put32(&b, (uint32_t)strlen(js));
	ch_buf_add(&b, js, strlen(js));
	free(js);
	put32(&b, (uint32_t)f->ntrees);
	put32(&b, (uint32_t)f->nfeat);
	for (t = 0; t < (uint32_t)f->ntrees; t++) {
		const struct ch_tree *tr = &f->trees[t];

		put32(&b, tr->nnodes);
		put32(&b, tr->nbitsets);
		for (i = 0; i < tr->nnodes; i++) {
			const struct ch_node *n = &tr->nodes[i];
			unsigned char x[4] = { n->missing_left, n->categorical, 0, 0 };
			uint32_t v;

			put32(&b, (uint32_t)n->feat);
			put32(&b, n->arg);
			ch_buf_add(&b, x, 4);
			put32(&b, (uint32_t)n->left);
			put32(&b, (uint32_t)n->right);
			memcpy(&v, &n->value, 4);
			put32(&b, v);
		}
		for (i = 0; i < tr->nbitsets; i++)
			ch_buf_add(&b, tr->bitsets[i], 32);
	}
	for (i = 0; i < 8; i++)
		((unsigned char *)b.s)[16 + i] = (unsigned char)((uint64_t)(b.len - HDR) >> (8 * i));
	EVP_Digest(b.s + HDR, b.len - HDR, md, &mdlen, EVP_sha256(), NULL);
	memcpy(b.s + 24, md, 32);
	ch_sha256_hex(b.s, b.len, m->sha256);
	m->file_size = b.len;
	*out = (unsigned char *)b.s;
	*outlen = b.len;
	return 0;
}

int
ch_model_save(struct ch_model *m, const char *path, struct ch_err *e)
{
	unsigned char *buf;
	size_t len;
	int rc;

	if (ch_model_encode(m, &buf, &len, e) != 0)
		return -1;
	rc = ch_write_atomic(path, buf, len, e);
	free(buf);
	return rc;
}

static int
decode_forest(const unsigned char *p, size_t len, const json_t *meta,
    struct ch_forest **out, const char *name, struct ch_err *e)
{
	struct ch_forest *f = ch_calloc(1, sizeof *f);
	const char *learner = json_string_value(json_object_get(meta, "learner"));

	if (learner && strcmp(learner, "gbdt") == 0) {
		f->learner = CH_LEARN_GBDT;
		f->base = json_number_value(json_object_get(meta, "base_score"));
		if (!json_is_number(json_object_get(meta, "base_score"))) {
			ch_forest_free(f);
			return ch_errf(e, "%s: corrupt model: boosted trees "
			    "without base_score", name);
		}
	} else if (learner && strcmp(learner, "forest") != 0) {
		ch_forest_free(f);
		return ch_errf(e, "%s: corrupt model: unknown learner '%.40s'",
		    name, learner);
	}
	uint32_t t, i, ntrees;
	size_t off = 8;

	if (len < 8)
		goto trunc;
	ntrees = get32(p);
	f->nfeat = (int)get32(p + 4);
	if (ntrees == 0 || ntrees > 100000)
		goto bad;
	f->trees = ch_calloc(ntrees, sizeof *f->trees);
	f->ntrees = (int)ntrees;
	for (t = 0; t < ntrees; t++) {
		struct ch_tree *tr = &f->trees[t];

		if (len - off < 8)
			goto trunc;
		tr->nnodes = get32(p + off);
		tr->nbitsets = get32(p + off + 4);
		off += 8;
		if (tr->nnodes == 0 ||
		    (len - off) / NODE < tr->nnodes ||
		    (len - off - (size_t)tr->nnodes * NODE) / 32 < tr->nbitsets)
			goto trunc;
		tr->nodes = ch_malloc((size_t)tr->nnodes * sizeof *tr->nodes);
		for (i = 0; i < tr->nnodes; i++, off += NODE) {
			struct ch_node *n = &tr->nodes[i];
			uint32_t v = get32(p + off + 20);

			n->feat = (int32_t)get32(p + off);
			n->arg = get32(p + off + 4);
			n->missing_left = p[off + 8];
			n->categorical = p[off + 9];
			n->pad[0] = n->pad[1] = 0;
			n->left = (int32_t)get32(p + off + 12);
			n->right = (int32_t)get32(p + off + 16);
			memcpy(&n->value, &v, 4);
		}
		tr->bitsets = ch_malloc((tr->nbitsets ? tr->nbitsets : 1) * 32);
		memcpy(tr->bitsets, p + off, (size_t)tr->nbitsets * 32);
		off += (size_t)tr->nbitsets * 32;
	}
	if (off != len)
		goto bad;
	if (ch_forest_check(f, e) != 0) {
		char why[sizeof e->msg];

		snprintf(why, sizeof why, "%s", e->msg);
		ch_errf(e, "%s: corrupt model: %s", name, why);
		ch_forest_free(f);
		return -1;
	}
	*out = f;
	return 0;
trunc:
	ch_forest_free(f);
	return ch_errf(e, "%s: corrupt model: forest truncated", name);
bad:
	ch_forest_free(f);
	return ch_errf(e, "%s: corrupt model: bad forest layout", name);
}

/* The file header of buf checked (magic, format, payload length and
 * SHA-256); its format and payload length returned. */
static int
check_header(const unsigned char *buf, size_t len, const char *name,
    uint32_t *formatp, uint64_t *plenp, struct ch_err *e)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	uint32_t format;
	uint64_t plen;

	if (len < 8 || memcmp(buf, CH_MODEL_MAGIC, 8) != 0)
		return ch_errf(e, "%s: not a churn model (bad magic)", name);
	if (len < HDR)
		return ch_errf(e, "%s: truncated model file (%zu bytes)", name, len);
	format = get32(buf + 8);
	if (format > CH_MODEL_FORMAT)
		return ch_errf(e, "%s: model format %u is newer than this program "
		    "reads (%d): upgrade churn", name, format, CH_MODEL_FORMAT);
	if (format == 0)
		return ch_errf(e, "%s: corrupt model: format 0", name);
	plen = get64(buf + 16);
	if (plen != len - HDR)
		return ch_errf(e, "%s: truncated model file: %zu payload bytes, "
		    "header says %llu", name, len - HDR, (unsigned long long)plen);
	EVP_Digest(buf + HDR, plen, md, &mdlen, EVP_sha256(), NULL);
	if (memcmp(md, buf + 24, 32) != 0)
		return ch_errf(e, "%s: corrupt model: SHA-256 of the payload "
		    "does not match", name);
	*formatp = format;
	*plenp = plen;
	return 0;
}

/* m's version, time, threshold, schema, prediction reference and (format
 * 2 on) calibration read from its metadata; errors say "corrupt model". */
static int
read_meta(struct ch_model *m, uint32_t format, const char *name,
    struct ch_err *e)
{
	json_t *meta = m->meta, *x;
	const char *v;

	v = json_string_value(json_object_get(meta, "version"));
	x = json_object_get(meta, "created_unix");
	if (!v || strlen(v) != 16 || !json_is_integer(x) ||
	    !json_is_number(json_object_get(meta, "threshold")))
		return ch_errf(e, "%s: corrupt model: metadata lacks version", name);
	memcpy(m->version, v, 17);
	m->created = (time_t)json_integer_value(x);
	m->threshold = json_number_value(json_object_get(meta, "threshold"));
	if (ch_schema_from_json(json_object_get(meta, "schema"), &m->schema, e) != 0 ||
	    ch_profile_from_json(json_object_get(meta, "prediction_reference"),
	    CH_NUMERIC, &m->pred_ref, e) != 0) {
		char why[sizeof e->msg];

		snprintf(why, sizeof why, "%s", e->msg);
		return ch_errf(e, "%s: corrupt model: %s", name, why);
	}
	if (format >= 2 &&
	    ch_calib_from_json(json_object_get(meta, "calibration"), &m->calib, e) != 0) {
		char why[sizeof e->msg];

		snprintf(why, sizeof why, "%s", e->msg);
		return ch_errf(e, "%s: corrupt model: %s", name, why);
	}
	return 0;
}

int
ch_model_decode(const unsigned char *buf, size_t len, const char *name,
    struct ch_model **out, struct ch_err *e)
{
	struct ch_model *m;
	uint32_t format = 0, mlen;
	uint64_t plen = 0;
	json_t *meta;
	json_error_t je;

	if (check_header(buf, len, name, &format, &plen, e) != 0)
		return -1;
	buf += HDR;
	if (plen < 4)
		return ch_errf(e, "%s: corrupt model: payload of %llu bytes", name,
		    (unsigned long long)plen);
	mlen = get32(buf);
	if (mlen > plen - 4)
		return ch_errf(e, "%s: corrupt model: bad metadata length", name);
	meta = json_loadb((const char *)buf + 4, mlen, 0, &je);
	if (!meta || !json_is_object(meta)) {
		json_decref(meta);
		return ch_errf(e, "%s: corrupt model: metadata: %s", name, je.text);
	}
	m = ch_calloc(1, sizeof *m);
	m->meta = meta;
	m->format = (int)format;
	ch_sha256_hex(buf - HDR, len, m->sha256);
	m->file_size = len;
	if (read_meta(m, format, name, e) != 0)
		goto fail;
	if (decode_forest(buf + 4 + mlen, plen - 4 - mlen,
	    format >= 2 ? meta : NULL, &m->forest, name, e) != 0)
		goto fail;
	if (m->forest->nfeat != m->schema->nfeat) {
		ch_errf(e, "%s: corrupt model: forest and schema disagree", name);
		goto fail;
	}
	m->scorer = ch_scorer_new(m->forest);
	json_object_del(meta, "schema");
	json_object_del(meta, "prediction_reference");
	*out = m;
	return 0;
fail:
	ch_model_free(m);
	return -1;
}

int
ch_model_load(const char *path, struct ch_model **out, struct ch_err *e)
{
	size_t len;
	char *buf = ch_read_file(path, &len, e);
	int rc;

	if (!buf)
		return -1;
	rc = ch_model_decode((unsigned char *)buf, len,
	    strcmp(path, "-") == 0 ? "<stdin>" : path, out, e);
	free(buf);
	return rc;
}

double
ch_model_predict(const struct ch_model *m, const uint8_t *codes)
{
	double p;

	ch_scorer_run(m->scorer, codes, 1, &p);
	return ch_calib_apply(&m->calib, p);
}

struct part {
	const struct ch_scorer *s;
	const uint8_t *codes;
	size_t n;
	double *p;
};

static void *
predict_part(void *arg)
{
	struct part *w = arg;

	ch_scorer_run(w->s, w->codes, w->n, w->p);
	return NULL;
}

void
ch_model_predict_batch(const struct ch_model *m, const uint8_t *codes,
    size_t n, double *p, int jobs)
{
	struct part w[64];
	pthread_t tid[64];
	int started[64] = { 0 };
	size_t per, off = 0, nf = (size_t)m->forest->nfeat;
	int i, k;

	if (jobs > 64)
		jobs = 64;
	/* threads pay off only for batches of some size */
	if (jobs <= 1 || n < 256) {
		ch_scorer_run(m->scorer, codes, n, p);
		goto calibrate;
	}
	per = (n + (size_t)jobs - 1) / (size_t)jobs;
	for (k = 0; k < jobs && off < n; k++, off += per) {
		w[k] = (struct part){ m->scorer, codes + off * nf,
		    off + per > n ? n - off : per, p + off };
		if (k > 0)
			started[k] = pthread_create(&tid[k], NULL, predict_part, &w[k]) == 0;
		if (k > 0 && !started[k])
			predict_part(&w[k]);
	}
	predict_part(&w[0]);
	for (i = 1; i < k; i++)
		if (started[i])
			pthread_join(tid[i], NULL);
calibrate:
	if (m->calib.method != CH_CALIB_NONE)
		for (off = 0; off < n; off++)
			p[off] = ch_calib_apply(&m->calib, p[off]);
}

json_t *
ch_model_schema_json(const struct ch_model *m)
{
	json_t *o = ch_schema_input_json(m->schema);

	json_object_set_new(o, "model_version", json_string(m->version));
	json_object_set_new(o, "threshold", json_real(m->threshold));
	return o;
}

json_t *
ch_model_describe(const struct ch_model *m)
{
	json_t *o = json_object(), *fs = json_array(), *imp, *k;
	const char *key;
	char created[21];
	int i;

	ch_iso8601(m->created, created);
	json_object_set_new(o, "version", json_string(m->version));
	json_object_set_new(o, "created", json_string(created));
	json_object_set_new(o, "sha256", json_string(m->sha256));
	json_object_set_new(o, "size", json_integer((json_int_t)m->file_size));
	json_object_set_new(o, "format", json_integer(m->format ? m->format :
	    CH_MODEL_FORMAT));
	json_object_set_new(o, "target", json_string(m->schema->target));
	json_object_set_new(o, "id", m->schema->id ? json_string(m->schema->id) : json_null());
	json_object_set_new(o, "threshold", json_real(m->threshold));
	json_object_set_new(o, "trees", json_integer(m->forest->ntrees));
	json_object_set_new(o, "learner", json_string(
	    m->forest->learner == CH_LEARN_GBDT ? "gbdt" : "forest"));
	imp = json_object_get(m->meta, "importances");
	for (i = 0; i < m->schema->nfeat; i++) {
		const struct ch_feature *f = &m->schema->f[i];
		json_t *x = json_object();

		json_object_set_new(x, "name", json_string(f->name));
		json_object_set_new(x, "type", json_string(f->type == CH_NUMERIC ?
		    "numeric" : "categorical"));
		if (json_is_array(imp) && json_array_get(imp, (size_t)i))
			json_object_set(x, "importance", json_array_get(imp, (size_t)i));
		json_array_append_new(fs, x);
	}
	json_object_set_new(o, "features", fs);
	json_object_foreach(m->meta, key, k)
		if (!json_object_get(o, key) && strcmp(key, "importances") != 0 &&
		    strcmp(key, "created_unix") != 0)
			json_object_set(o, key, k);
	return o;
}

void
ch_model_free(struct ch_model *m)
{
	if (!m)
		return;
	ch_schema_free(m->schema);
	ch_forest_free(m->forest);
	ch_scorer_free(m->scorer);
	ch_calib_free(&m->calib);
	ch_profile_free(&m->pred_ref);
	json_decref(m->meta);
	free(m);
}
