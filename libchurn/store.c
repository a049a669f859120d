/* store.c - artifact stores: the interface, a local directory (file://), and
 * the dispatch to the S3 bucket client of store_s3.c */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_impl.h"

static pthread_mutex_t s3_lock = PTHREAD_MUTEX_INITIALIZER;

/* Keys are relative, '/'-separated names of safe characters; no "..". */
int
check_key(const char *key, struct ch_err *e)
{
	const char *p;

	if (!key || !*key || key[0] == '/' || strstr(key, ".."))
		return ch_errf(e, "bad store key '%s'", key ? key : "");
	for (p = key; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') ||
		    ('0' <= *p && *p <= '9') || strchr("/._-", *p)))
			return ch_errf(e, "bad store key '%s'", key);
	return 0;
}

/* s opened as the local store of url (a path or "file://path"); -1
 * leaves s for the caller to close. */
static int
file_open(struct ch_store *s, const char *url, struct ch_err *e)
{
	const char *p;
	size_t n;

	s->kind = LOCAL;
	if (strncmp(url, "file://", 7) == 0)
		p = url + 7;
	else if (strstr(url, "://")) {
		ch_errf(e, "store '%s': unknown scheme (use file:// or s3://)", url);
		return -1;
	} else
		p = url;
	if (!*p) {
		ch_errf(e, "store '%s': empty path", url);
		return -1;
	}
	s->root = ch_strdup(p);
	n = strlen(s->root);
	while (n > 1 && s->root[n - 1] == '/')
		s->root[--n] = '\0';
	n = strlen(s->root) + 8;
	s->where = ch_malloc(n);
	snprintf(s->where, n, "file://%s", s->root);
	return 0;
}

int
ch_store_open(const char *url, const struct ch_store_opts *o,
    struct ch_store **out, struct ch_err *e)
{
	struct ch_store *s;

	*out = NULL;
	if (!url || !*url)
		return ch_errf(e, "empty store URL");
	s = ch_calloc(1, sizeof *s);
	s->lockfd = -1;
	if (strncmp(url, "s3://", 5) == 0) {
		if (s3_open(s, url, o, e) != 0)
			goto bad;
	} else {
		if (file_open(s, url, e) != 0)
			goto bad;
	}
	*out = s;
	return 0;
bad:
	ch_store_close(s);
	return -1;
}

void
ch_store_close(struct ch_store *s)
{
	if (!s)
		return;
	ch_store_unlock(s);
	if (s->curl)
		curl_easy_cleanup(s->curl);
	if (s->secret_key) {
		/* leave no secret behind in freed memory */
		volatile char *v = s->secret_key;
		while (*v)
			*v++ = '\0';
	}
	if (s->token_header) {
		volatile char *v = s->token_header;
		while (*v)
			*v++ = '\0';
	}
	free(s->token_header);
	free(s->where);
	free(s->root);
	free(s->endpoint);
	free(s->bucket);
	free(s->prefix);
	free(s->region);
	free(s->access_key);
	free(s->secret_key);
	free(s);
}

const char *
ch_store_where(const struct ch_store *s)
{
	return s->where;
}

int
ch_store_is_local(const struct ch_store *s)
{
	return s->kind == LOCAL;
}

/* ---- file:// ---- */

static char *
local_path(const struct ch_store *s, const char *key)
{
	size_t n = strlen(s->root) + strlen(key) + 2;
	char *p = ch_malloc(n);

	snprintf(p, n, "%s/%s", s->root, key);
	return p;
}

/* mkdir -p of the directories above path (path itself is a file). */
static int
mkdirs_for(const char *path, struct ch_err *e)
{
	char *d = ch_strdup(path), *slash = strrchr(d, '/');
	int rc = 0;

	if (slash && slash != d) {
		*slash = '\0';
		rc = ch_mkdirs(d, e);
	}
	free(d);
	return rc;
}

static int
local_init(struct ch_store *s, struct ch_err *e)
{
	char *p = local_path(s, "x");
	int rc = mkdirs_for(p, e);

	free(p);
	return rc;
}

static int
local_put(struct ch_store *s, const char *key, const void *buf, size_t len,
    struct ch_err *e)
{
	char *p = local_path(s, key);
	int rc = mkdirs_for(p, e);

	if (rc == 0)
		rc = ch_write_atomic(p, buf, len, e);
	free(p);
	return rc;
}

static int
local_get(struct ch_store *s, const char *key, unsigned char **buf, size_t *len,
    struct ch_err *e)
{
	char *p = local_path(s, key);
	unsigned char *b = NULL;
	size_t n = 0, cap = 0;
	ssize_t r;
	int fd;

	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
		int rc = errno == ENOENT ? 1 : ch_errf(e, "%s: %s", p, strerror(errno));
		free(p);
		return rc;
	}
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 65536;
			b = ch_realloc(b, cap + 1);
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ch_errf(e, "%s: read: %s", p, strerror(errno));
			free(b);
			close(fd);
			free(p);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	free(p);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

static int
local_head(struct ch_store *s, const char *key, size_t *len, struct ch_err *e)
{
	char *p = local_path(s, key);
	struct stat st;
	int rc = 0;

	if (stat(p, &st) < 0)
		rc = errno == ENOENT ? 1 : ch_errf(e, "%s: %s", p, strerror(errno));
	else
		*len = (size_t)st.st_size;
	free(p);
	return rc;
}

static int
local_delete(struct ch_store *s, const char *key, struct ch_err *e)
{
	char *p = local_path(s, key);
	int rc = 0;

	if (unlink(p) < 0 && errno != ENOENT)
		rc = ch_errf(e, "%s: %s", p, strerror(errno));
	free(p);
	return rc;
}

/* Adds name to the NULL-terminated vector *v of *n names, once. */
void
strv_add(char ***v, size_t *n, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strlen((*v)[i]) == len && memcmp((*v)[i], name, len) == 0)
			return;
	*v = ch_reallocarray(*v, *n + 2, sizeof **v);
	(*v)[(*n)++] = ch_strndup(name, len);
	(*v)[*n] = NULL;
}

static char **
local_list(struct ch_store *s, const char *dir, struct ch_err *e)
{
	char *p = local_path(s, dir), **v = ch_calloc(1, sizeof *v);
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if (!(d = opendir(p))) {
		if (errno != ENOENT && errno != ENOTDIR) {
			ch_errf(e, "%s: %s", p, strerror(errno));
			ch_strv_free(v);
			v = NULL;
		}
		free(p);
		return v;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			strv_add(&v, &n, de->d_name, strlen(de->d_name));
	closedir(d);
	free(p);
	return v;
}

/* rm -r path, adding the bytes of the files removed to *bytes. */
static int
rm_tree(const char *path, unsigned long long *bytes, struct ch_err *e)
{
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : ch_errf(e, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0 && errno != ENOENT)
			return ch_errf(e, "cannot remove '%s': %s", path, strerror(errno));
		*bytes += (unsigned long long)st.st_size;
		return 0;
	}
	if (!(d = opendir(path)))
		return ch_errf(e, "%s: %s", path, strerror(errno));
	while ((de = readdir(d))) {
		size_t n = strlen(path) + strlen(de->d_name) + 2;
		char *c;
		int rc;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		c = ch_malloc(n);
		snprintf(c, n, "%s/%s", path, de->d_name);
		rc = rm_tree(c, bytes, e);
		free(c);
		if (rc < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		return ch_errf(e, "cannot remove '%s': %s", path, strerror(errno));
	return 0;
}

static int
local_remove_all(struct ch_store *s, const char *key, unsigned long long *bytes,
    struct ch_err *e)
{
	char *p = local_path(s, key);
	int rc = rm_tree(p, bytes, e);

	free(p);
	return rc;
}

static void
fsync_dir_of(const char *path)
{
	char *d = ch_strdup(path), *slash = strrchr(d, '/');
	int fd;

	if (slash)
		*slash = '\0';
	if ((fd = open(slash ? d : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	free(d);
}

static int
local_rename(struct ch_store *s, const char *from, const char *to,
    struct ch_err *e)
{
	char *f = local_path(s, from), *t = local_path(s, to), *aside = NULL;
	unsigned long long gone = 0;
	size_t n;
	int rc = -1;

	if (mkdirs_for(t, e) < 0)
		goto out;
	if (rename(f, t) < 0) {
		if (errno != ENOTEMPTY && errno != EEXIST) {
			ch_errf(e, "cannot rename '%s' to '%s': %s", f, t, strerror(errno));
			goto out;
		}
		/* a directory in the way: aside under a name that starts like
		 * from's, so that a crash here leaves it to the same cleanup */
		n = strlen(f) + 5;
		aside = ch_malloc(n);
		snprintf(aside, n, "%s.old", f);
		if (rm_tree(aside, &gone, e) < 0)
			goto out;
		if (rename(t, aside) < 0 || rename(f, t) < 0) {
			ch_errf(e, "cannot replace '%s' by '%s': %s", t, f, strerror(errno));
			goto out;
		}
		if (rm_tree(aside, &gone, e) < 0)
			goto out;
	}
	fsync_dir_of(t);
	rc = 0;
out:
	free(f);
	free(t);
	free(aside);
	return rc;
}

/* ---- dispatch ---- */

int
ch_store_init(struct ch_store *s, struct ch_err *e)
{
	return s->kind == LOCAL ? local_init(s, e) : s3_init(s, e);
}

int
ch_store_put(struct ch_store *s, const char *key, const void *buf, size_t len,
    struct ch_err *e)
{
	if (check_key(key, e) < 0)
		return -1;
	return s->kind == LOCAL ? local_put(s, key, buf, len, e) :
	    s3_put(s, key, buf, len, e);
}

int
ch_store_get(struct ch_store *s, const char *key, unsigned char **buf,
    size_t *len, struct ch_err *e)
{
	*buf = NULL;
	*len = 0;
	if (check_key(key, e) < 0)
		return -1;
	return s->kind == LOCAL ? local_get(s, key, buf, len, e) :
	    s3_get(s, key, buf, len, e);
}

int
ch_store_stream(struct ch_store *s, const char *key,
    size_t (*sink)(const void *, size_t, void *), void *arg, struct ch_err *e)
{
	unsigned char *b;
	size_t n;
	int rc;

	if (check_key(key, e) < 0)
		return -1;
	if (s->kind == LOCAL) {
		if ((rc = local_get(s, key, &b, &n, e)) != 0)
			return rc;
		rc = sink(b, n, arg) == n ? 0 : ch_errf(e, "%s: the reader "
		    "stopped", key);
		free(b);
		return rc;
	}
	return s3_stream(s, key, sink, arg, e);
}

int
ch_store_head(struct ch_store *s, const char *key, size_t *len, struct ch_err *e)
{
	if (check_key(key, e) < 0)
		return -1;
	return s->kind == LOCAL ? local_head(s, key, len, e) :
	    s3_head(s, key, len, e);
}

int
ch_store_delete(struct ch_store *s, const char *key, struct ch_err *e)
{
	if (check_key(key, e) < 0)
		return -1;
	return s->kind == LOCAL ? local_delete(s, key, e) : s3_delete(s, key, e);
}

int
ch_store_lock(struct ch_store *s, const char *key, struct ch_err *e)
{
	char *p, *lk;
	size_t n;
	int fd;

	if (s->locked)
		return ch_errf(e, "store %s: lock already held", s->where);
	if (check_key(key, e) < 0)
		return -1;
	if (s->kind == S3) {
		pthread_mutex_lock(&s3_lock);
		s->locked = 1;
		return 0;
	}
	p = local_path(s, key);
	n = strlen(p) + 6;
	lk = ch_malloc(n);
	snprintf(lk, n, "%s.lock", p);
	free(p);
	if (mkdirs_for(lk, e) < 0) {
		free(lk);
		return -1;
	}
	if ((fd = open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0) {
		ch_errf(e, "cannot open lock file '%s': %s", lk, strerror(errno));
		free(lk);
		return -1;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		ch_errf(e, "cannot lock '%s': %s", lk, strerror(errno));
		close(fd);
		free(lk);
		return -1;
	}
	free(lk);
	s->lockfd = fd;
	s->locked = 1;
	return 0;
}

void
ch_store_unlock(struct ch_store *s)
{
	if (!s->locked)
		return;
	if (s->kind == S3)
		pthread_mutex_unlock(&s3_lock);
	else if (s->lockfd >= 0) {
		flock(s->lockfd, LOCK_UN);
		close(s->lockfd);
		s->lockfd = -1;
	}
	s->locked = 0;
}

char **
ch_store_list(struct ch_store *s, const char *dir, struct ch_err *e)
{
	if (check_key(dir, e) < 0)
		return NULL;
	return s->kind == LOCAL ? local_list(s, dir, e) : s3_list_names(s, dir, e);
}

int
ch_store_remove_all(struct ch_store *s, const char *key,
    unsigned long long *bytes, struct ch_err *e)
{
	unsigned long long b = 0;
	int rc;

	if (check_key(key, e) < 0)
		return -1;
	rc = s->kind == LOCAL ? local_remove_all(s, key, &b, e) :
	    s3_remove_all(s, key, &b, e);
	if (bytes)
		*bytes = b;
	return rc;
}

int
ch_store_rename(struct ch_store *s, const char *from, const char *to,
    struct ch_err *e)
{
	if (check_key(from, e) < 0 || check_key(to, e) < 0)
		return -1;
	if (s->kind != LOCAL)
		return ch_errf(e, "store %s: s3 has no rename", s->where);
	return local_rename(s, from, to, e);
}
