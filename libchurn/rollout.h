/*
 * rollout.h - which model answers a row in a rollout (struct ch_rollout,
 * registry.h): the canary's assignment hash, the same in every replica
 * and every program; calls util's SHA-256 and RNG; never prints or exits.
 */
#ifndef CHURN_ROLLOUT_H
#define CHURN_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "util.h"

/*
 * The customer's draw in rollout id: h = the first 16 hex digits of
 * SHA-256("<id>:<customer id>") (id in decimal, the customer id's bytes
 * as given: a JSON string's text, a JSON integer's decimal digits, a CSV
 * cell), read as a 64-bit integer; the draw is (h >> 11) / 2^53, uniform
 * in [0, 1).  In Python:
 *   int(hashlib.sha256(b"%d:%s" % (id, cust)).hexdigest()[:16], 16) >> 11) / 2**53
 */
double ch_rollout_draw(long long id, const char *cust, size_t len);

/*
 * 1 when the challenger answers this row, 0 when the champion does: in a
 * canary, when the draw is below share / 100 (the customer's draw; a row
 * without an id (cust NULL) draws from rng); never in shadow or off.
 * Raising the share of a rollout only adds customers to the challenger.
 */
int ch_rollout_pick(const struct ch_rollout *ro, const char *cust,
    size_t len, struct ch_rng *rng);

#endif
