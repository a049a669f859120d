/* churn-push - version a model, publish it to an artifact store, register it */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "model.h"
#include "registry.h"
#include "util.h"

static const struct ch_usage use = {
	"churn-push [-qv] [--store URL] [--database URL] [--alias NAME] [--init]\n"
	"                  [--git-commit SHA] [--keep-version] [--parent VERSION]\n"
	"                  [--reason TEXT] [--dataset SUMMARY] [model | -]\n",
	"  --store URL           the artifact store: a directory, file:// or s3:// URL\n"
	"  --database URL        the PostgreSQL registry (else an index in the store)\n"
	"  --alias NAME          point the alias NAME at the pushed version\n"
	"  --init                create the bucket or directory when missing\n"
	"  --git-commit SHA      the commit the model was trained from (GIT_COMMIT)\n"
	"  --keep-version        refuse a version another model holds, rather than\n"
	"                        publishing under the next free second\n"
	"  --parent VERSION      lineage: the version this model was trained to replace\n"
	"  --reason TEXT         lineage: why it was trained (a drift report, a check)\n"
	"  --dataset SUMMARY     lineage: churn-models dataset's JSON summary of the\n"
	"                        data it was trained on (sha256, rows, bytes, key)\n",
	"  CHURN_STORE           the store when --store is not given (var/store)\n"
	"  CHURN_DATABASE_URL    the registry when --database is not given\n"
	"  CHURN_REGISTRY_TIMEOUT  each registry call at most, seconds (30 S3, 10 connect)\n"
	"  CHURN_S3_ENDPOINT     the S3 endpoint of an s3:// store\n"
	"  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION\n"
	"                        its credentials (AWS_SESSION_TOKEN: temporary ones)\n"
	"  AWS_ENDPOINT_URL      the S3 endpoint when CHURN_S3_ENDPOINT is not set\n"
	"  GIT_COMMIT            the commit when --git-commit is not given\n",
};

static const char *
env(const char *k)
{
	const char *v = getenv(k);
	return v && *v ? v : NULL;
}

/*
 * The model bytes to push: a model file, or churn-train's JSON summary
 * (its "model" member names the file).  name is the input's name for
 * messages ("-" is stdin).
 */
static unsigned char *
read_model(const char *name, size_t *len, char **modelname)
{
	struct ch_err e = {{0}};
	char *buf = ch_read_file(name, len, &e), *path;
	json_error_t je;
	json_t *j, *m;

	if (!buf)
		ch_die(2, "%s", e.msg);
	*modelname = ch_strdup(strcmp(name, "-") == 0 ? "<stdin>" : name);
	if (*len >= 8 && memcmp(buf, CH_MODEL_MAGIC, 8) == 0)
		return (unsigned char *)buf;
	j = json_loadb(buf, *len, 0, &je);
	free(buf);
	if (!j)
		ch_die(2, "%s: neither a model file nor churn-train's JSON summary "
		    "(line %d: %s)", *modelname, je.line, je.text);
	m = json_object_get(j, "model");
	if (!json_is_string(m))
		ch_die(2, "%s: JSON summary has no \"model\" file name", *modelname);
	path = ch_strdup(json_string_value(m));
	json_decref(j);
	free(*modelname);
	*modelname = path;
	if (!(buf = ch_read_file(path, len, &e)))
		ch_die(2, "%s", e.msg);
	return (unsigned char *)buf;
}

/*
 * The lineage from --parent, --reason and --dataset (NULL when none given):
 * {"parent","reason","dataset":{"sha256","rows","bytes","key","labelled",
 * "with"}}.  The data set must be the one the model was trained on (its
 * sha256 is the model's data.sha256).
 */
static json_t *
lineage(const struct ch_model *m, const char *parent, const char *reason,
    const char *dataset)
{
	struct ch_err e = {{0}};
	json_error_t je;
	json_t *l, *d, *x, *sha, *trained;
	size_t len;
	char *buf;
	static const char *const keep[] = { "sha256", "rows", "bytes", "key",
	    "labelled", "positives", "with_rows", "with", "from", "to" };
	size_t i;

	if (!parent && !reason && !dataset)
		return NULL;
	l = json_object();
	if (parent)
		json_object_set_new(l, "parent", json_string(parent));
	if (reason)
		json_object_set_new(l, "reason", json_string(reason));
	if (!dataset)
		return l;
	if (!(buf = ch_read_file(dataset, &len, &e)))
		ch_die(2, "--dataset: %s", e.msg);
	if (!(x = json_loadb(buf, len, 0, &je)) || !json_is_object(x))
		ch_die(2, "--dataset: %s:%d: not churn-models dataset's JSON "
		    "summary%s%s", dataset, je.line, x ? "" : ": ", x ? "" : je.text);
	free(buf);
	sha = json_object_get(x, "sha256");
	if (!json_is_string(sha) || !json_is_integer(json_object_get(x, "rows")))
		ch_die(2, "--dataset: %s: no \"sha256\" and \"rows\"", dataset);
	trained = json_object_get(json_object_get(m->meta, "data"), "sha256");
	if (json_is_string(trained) && strcmp(json_string_value(trained),
	    json_string_value(sha)) != 0)
		ch_die(2, "--dataset: %s: data set %s is not the data the model "
		    "was trained on (%s)", dataset, json_string_value(sha),
		    json_string_value(trained));
	d = json_object();
	for (i = 0; i < sizeof keep / sizeof keep[0]; i++)
		if ((x && json_object_get(x, keep[i])))
			json_object_set(d, keep[i], json_object_get(x, keep[i]));
	json_object_set_new(l, "dataset", d);
	json_decref(x);
	return l;
}

/* The manifest stored beside the artifact and in the registry. */
static json_t *
manifest(const struct ch_model *m, const char *source, const char *commit,
    const json_t *lin)
{
	json_t *j = json_deep_copy(m->meta);

	json_object_set_new(j, "version", json_string(m->version));
	json_object_set_new(j, "schema", ch_schema_input_json(m->schema));
	json_object_set_new(j, "source_file", json_string(source));
	if (commit)
		json_object_set_new(j, "git_commit", json_string(commit));
	if (lin)
		json_object_set_new(j, "lineage", json_deep_copy(lin));
	return j;
}

/*
 * churn-push owns the name under which a model is published: when another
 * model holds the version churn-train stamped, the registry asks for a
 * copy stamped with the next second, and this gives it, so that the name
 * in the stored file, its manifest and the registry stay the same.
 */
struct stamp {
	struct ch_model *m;
	const char *source, *commit;
	const json_t *lineage;
};

static int
restamp(void *arg, const char *version, unsigned char **buf, size_t *len,
    json_t **man, struct ch_err *e)
{
	struct stamp *st = arg;

	snprintf(st->m->version, sizeof st->m->version, "%s", version);
	if (ch_model_encode(st->m, buf, len, e) != 0)
		return -1;
	*man = manifest(st->m, st->source, st->commit, st->lineage);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"store", required_argument, NULL, 's'},
		{"database", required_argument, NULL, 'd'},
		{"alias", required_argument, NULL, 'a'},
		{"init", no_argument, NULL, 'I'},
		{"git-commit", required_argument, NULL, 'g'},
		{"keep-version", no_argument, NULL, 'K'},
		{"parent", required_argument, NULL, 'P'},
		{"reason", required_argument, NULL, 'R'},
		{"dataset", required_argument, NULL, 'D'},
		CH_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct ch_registry_opts o = {0};
	struct ch_registry *r;
	struct ch_model *m;
	struct ch_err e = {{0}};
	const char *alias = NULL, *commit = env("GIT_COMMIT"), *input = "-";
	const char *parent = NULL, *reason = NULL, *dataset = NULL;
	json_t *lin;
	char *modelname;
	unsigned char *buf;
	size_t len;
	json_t *man, *out;
	struct stamp st;
	char trained[sizeof m->version];
	int c, init = 0, keep = 0;

	ch_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "s:d:a:" CH_COMMON_SHORTOPTS,
	    longopts, NULL)) != -1) {
		if (ch_common_opt(c, &use))
			continue;
		switch (c) {
		case 's': o.store_url = optarg; break;
		case 'd': o.database_url = optarg; break;
		case 'a': alias = optarg; break;
		case 'I': init = 1; break;
		case 'g': commit = optarg; break;
		case 'K': keep = 1; break;
		case 'P': parent = optarg; break;
		case 'R': reason = optarg; break;
		case 'D': dataset = optarg; break;
		default: ch_usage(&use, 2);
		}
	}
	if (argc - optind > 1)
		ch_usage(&use, 2);
	if (optind < argc)
		input = argv[optind];
	else if (isatty(STDIN_FILENO))
		ch_die(2, "no model given: name a model file, or pipe churn-train's "
		    "summary in");
	ch_registry_opts_fill(&o, getenv);

	buf = read_model(input, &len, &modelname);
	if (ch_model_decode(buf, len, modelname, &m, &e) != 0)
		ch_die(2, "%s", e.msg);
	lin = lineage(m, parent, reason, dataset);
	man = manifest(m, modelname, commit, lin);

	if (ch_registry_open(&o, &r, &e) != 0)
		ch_die(2, "%s", e.msg);
	if (init && ch_registry_init_store(r, &e) != 0)
		ch_die(2, "%s", e.msg);
	st = (struct stamp){m, modelname, commit, lin};
	snprintf(trained, sizeof trained, "%s", m->version);
	if (ch_registry_push_as(r, buf, len, man, alias, keep ? NULL : restamp, &st,
	    &out, &e) != 0)
		ch_die(2, "%s", e.msg);
	if (strcmp(json_string_value(json_object_get(out, "version")), trained) != 0)
		ch_warn("%s: version %s is another model's; published as %s",
		    modelname, trained, json_string_value(json_object_get(out, "version")));
	if (ch_verbosity() > 0)
		ch_warn("%s pushed to %s, registered in %s", m->version,
		    ch_registry_store_where(r), ch_registry_db_where(r));
	json_object_set(out, "metrics", json_object_get(m->meta, "metrics"));
	if (lin)
		json_object_set(out, "lineage", lin);
	json_object_set_new(out, "registry", json_string(ch_registry_db_where(r)));
	json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	putchar('\n');
	ch_fshut(stdout, "<stdout>");
	json_decref(out);
	json_decref(man);
	json_decref(lin);
	ch_registry_close(r);
	ch_model_free(m);
	free(buf);
	free(modelname);
	return 0;
}
