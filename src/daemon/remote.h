/* SPDX-License-Identifier: ISC */
/*
 * remote.h: clients of other nodes, as the data path sees them.
 *
 * A frame for an id of another node goes, like any other, into a
 * destination's outbox: that of a stand-in for the remote client (a
 * struct pb_client whose cl_remote is set and which has no socket), so
 * that the waiting room, the waiters and every rule of the engine apply
 * unchanged. What differs is what the daemon's operations do with a
 * stand-in (deliver.c): it is found through the links, written to by
 * taking frames into its link's next batch, and woken by waking its link.
 * The links (src/link) give those three operations here, so that the data
 * path does not depend on them.
 */
#ifndef PB_REMOTE_H
#define PB_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct pb_client;

struct pb_remote_ops {
	/* The stand-in for id, a client of another node, referenced for the
	 * caller; or NULL: its node is unknown or unreachable, or id is
	 * known to be gone. */
	struct pb_client *(*ro_find)(void *ctx, uint32_t id);
	/* Under the stand-in's lock: takes whole frames from iov[0 .. n)
	 * as far as its node's credit and the link's batch allow; returns
	 * the bytes taken (0: none now). */
	ssize_t (*ro_write)(struct pb_client *c, const struct iovec *iov,
			    size_t n);
	/* Outside its lock: the stand-in has frames to send, or was cut. */
	void (*ro_wake)(struct pb_client *c);
	void *ro_ctx; /* given to ro_find */
};

#endif
