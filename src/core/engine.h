/* SPDX-License-Identifier: ISC */
/*
 * engine.h: the delivery engine, the rules of patchbay written once.
 *
 * What to do with a client's input and output, whichever server runs it:
 * how much to read and how many reads a turn may take, delivering the
 * frames of one read (straight to a destination's socket, into its outbox,
 * or into the sender's waiting room), waiting for a full outbox and
 * retrying, flushing an outbox and waking its waiters, cutting a
 * destination that memory failed, a client leaving (lingering to deliver
 * its waiting room, or giving it up), the timeouts, and what is counted.
 *
 * The servers differ only in how they do I/O and keep clients, which they
 * give the engine as a table of operations (struct pb_engine_ops), as
 * nginx puts its event backends behind a table: patchbayd (a thread per
 * client) finds destinations in its registry with references and a cache,
 * locks their mutexes and wakes their threads with a signal;
 * patchbay-reactor (one epoll loop) finds them in its table, locks nothing
 * and puts senders on its ready list. Where the two must behave
 * differently the difference is one of these operations, or a parameter
 * of struct pb_engine, each saying why.
 *
 * The engine makes no system call: sockets, locks and the clock are the
 * operations'. The counting and logging (common/account.c) come in as
 * struct pb_engine_tally and are never called under a lock.
 *
 * Locks: a destination's outbox and waiters are touched only between
 * eo_lock and eo_unlock on it, and nothing under them blocks or logs. A
 * client's waiting room, read buffer and parser are its owner's alone:
 * every function here that takes a client 's' or 'c' runs in its owner.
 */
#ifndef PB_ENGINE_H
#define PB_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "conn.h"
#include "leave.h"
#include "route.h"

struct pb_engine;

/* How a server does what the engine needs done. */
struct pb_engine_ops {
	/* The client with this id, for sender s, or NULL. It must stay
	 * valid until eo_forget(s, id) or the end of s's turn (the daemon
	 * holds a reference in s's cache of destinations). */
	struct pb_conn *(*eo_find)(struct pb_conn *s, uint32_t id);
	/* s no longer needs the client it found as id (it left). */
	void (*eo_forget)(struct pb_conn *s, uint32_t id);

	/* The lock of c's outbox and waiters (the reactor has none). */
	void (*eo_lock)(struct pb_conn *c);
	void (*eo_unlock)(struct pb_conn *c);

	/* Reads from / writes to c's socket without blocking: bytes, 0 at
	 * the end (read), or -1 with errno. eo_write runs under c's lock. */
	ssize_t (*eo_read)(struct pb_conn *c, void *buf, size_t len);
	ssize_t (*eo_write)(struct pb_conn *c, const struct iovec *iov,
			    size_t n);

	/* Under d's lock: registers s to be woken when d's outbox drains or
	 * d leaves. 1 added, 0 already there, -1 no memory (s then retries
	 * on its own, eo_retry_later). */
	int (*eo_wait_on)(struct pb_conn *d, struct pb_conn *s);
	/* Outside every lock: wakes the senders taken from d's waiters,
	 * and frees w. */
	void (*eo_wake_waiters)(struct pb_conn *d, struct pb_waiters *w);
	/*
	 * s has parked frames that no drain will wake it for (their outbox
	 * is empty: memory ran out), so it retries on its own. The daemon
	 * retries at once (a thread of its own does nothing else meanwhile);
	 * the reactor at its next tick (its one thread would spin, starving
	 * everyone else).
	 */
	void (*eo_retry_later)(struct pb_conn *s);

	/* Outside d's lock: d's outbox went from empty to not after a write
	 * to its socket was cut short, or d was cut; its owner must write or
	 * go. The daemon wakes d's thread; the reactor waits for epoll,
	 * which reports the socket's room or its shutdown. */
	void (*eo_wake)(struct pb_conn *d);
	/* Outside d's lock: frames were moved into d's empty outbox without
	 * any write to its socket, so no event will come: someone must
	 * start writing. The daemon wakes d's thread; the reactor flushes. */
	void (*eo_flush)(struct pb_conn *d);
	/* Under d's lock, d just CUT: shut its socket down, so that d's owner
	 * (and d's peer) see the end. */
	void (*eo_shutdown)(struct pb_conn *d);

	/* c leaves: out of the server's count of clients (and, in the
	 * daemon, out of the registry, where nobody finds it any more). */
	void (*eo_unpublish)(struct pb_conn *c);
	/* After c's state left OPEN: closes its socket. */
	void (*eo_close)(struct pb_conn *c);
	/* Takes one of the --max-clients places for departed clients that
	 * still deliver (false: none free), and gives it back. */
	bool (*eo_linger)(struct pb_conn *c);
	void (*eo_linger_end)(struct pb_conn *c);
	/* c is DONE: the reactor frees it at the end of its round; the
	 * daemon's thread sees the state itself. May be NULL. */
	void (*eo_done)(struct pb_conn *c);

	/* The server's monotonic clock, in milliseconds. */
	uint64_t (*eo_now_ms)(void);
};

/* What is counted and logged (common/account.c: pb_account_tally). */
struct pb_engine_tally {
	void (*et_received)(size_t frames);
	void (*et_unknown)(uint32_t sender, uint32_t dest, size_t frames);
	void (*et_delivered)(uint32_t sender, uint32_t dest,
			     const struct pb_route_result *r);
	void (*et_forwarded)(size_t frames, size_t bytes);
	void (*et_protocol_error)(uint32_t id, size_t max_frame);
	void (*et_input_nomem)(uint32_t id);
	void (*et_leave)(uint32_t id, const char *addr, enum pb_leave why,
			 size_t dropped, size_t waiting, unsigned long slow_ms);
	void (*et_dest_left)(size_t frames, enum pb_leave why);
	/* Frames that waited for dest, which is found no more (it left
	 * and was forgotten, or, of another node, cannot be reached). */
	void (*et_dest_missing)(uint32_t dest, size_t frames);
	void (*et_left)(size_t frames);
	void (*et_sender_gave_up)(uint32_t id, size_t frames,
				  unsigned long moved_ms);
};

struct pb_engine {
	const struct pb_engine_ops *en_ops;
	const struct pb_engine_tally *en_tally;
	/*
	 * Reads a client may take in a row while they come back full. The
	 * daemon takes 4, then polls again, which also writes the client's
	 * own outbox; the reactor takes 16, then serves the other ready
	 * clients (its one thread must share itself out).
	 */
	int en_reads_per_turn;
	/*
	 * Whether only EAGAIN says the socket is drained. With readiness
	 * that is reported once per change (the reactor's edge-triggered
	 * epoll), a short read may leave an end of stream behind it that no
	 * new event will report, so reading goes on until EAGAIN. Where
	 * readiness is asked for each time (the daemon's poll), a short read
	 * is taken as drained, saving a read that would fail.
	 */
	bool en_until_eagain;
	/* The routing scratch space: one, shared, where one thread routes
	 * for everyone (the reactor); NULL where each client routes in its
	 * own thread, which then allocates its own with its first read
	 * buffer and gives it back with it (the daemon). */
	struct pb_route *en_route;
	/* Live limits (a reload may change them). */
	atomic_ulong en_slow_ms;
	atomic_ulong en_frame_ms;
	atomic_bool en_stopping; /* stop reading: the server is stopping */
};

void pb_engine_init(struct pb_engine *en, const struct pb_engine_ops *ops,
		    const struct pb_engine_tally *tally, int reads_per_turn,
		    bool until_eagain, struct pb_route *shared_route);

static inline unsigned long pb_engine_slow_ms(struct pb_engine *en)
{
	return atomic_load_explicit(&en->en_slow_ms, memory_order_relaxed);
}

static inline unsigned long pb_engine_frame_ms(struct pb_engine *en)
{
	return atomic_load_explicit(&en->en_frame_ms, memory_order_relaxed);
}

static inline bool pb_engine_stopping(struct pb_engine *en)
{
	return atomic_load_explicit(&en->en_stopping, memory_order_relaxed);
}

/* What a turn of reading ended with. */
enum pb_engine_read {
	PB_READ_DRAINED, /* the socket had no more */
	PB_READ_HELD,	 /* not read: the waiting room or memory is full */
	PB_READ_MORE,	 /* the turn ended; more may be waiting */
	PB_READ_LEAVE,	 /* the client must leave: *why says why */
};

/* Whether c may be read now: its waiting room could take what is read,
 * and memory allows it (pb_rbuf_may_read); never while stopping. */
bool pb_engine_wants_input(struct pb_engine *en, const struct pb_conn *c);

/* Reads c's socket (up to en_reads_per_turn reads while they come back
 * full) and delivers every complete frame read. */
enum pb_engine_read pb_engine_read(struct pb_engine *en, struct pb_conn *c,
				   enum pb_leave *why);

/* A sender's turn: the argument of pb_engine_deliver. */
struct pb_engine_turn {
	struct pb_engine *et_engine;
	struct pb_conn *et_sender;
};

/* Delivers frames iov[0 .. n), all from the turn's sender to dest, in
 * order (a pb_route_fn; pb_engine_read routes with it). */
void pb_engine_deliver(void *arg, uint32_t dest, const struct iovec *iov,
		       size_t n);

/* Retries s's waiting room: moves its frames into outboxes that have
 * room again, drops those whose destination left. A LINGERING s whose
 * waiting room empties is DONE. */
void pb_engine_retry(struct pb_engine *en, struct pb_conn *s);

/* Writes what c's outbox holds, as much as its socket takes now, and
 * wakes its waiters once there is room worth moving into. 0, or -1 with
 * errno when the socket failed (c must leave: PB_LEAVE_RESET). */
int pb_engine_flush(struct pb_engine *en, struct pb_conn *c);

/*
 * c leaves for 'why' (PB_LEAVE_NOMEM_OUT instead when it was CUT): out of
 * the server, its outbox dropped and counted, its socket closed, its
 * waiters woken. Frames left in its waiting room are delivered while it
 * lingers (LINGERING) if a place is free, or given up; otherwise DONE.
 * Nothing happens if c has already left.
 */
void pb_engine_leave(struct pb_engine *en, struct pb_conn *c,
		     enum pb_leave why);

/* A stand-in for a client of another node (cn_relay) goes, for why: no
 * socket, no disconnect; what its outbox holds is dropped and counted for
 * why (returned: the frames), its waiters woken. Nothing happens (0) if
 * it has gone already. */
size_t pb_engine_drop_relay(struct pb_engine *en, struct pb_conn *c,
			    enum pb_leave why);

/* For an open client, at now_ms: true with *why when it must leave (a
 * slow consumer; a frame unfinished past --frame-timeout: the server
 * calls pb_rbuf_pause while it does not read the client, whose fault that
 * time is not); gives back an idle read buffer. */
bool pb_engine_timed_out(struct pb_engine *en, struct pb_conn *c,
			 uint64_t now_ms, enum pb_leave *why);

/* For a LINGERING client: when its waiting room has moved nothing on for
 * --slow-timeout, its frames are given up and it is DONE (true). */
bool pb_engine_linger_stuck(struct pb_engine *en, struct pb_conn *c,
			    uint64_t now_ms);

/* While stopping: whether c has nothing left worth waiting for (nothing
 * queued for it, nothing waiting in its waiting room, nobody waiting on
 * it). */
bool pb_engine_drained(struct pb_engine *en, struct pb_conn *c);

/* Gives back c's read buffer (and its own routing scratch space). */
void pb_engine_free_input(struct pb_engine *en, struct pb_conn *c);

/* The owner lets c go: a LINGERING c is DONE, what its waiting room still
 * holds is dropped and counted, its input freed. */
void pb_engine_release(struct pb_engine *en, struct pb_conn *c);

#endif
