/*
 * rollout.c - the canary's assignment (rollout.h)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout.h"

double
ch_rollout_draw(long long id, const char *cust, size_t len)
{
	char head[32], hex[65], *buf;
	size_t n = (size_t)snprintf(head, sizeof head, "%lld:", id);
	uint64_t h = 0;
	int i;

	buf = ch_malloc(n + len + 1);
	memcpy(buf, head, n);
	memcpy(buf + n, cust, len);
	ch_sha256_hex(buf, n + len, hex);
	free(buf);
	for (i = 0; i < 16; i++)
		h = h << 4 | (uint64_t)(hex[i] <= '9' ? hex[i] - '0' :
		    hex[i] - 'a' + 10);
	return (double)(h >> 11) * 0x1p-53;
}

int
ch_rollout_pick(const struct ch_rollout *ro, const char *cust, size_t len,
    struct ch_rng *rng)
{
	double u;

	if (ro->mode != CH_ROLLOUT_CANARY || ro->share <= 0)
		return 0;
	u = cust ? ch_rollout_draw(ro->id, cust, len) : ch_rng_unit(rng);
	return u * 100 < ro->share;
}
