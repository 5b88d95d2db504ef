/* SPDX-License-Identifier: ISC */
/*
 * budget.c: the global memory budget and its shares (see budget.h).
 * Relaxed atomics are enough: the budget is a soft limit read before each
 * socket read, not a synchronisation point.
 */
#include "config.h"

#include "budget.h"

void pb_budget_init(struct pb_budget *b, size_t limit)
{
	atomic_init(&b->bu_used, 0);
	atomic_init(&b->bu_limit, limit);
	b->bu_parent = NULL;
	b->bu_div = 1;
}

void pb_budget_init_share(struct pb_budget *b, struct pb_budget *parent,
			  unsigned div)
{
	pb_budget_init(b, 0);
	b->bu_parent = parent;
	b->bu_div = div;
}

void pb_budget_init_clients(struct pb_budget *all, struct pb_budget *park,
			    struct pb_budget *input, size_t limit)
{
	pb_budget_init(all, limit);
	pb_budget_init_share(park, all, 2);
	pb_budget_init_share(input, all, 4);
}

void pb_budget_charge(struct pb_budget *b, size_t n)
{
	for (; b != NULL; b = b->bu_parent)
		atomic_fetch_add_explicit(&b->bu_used, n, memory_order_relaxed);
}

void pb_budget_release(struct pb_budget *b, size_t n)
{
	for (; b != NULL; b = b->bu_parent)
		atomic_fetch_sub_explicit(&b->bu_used, n, memory_order_relaxed);
}

bool pb_budget_over(struct pb_budget *b)
{
	for (; b != NULL; b = b->bu_parent)
		if (pb_budget_used(b) >= pb_budget_limit(b))
			return true;
	return false;
}

struct pb_budget *pb_budget_root(struct pb_budget *b)
{
	while (b != NULL && b->bu_parent != NULL)
		b = b->bu_parent;
	return b;
}

size_t pb_budget_used(struct pb_budget *b)
{
	if (b == NULL)
		return 0;
	return atomic_load_explicit(&b->bu_used, memory_order_relaxed);
}

size_t pb_budget_limit(struct pb_budget *b)
{
	if (b->bu_parent != NULL)
		return pb_budget_limit(b->bu_parent) / b->bu_div;
	return atomic_load_explicit(&b->bu_limit, memory_order_relaxed);
}

void pb_budget_set_limit(struct pb_budget *b, size_t limit)
{
	atomic_store_explicit(&b->bu_limit, limit, memory_order_relaxed);
}
