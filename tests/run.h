/* SPDX-License-Identifier: ISC */
/*
 * run.h: running one test program's suite, shared by every Check program.
 */
#ifndef PBT_RUN_H
#define PBT_RUN_H

#include <check.h>

/* Runs every test of s (and frees it); EXIT_SUCCESS if all passed. */
int pbt_run(Suite *s);

#endif
