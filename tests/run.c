/* SPDX-License-Identifier: ISC */
/*
 * run.c: running one test program's suite (see run.h).
 */
#include "config.h"

#include <stdlib.h>

#include "run.h"

int pbt_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
