/*
 * wake.h: a wake-up descriptor a thread can poll beside its socket.
 *
 * Any thread may signal it; the owner polls it for POLLIN and drains it.
 * An eventfd where the system has one (one descriptor), a pipe otherwise.
 */
#ifndef PB_WAKE_H
#define PB_WAKE_H

struct pb_wake {
	int wk_rfd; /* poll this */
	int wk_wfd; /* signal through this (== wk_rfd for an eventfd) */
};

int pb_wake_open(struct pb_wake *w);
void pb_wake_close(struct pb_wake *w);
void pb_wake_signal(struct pb_wake *w);
void pb_wake_drain(struct pb_wake *w);

#endif
