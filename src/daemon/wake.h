/* SPDX-License-Identifier: ISC */
/*
 * wake.h: waking a thread that sleeps in poll(), without a descriptor.
 *
 * A client thread sleeps in poll on its socket; other threads wake it when
 * they queue data for it or a destination it waits on drains. A descriptor
 * per client for that (eventfd, pipe) would double the descriptors the
 * daemon needs, so a wake-up is a flag plus a signal instead: the signal is
 * blocked everywhere except inside pb_wake_poll (ppoll's atomic mask swap),
 * so a wake-up sent at any moment either interrupts the sleep or makes the
 * next one return at once; none is lost. Wake-ups are coalesced by the
 * flag: one signal until the owner has consumed it.
 */
#ifndef PB_WAKE_H
#define PB_WAKE_H

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

struct pb_wake {
	atomic_bool wk_pending;	 /* a wake-up not consumed yet */
	pthread_mutex_t wk_lock; /* guards wk_thread and wk_alive */
	pthread_t wk_thread;	 /* the owner, while wk_alive */
	bool wk_alive;
	sigset_t wk_open; /* the owner's signal mask while it sleeps */
};

/* Process-wide, before any thread starts: installs the signal's handler
 * and blocks the signal in the calling thread, which every thread created
 * afterwards inherits. */
int pb_wake_setup(void);

void pb_wake_init(struct pb_wake *w);
void pb_wake_destroy(struct pb_wake *w);

/* The owner thread registers itself, and unregisters before it exits. */
void pb_wake_attach(struct pb_wake *w);
void pb_wake_detach(struct pb_wake *w);

/* Any thread: wake the owner. Never blocks for long (a short lock). */
void pb_wake_signal(struct pb_wake *w);

/* The owner: true if woken since the last call. */
bool pb_wake_consume(struct pb_wake *w);

/* The owner: poll(2), but returns early (0 ready) if woken before or
 * during the sleep. */
int pb_wake_poll(struct pb_wake *w, struct pollfd *fds, nfds_t n,
		 int timeout_ms);

#endif
