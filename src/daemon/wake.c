/* SPDX-License-Identifier: ISC */
/*
 * wake.c: flag-and-signal wake-ups for threads sleeping in poll (see
 * wake.h).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "wake.h"

/* The first real-time signal: SIGUSR1 and SIGUSR2 are the operator's
 * (statistics, the in-place hand-over). The flag sends at most one per
 * thread until it is consumed, so the queue of pending real-time signals
 * (RLIMIT_SIGPENDING) holds at most one per client thread; should it be
 * full all the same, the flag is still set and the thread sees it at the
 * end of its poll's timeout. One sent from outside only makes a sleeping
 * thread look around once. */
#define PB_WAKE_SIGNAL SIGRTMIN

/* Only interrupts ppoll: the flag says what happened. */
static void wake_handler(int sig)
{
	(void)sig;
}

int pb_wake_setup(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wake_handler; /* no SA_RESTART: ppoll must return */
	sigemptyset(&sa.sa_mask);
	if (sigaction(PB_WAKE_SIGNAL, &sa, NULL) < 0)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, PB_WAKE_SIGNAL);
	return pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 ? 0 : -1;
}

void pb_wake_init(struct pb_wake *w)
{
	atomic_init(&w->wk_pending, false);
	pthread_mutex_init(&w->wk_lock, NULL);
	w->wk_alive = false;
}

void pb_wake_destroy(struct pb_wake *w)
{
	pthread_mutex_destroy(&w->wk_lock);
}

void pb_wake_attach(struct pb_wake *w)
{
	pthread_mutex_lock(&w->wk_lock);
	w->wk_thread = pthread_self();
	w->wk_alive = true;
	pthread_sigmask(SIG_SETMASK, NULL, &w->wk_open);
	sigdelset(&w->wk_open, PB_WAKE_SIGNAL);
	pthread_mutex_unlock(&w->wk_lock);
}

void pb_wake_detach(struct pb_wake *w)
{
	pthread_mutex_lock(&w->wk_lock);
	w->wk_alive = false;
	pthread_mutex_unlock(&w->wk_lock);
}

void pb_wake_signal(struct pb_wake *w)
{
	if (atomic_exchange(&w->wk_pending, true))
		return; /* already woken, not yet consumed */
	/* The lock keeps the owner from exiting between check and kill. */
	pthread_mutex_lock(&w->wk_lock);
	if (w->wk_alive)
		pthread_kill(w->wk_thread, PB_WAKE_SIGNAL);
	pthread_mutex_unlock(&w->wk_lock);
}

bool pb_wake_consume(struct pb_wake *w)
{
	return atomic_exchange(&w->wk_pending, false);
}

int pb_wake_poll(struct pb_wake *w, struct pollfd *fds, nfds_t n,
		 int timeout_ms)
{
	struct timespec ts, *tsp = NULL;
	int r;

	if (atomic_load(&w->wk_pending))
		timeout_ms = 0;
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
		tsp = &ts;
	}
	r = ppoll(fds, n, tsp, &w->wk_open);
	if (r < 0 && errno == EINTR)
		return 0;
	return r;
}
