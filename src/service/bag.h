/* SPDX-License-Identifier: ISC */
/*
 * bag.h: many descriptors held as one.
 *
 * A restart hands the next process every client's socket. systemd's file
 * descriptor store costs its PID 1 a comparison with every stored
 * descriptor for each one added (quadratic: some 47 s for 10,000), and
 * $LISTEN_FDNAMES grows with each; so the sockets travel in a bag
 * instead, one descriptor: a Unix datagram socket connected to itself,
 * whose queue holds datagrams carrying up to PB_BAG_BATCH descriptors
 * each (SCM_RIGHTS), in flight. Whoever holds the bag holds them all
 * (CRIU keeps its own descriptors so). They are taken out with MSG_PEEK,
 * which leaves the bag as it was: a process that dies while taking over
 * leaves them for the next try.
 */
#ifndef PB_BAG_H
#define PB_BAG_H

#include <stddef.h>

/* The kernel passes at most 253 descriptors in one message. */
#define PB_BAG_BATCH 253

/* A new, empty bag (close-on-exec), or -1 with errno. */
int pb_bag_new(void);

/* Puts fds[0 .. n) in the bag, in order. 0, or -1 with errno. */
int pb_bag_put(int bag, const int *fds, size_t n);

/* Copies of the descriptors in the bag, close-on-exec, in the order they
 * were put: (*fds)[0 .. *n), an array to free. 0, or -1 with errno
 * (nothing taken). */
int pb_bag_take(int bag, int **fds, size_t *n);

#endif
