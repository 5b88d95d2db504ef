/*
 * input.c: reading a client's socket into its growing buffer and routing
 * what it holds (see input.h).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "budget.h"
#include "clock.h"
#include "deliver.h"
#include "input.h"
#include "log.h"
#include "registry.h"
#include "route.h"

#define PB_READ_SIZE	  (64 * 1024) /* the buffer grows to this at least */
#define PB_READ_MIN	  4096	      /* and starts at this */
#define PB_READS_PER_WAKE 4	      /* reads in a row while they come full */

/* Frees the read buffer and the routing scratch space: a client that
 * leaves or stays idle gives them back. */
void pb_input_free(struct pb_client *c)
{
	if (c->cl_route == NULL)
		return;
	free(c->cl_rbuf);
	free(c->cl_route);
	pb_budget_release(c->cl_park.pk_budget,
			  c->cl_rcap + sizeof(*c->cl_route));
	c->cl_rbuf = NULL;
	c->cl_route = NULL;
	c->cl_rcap = c->cl_rlen = 0;
}

/* The largest the read buffer grows: a whole frame, or PB_READ_SIZE. */
static size_t input_max(const struct pb_client *c)
{
	size_t cap = c->cl_reg->rg_opts->op_max_frame + PB_FRAME_HEADER;

	return cap < PB_READ_SIZE ? PB_READ_SIZE : cap;
}

/* How many bytes the next read may take: all complete frames in the read
 * buffer must fit in the waiting room should every destination be full. */
size_t pb_input_allowance(const struct pb_client *c)
{
	size_t cap = input_max(c);
	size_t park = pb_park_room(&c->cl_park) + PB_FRAME_HEADER;
	size_t limit = cap < park ? cap : park;

	return limit > c->cl_rlen ? limit - c->cl_rlen : 0;
}

/*
 * Makes room to read into: the buffer starts small (an idle or slow client
 * holds little) and doubles, up to client_rbuf_max, whenever it is full or
 * the last read filled it (more was waiting). The routing scratch space
 * comes with the first buffer.
 */
static int input_reserve(struct pb_client *c, bool grow)
{
	struct pb_budget *budget = c->cl_park.pk_budget;
	size_t cap = c->cl_rcap ? c->cl_rcap : PB_READ_MIN;
	char *buf;

	if (c->cl_route == NULL) {
		c->cl_route = malloc(sizeof(*c->cl_route));
		if (c->cl_route == NULL)
			return -1;
		pb_budget_charge(budget, sizeof(*c->cl_route));
	}
	if (c->cl_rbuf != NULL && !grow && c->cl_rlen < c->cl_rcap)
		return 0;
	if (c->cl_rbuf != NULL && (grow || c->cl_rlen == c->cl_rcap))
		cap *= 2;
	if (cap > input_max(c))
		cap = input_max(c);
	if (cap == c->cl_rcap)
		return 0;
	buf = realloc(c->cl_rbuf, cap);
	if (buf == NULL)
		return -1;
	pb_budget_release(budget, c->cl_rcap);
	pb_budget_charge(budget, cap);
	c->cl_rbuf = buf;
	c->cl_rcap = cap;
	return 0;
}

/* Reads and delivers what the socket has; 0, or the reason to leave. A
 * read that fills what was asked for is followed by another at once (more
 * is likely waiting), up to PB_READS_PER_WAKE; a short one means drained. */
int pb_input_read(struct pb_client *c, enum pb_leave *why)
{
	bool grow = false;
	int turn;

	c->cl_read_ms = pb_now_ms();
	for (turn = 0; turn < PB_READS_PER_WAKE; turn++) {
		size_t want = pb_input_allowance(c);
		ssize_t n;

		if (want == 0)
			return 0;
		if (input_reserve(c, grow) < 0) {
			log_warn("client %u: no memory for its input",
				 c->cl_id);
			*why = PB_LEAVE_RESET;
			return -1;
		}
		if (want > c->cl_rcap - c->cl_rlen)
			want = c->cl_rcap - c->cl_rlen;
		do
			n = recv(c->cl_fd, c->cl_rbuf + c->cl_rlen, want, 0);
		while (n < 0 && errno == EINTR);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			*why = n == 0 ? PB_LEAVE_CLOSED : PB_LEAVE_RESET;
			return -1;
		}
		c->cl_rlen += (size_t)n;
		if (pb_deliver_input(c) < 0) {
			log_notice("client %u protocol error: frame longer "
				   "than %zu bytes",
				   c->cl_id, c->cl_reg->rg_opts->op_max_frame);
			*why = PB_LEAVE_PROTOCOL;
			return -1;
		}
		if ((size_t)n < want)
			return 0;
		grow = true; /* filled: more is likely waiting */
	}
	return 0;
}
