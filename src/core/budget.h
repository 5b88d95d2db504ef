/* SPDX-License-Identifier: ISC */
/*
 * budget.h: the global memory budget, and the shares of it.
 *
 * Every buffer the daemon allocates for client data (read buffers,
 * outboxes, waiting rooms) is charged here. Charging never fails; a holder
 * of client data asks before it reads more from a socket, so once the
 * budget is spent the daemon stops taking input until queues drain, and no
 * client can make it grow without limit.
 *
 * A share is a budget of its own whose limit is a fixed fraction of its
 * parent's: what is charged to it is charged to the parent too. The kinds
 * of memory a few hostile clients can hold on to (unfinished frames,
 * frames waiting for a destination that does not read) are charged to
 * shares, so that spending one slows only the clients that spend it and
 * leaves the rest of the budget to everyone else. A NULL budget means
 * "unlimited" (unit tests).
 */
#ifndef PB_BUDGET_H
#define PB_BUDGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct pb_budget {
	atomic_size_t bu_used;
	atomic_size_t bu_limit;	     /* a reload may change it */
	struct pb_budget *bu_parent; /* a share of it, or NULL */
	unsigned bu_div;	     /* a share: the parent's limit / bu_div */
};

void pb_budget_init(struct pb_budget *b, size_t limit);

/* Makes b the share 1/div of parent (div >= 1). */
void pb_budget_init_share(struct pb_budget *b, struct pb_budget *parent,
			  unsigned div);

/* The budget of a server's clients, all, with limit, and its shares:
 * waiting rooms (park) may hold a half of it, read buffers and routing
 * scratch space (input) a quarter (doc/protocol.md, "Shares of the
 * budget"). */
void pb_budget_init_clients(struct pb_budget *all, struct pb_budget *park,
			    struct pb_budget *input, size_t limit);

void pb_budget_charge(struct pb_budget *b, size_t n);
void pb_budget_release(struct pb_budget *b, size_t n);

/* Whether b, or the budget it is a share of, is spent. */
bool pb_budget_over(struct pb_budget *b);

/* The budget b is a share of, or b itself; NULL for NULL. */
struct pb_budget *pb_budget_root(struct pb_budget *b);

size_t pb_budget_used(struct pb_budget *b);
size_t pb_budget_limit(struct pb_budget *b);
void pb_budget_set_limit(struct pb_budget *b, size_t limit);

#endif
