/* SPDX-License-Identifier: ISC */
/*
 * input.c: reading a client's socket into its read buffer and routing what
 * it holds (see input.h).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "account.h"
#include "budget.h"
#include "clock.h"
#include "deliver.h"
#include "input.h"
#include "log.h"
#include "registry.h"
#include "route.h"

#define PB_READS_PER_WAKE 4 /* reads in a row while they come full */

/* Frees the read buffer and the routing scratch space: a client that
 * leaves or stays idle gives them back. */
void pb_input_free(struct pb_client *c)
{
	pb_rbuf_free(&c->cl_rbuf);
	if (c->cl_route == NULL)
		return;
	free(c->cl_route);
	pb_budget_release(c->cl_rbuf.rb_budget, sizeof(*c->cl_route));
	c->cl_route = NULL;
}

bool pb_input_wanted(const struct pb_client *c)
{
	return pb_rbuf_allowance(&c->cl_rbuf, &c->cl_park) > 0 &&
	       pb_rbuf_may_read(&c->cl_rbuf, &c->cl_park);
}

/* Makes room to read into; the routing scratch space comes with the first
 * buffer. */
static int input_reserve(struct pb_client *c, bool grow)
{
	if (c->cl_route == NULL) {
		c->cl_route = malloc(sizeof(*c->cl_route));
		if (c->cl_route == NULL)
			return -1;
		pb_budget_charge(c->cl_rbuf.rb_budget, sizeof(*c->cl_route));
	}
	return pb_rbuf_reserve(&c->cl_rbuf, grow);
}

/* Reads and delivers what the socket has; 0, or the reason to leave. A
 * read that fills what was asked for is followed by another at once (more
 * is likely waiting), up to PB_READS_PER_WAKE; a short one means drained. */
int pb_input_read(struct pb_client *c, enum pb_leave *why)
{
	struct pb_rbuf *rb = &c->cl_rbuf;
	bool grow = false;
	int turn;

	c->cl_read_ms = pb_now_ms();
	for (turn = 0; turn < PB_READS_PER_WAKE; turn++) {
		size_t want = pb_rbuf_allowance(rb, &c->cl_park);
		ssize_t n;

		if (want == 0 || !pb_rbuf_may_read(rb, &c->cl_park))
			return 0;
		if (input_reserve(c, grow) < 0) {
			log_warn("client %u: no memory for its input",
				 c->cl_id);
			*why = PB_LEAVE_NOMEM;
			return -1;
		}
		if (want > rb->rb_cap - rb->rb_len)
			want = rb->rb_cap - rb->rb_len;
		do
			n = recv(c->cl_fd, rb->rb_data + rb->rb_len, want, 0);
		while (n < 0 && errno == EINTR);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			*why = n == 0 ? PB_LEAVE_CLOSED : PB_LEAVE_RESET;
			return -1;
		}
		rb->rb_len += (size_t)n;
		if (pb_deliver_input(c) < 0) {
			pb_account_protocol_error(
				c->cl_id, c->cl_reg->rg_opts->op_max_frame);
			*why = PB_LEAVE_PROTOCOL;
			return -1;
		}
		pb_rbuf_note_read(rb, c->cl_route->rt_frames, c->cl_read_ms);
		if ((size_t)n < want)
			return 0;
		grow = true; /* filled: more is likely waiting */
	}
	return 0;
}
