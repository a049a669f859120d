/* test_registry_pg.c - test_registry.c's cases that need PostgreSQL
 * (CHURN_TEST_DATABASE_URL); without it the binary skips (exit 77) */
#define REGISTRY_PG 1
#include "test_registry.c"
