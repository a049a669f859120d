/* csv.c - streaming CSV records through libcsv */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>
#include <openssl/evp.h>

#include "csv.h"

#define CHUNK 65536

struct span {
	size_t off, len;
};

struct rec {
	size_t first, n;        /* fields [first, first + n) */
	long line;
};

struct ch_csv {
	FILE *fp;
	char *name;
	struct csv_parser p;
	EVP_MD_CTX *md;
	char *chunk;
	int bom_checked, eof;
	long line;              /* line being fed to libcsv */
	long last;              /* line where the last record ended */

	char *arena;            /* field texts, NUL-terminated */
	size_t alen, acap;
	struct span *fld;       /* all fields in the arena */
	size_t nfld, fcap;
	struct rec *rec;        /* completed records */
	size_t nrec, rcap, next;
	size_t cur;             /* first field of the record being built */

	char **ptr;             /* handed out: pointers for one record */
	size_t *lens;
	size_t pcap;
};

static void
on_field(void *s, size_t len, void *data)
{
	struct ch_csv *r = data;

	while (r->alen + len + 1 > r->acap)
		r->arena = ch_realloc(r->arena, r->acap *= 2);
	if (len)
		memcpy(r->arena + r->alen, s, len);
	r->arena[r->alen + len] = '\0';
	if (r->nfld == r->fcap)
		r->fld = ch_reallocarray(r->fld, r->fcap *= 2, sizeof *r->fld);
	r->fld[r->nfld].off = r->alen;
	r->fld[r->nfld].len = len;
	r->nfld++;
	r->alen += len + 1;
}

static void
on_record(int c, void *data)
{
	struct ch_csv *r = data;

	(void)c;
	if (r->nrec == r->rcap)
		r->rec = ch_reallocarray(r->rec, r->rcap *= 2, sizeof *r->rec);
	r->rec[r->nrec].first = r->cur;
	r->rec[r->nrec].n = r->nfld - r->cur;
	r->rec[r->nrec].line = r->last = r->line;
	r->nrec++;
	r->cur = r->nfld;
}

struct ch_csv *
ch_csv_open(FILE *fp, const char *name, struct ch_err *e)
{
	struct ch_csv *r = ch_calloc(1, sizeof *r);

	if (csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
		free(r);
		ch_errf(e, "%s: cannot set up the CSV parser", name);
		return NULL;
	}
	r->fp = fp;
	r->name = ch_strdup(strcmp(name, "-") == 0 ? "<stdin>" : name);
	r->md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(r->md, EVP_sha256(), NULL);
	r->chunk = ch_malloc(CHUNK);
	r->arena = ch_malloc(r->acap = CHUNK);
	r->fld = ch_malloc((r->fcap = 256) * sizeof *r->fld);
	r->rec = ch_malloc((r->rcap = 64) * sizeof *r->rec);
	r->line = 1;
	return r;
}

/* Drops the records handed out, keeping the fields of the partial one. */
static void
compact(struct ch_csv *r)
{
	size_t i, base, nkeep = r->nfld - r->cur;

	base = nkeep ? r->fld[r->cur].off : r->alen;
	memmove(r->arena, r->arena + base, r->alen - base);
	r->alen -= base;
	for (i = 0; i < nkeep; i++) {
		r->fld[i] = r->fld[r->cur + i];
		r->fld[i].off -= base;
	}
	r->nfld = nkeep;
	r->cur = 0;
	r->nrec = r->next = 0;
}

static int
parse(struct ch_csv *r, const char *s, size_t n, struct ch_err *e)
{
	const char *nl;
	size_t seg;

	while (n > 0) {
		nl = memchr(s, '\n', n);
		seg = nl ? (size_t)(nl - s) + 1 : n;
		if (csv_parse(&r->p, s, seg, on_field, on_record, r) != seg)
			return ch_errf(e, "%s:%ld: malformed CSV: %s", r->name,
			    r->line, csv_error(&r->p) == CSV_EPARSE ?
			    "a quote inside an unquoted field, or text after a closing quote" :
			    csv_strerror(csv_error(&r->p)));
		if (nl)
			r->line++;
		s += seg;
		n -= seg;
	}
	return 0;
}

int
ch_csv_next(struct ch_csv *r, struct ch_record *rec, struct ch_err *e)
{
	struct rec *x;
	size_t i, n;
	char *s;

	while (r->next == r->nrec) {
		if (r->eof)
			return 0;
		compact(r);
		n = fread(r->chunk, 1, CHUNK, r->fp);
		if (n == 0) {
			if (ferror(r->fp))
				return ch_errf(e, "read %s: %s", r->name,
				    strerror(errno));
			r->eof = 1;
			if (csv_fini(&r->p, on_field, on_record, r) != 0)
				return ch_errf(e, "%s:%ld: malformed CSV: "
				    "a quoted field is not closed", r->name,
				    r->last + 1);
			continue;
		}
		EVP_DigestUpdate(r->md, r->chunk, n);
		s = r->chunk;
		if (!r->bom_checked) {
			r->bom_checked = 1;
			if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
				s += 3, n -= 3;
		}
		if (parse(r, s, n, e) != 0)
			return -1;
	}
	x = &r->rec[r->next++];
	if (x->n > r->pcap) {
		r->pcap = x->n * 2;
		r->ptr = ch_reallocarray(r->ptr, r->pcap, sizeof *r->ptr);
		r->lens = ch_reallocarray(r->lens, r->pcap, sizeof *r->lens);
	}
	for (i = 0; i < x->n; i++) {
		r->ptr[i] = r->arena + r->fld[x->first + i].off;
		r->lens[i] = r->fld[x->first + i].len;
	}
	rec->field = r->ptr;
	rec->len = r->lens;
	rec->n = x->n;
	rec->line = x->line;
	return 1;
}

const char *
ch_csv_name(const struct ch_csv *r)
{
	return r->name;
}

void
ch_csv_sha256(struct ch_csv *r, char hex[65])
{
	EVP_MD_CTX *copy = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_MD_CTX_copy_ex(copy, r->md);
	EVP_DigestFinal_ex(copy, md, &len);
	EVP_MD_CTX_free(copy);
	ch_hex(md, 32, hex);
}

void
ch_csv_close(struct ch_csv *r)
{
	if (!r)
		return;
	csv_free(&r->p);
	EVP_MD_CTX_free(r->md);
	free(r->name);
	free(r->chunk);
	free(r->arena);
	free(r->fld);
	free(r->rec);
	free(r->ptr);
	free(r->lens);
	free(r);
}
