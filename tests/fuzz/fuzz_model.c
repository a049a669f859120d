/* fuzz_model.c - libFuzzer target: decoding a model file.  Random bytes
 * rarely pass the checksum, so the input's payload checksum is fixed up
 * first: the structure checks behind it are what is exercised. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "model.h"

volatile double sink;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ch_model *m;
	struct ch_err e;
	unsigned char *buf;
	unsigned int n;
	uint8_t codes[64];
	int i;

	if (size < 56)
		return 0;
	buf = malloc(size);
	memcpy(buf, data, size);
	memcpy(buf, "CHURNMDL", 8);
	for (i = 0; i < 8; i++)
		buf[16 + i] = (unsigned char)((uint64_t)(size - 56) >> (8 * i));
	EVP_Digest(buf + 56, size - 56, buf + 24, &n, EVP_sha256(), NULL);
	if (ch_model_decode(buf, size, "fuzz", &m, &e) == 0) {
		memset(codes, 0, sizeof codes);
		if (m->schema->nfeat <= 64)
			sink += ch_model_predict(m, codes);
		ch_model_free(m);
	}
	free(buf);
	return 0;
}
