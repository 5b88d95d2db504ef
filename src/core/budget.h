/* SPDX-License-Identifier: ISC */
/*
 * budget.h: the global memory budget.
 *
 * Every buffer the daemon allocates for client data (read buffers,
 * outboxes, waiting rooms) is charged here. Charging never fails; a holder
 * of client data asks pb_budget_over() before it reads more from a socket,
 * so once the budget is spent the daemon stops taking input until queues
 * drain, and no client can make it grow without limit. A NULL budget means
 * "unlimited" (unit tests).
 */
#ifndef PB_BUDGET_H
#define PB_BUDGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct pb_budget {
	atomic_size_t bu_used;
	atomic_size_t bu_limit; /* a reload may change it */
};

void pb_budget_init(struct pb_budget *b, size_t limit);
void pb_budget_charge(struct pb_budget *b, size_t n);
void pb_budget_release(struct pb_budget *b, size_t n);
bool pb_budget_over(struct pb_budget *b);
size_t pb_budget_used(struct pb_budget *b);
size_t pb_budget_limit(struct pb_budget *b);
void pb_budget_set_limit(struct pb_budget *b, size_t limit);

#endif
