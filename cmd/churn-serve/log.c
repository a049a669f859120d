/* log.c - structured one-line logs on stderr (text or JSON) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"

json_t *
jtextn(const char *s, size_t len)
{
	size_t n;
	char *t = ch_utf8_clean(s, len, &n);
	json_t *j = json_stringn(t, n);

	free(t);
	return j;
}

json_t *
jtext(const char *s)
{
	return s ? jtextn(s, strlen(s)) : json_null();
}

/* Nonzero when a text-log value must be written quoted (as JSON): empty,
 * or holding a blank, quote, '=' or a control character (CR included),
 * which would split the line or its key=value pairs. */
static int
needs_quotes(const char *t)
{
	if (!*t)
		return 1;
	for (; *t; t++)
		if ((unsigned char)*t <= ' ' || *t == '"' || *t == '=' ||
		    *t == 0x7f)
			return 1;
	return 0;
}

/* One event: time, level, message and fields, written with one write(2)
 * so that lines from different threads never interleave.  Fields should
 * hold outside text only through jtext: a json_pack given bytes that are
 * not UTF-8 returns NULL, and the line has no fields then. */
void
slog(const char *level, const char *msg, json_t *fields)
{
	char ts[96], *line = NULL, *s;
	struct timespec now;
	struct tm tm;
	size_t len = 0;
	FILE *fp;
	const char *k;
	json_t *v;

	/* "listening" stays: scripts wait for it */
	if (cfg.quiet && strcmp(level, "info") == 0 &&
	    strcmp(msg, "listening") != 0) {
		json_decref(fields);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
	if (!fields)
		fields = json_object();
	if (cfg.log_json) {
		json_t *o = json_pack("{s:s,s:s,s:o}", "time", ts, "level",
		    level, "msg", jtext(msg));

		json_object_update(o, fields);
		s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
		json_decref(o);
		if (s) {
			dprintf(STDERR_FILENO, "%s\n", s);
			free(s);
		}
		json_decref(fields);
		return;
	}
	if (!(fp = open_memstream(&line, &len))) {
		json_decref(fields);
		return;
	}
	fprintf(fp, "%s %s %s", ts, level, msg);
	json_object_foreach(fields, k, v) {
		if (json_is_string(v)) {
			const char *t = json_string_value(v);
			if (!needs_quotes(t))
				fprintf(fp, " %s=%s", k, t);
			else if ((s = json_dumps(v, JSON_ENCODE_ANY))) {
				fprintf(fp, " %s=%s", k, s);
				free(s);
			}
		} else if ((s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT))) {
			fprintf(fp, " %s=%s", k, s);
			free(s);
		}
	}
	fputc('\n', fp);
	fclose(fp);
	if (line) {
		ssize_t w = write(STDERR_FILENO, line, len);
		(void)w;
		free(line);
	}
	json_decref(fields);
}
