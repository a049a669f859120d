/* test_rollout.c - the canary's assignment hash: the documented value
 * (recomputed in Python, rollout.h), stickiness, shares, fresh groups */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "unit.h"

#include "rollout.h"

START_TEST(documented_draw)
{
	/* python3: (int(sha256(b"1:7590-VHVEG").hexdigest()[:16], 16) >> 11) / 2**53 */
	ck_assert_double_eq(ch_rollout_draw(1, "7590-VHVEG", 10),
	    0.8964453354877123);
	ck_assert_double_eq(ch_rollout_draw(42, "12345", 5),
	    0.026557321618788765);
}
END_TEST

START_TEST(shares)
{
	struct ch_rollout ro = { .id = 7, .mode = CH_ROLLOUT_CANARY, .share = 10 };
	struct ch_rng rng;
	char id[32];
	int i, n = 20000, hit = 0, again = 0, fresh = 0, grown = 0;

	ch_rng_seed(&rng, 1);
	for (i = 0; i < n; i++) {
		int k = snprintf(id, sizeof id, "cust-%d", i), a;

		a = ch_rollout_pick(&ro, id, (size_t)k, &rng);
		hit += a;
		/* the same customer, the same answer */
		again += a == ch_rollout_pick(&ro, id, (size_t)k, &rng);
		/* raising the share keeps every challenger customer */
		ro.share = 50;
		grown += !a || ch_rollout_pick(&ro, id, (size_t)k, &rng);
		ro.share = 10;
		/* another rollout draws another group */
		ro.id = 8;
		fresh += a && ch_rollout_pick(&ro, id, (size_t)k, &rng);
		ro.id = 7;
	}
	printf("canary 10%%: %d of %d to the challenger; %d in both rollouts 7 and 8\n",
	    hit, n, fresh);
	ck_assert_int_ge(hit, n * 9 / 100);
	ck_assert_int_le(hit, n * 11 / 100);
	ck_assert_int_eq(again, n);
	ck_assert_int_eq(grown, n);
	/* independent groups overlap about 1 % */
	ck_assert_int_lt(fresh, n * 2 / 100);
	/* rows without an id split at random, near the share */
	for (i = hit = 0; i < n; i++)
		hit += ch_rollout_pick(&ro, NULL, 0, &rng);
	ck_assert_int_ge(hit, n * 9 / 100);
	ck_assert_int_le(hit, n * 11 / 100);
	/* shadow and off: the champion answers */
	ro.mode = CH_ROLLOUT_SHADOW;
	ck_assert_int_eq(ch_rollout_pick(&ro, "x", 1, &rng), 0);
	ro.mode = CH_ROLLOUT_OFF;
	ck_assert_int_eq(ch_rollout_pick(&ro, NULL, 0, &rng), 0);
	ro.mode = CH_ROLLOUT_CANARY;
	ro.share = 100;
	ck_assert_int_eq(ch_rollout_pick(&ro, "x", 1, &rng), 1);
	ro.share = 0;
	ck_assert_int_eq(ch_rollout_pick(&ro, "x", 1, &rng), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("rollout");
	TCase *tc = tcase_create("rollout");

	tcase_add_test(tc, documented_draw);
	tcase_add_test(tc, shares);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
