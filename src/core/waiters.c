/* SPDX-License-Identifier: ISC */
/*
 * waiters.c: a small set of waiting senders (see waiters.h). Few senders
 * wait on one destination at a time, so it is an array searched linearly.
 */
#include "config.h"

#include <stdlib.h>

#include "waiters.h"

void pb_waiters_init(struct pb_waiters *w)
{
	w->wt_list = NULL;
	w->wt_n = w->wt_alloc = 0;
}

void pb_waiters_free(struct pb_waiters *w)
{
	free(w->wt_list);
	pb_waiters_init(w);
}

int pb_waiters_add(struct pb_waiters *w, uintptr_t who)
{
	size_t i;

	for (i = 0; i < w->wt_n; i++)
		if (w->wt_list[i] == who)
			return 0;
	if (w->wt_n == w->wt_alloc) {
		size_t n = w->wt_alloc ? w->wt_alloc * 2 : 4;
		uintptr_t *list = reallocarray(w->wt_list, n, sizeof(*list));

		if (list == NULL)
			return -1;
		w->wt_list = list;
		w->wt_alloc = n;
	}
	w->wt_list[w->wt_n++] = who;
	return 1;
}

void pb_waiters_take(struct pb_waiters *w, struct pb_waiters *out)
{
	*out = *w;
	pb_waiters_init(w);
}
