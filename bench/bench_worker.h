/* SPDX-License-Identifier: ISC */
/*
 * bench_worker.h: the insides of the traffic engine, shared by its three
 * files: bench_engine.c (the worker threads and their loop), bench_tx.c
 * (building and writing frames) and bench_rx.c (reading and checking
 * messages). Everything here is touched by one worker thread only, but
 * for the engine's times, which are set before the threads start.
 */
#ifndef BENCH_WORKER_H
#define BENCH_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_engine.h"

#define BENCH_READ_CHUNK   (64 * 1024)
#define BENCH_TRICKLE_ROOM 64 /* frames of room for trickle and echoes */
#define BENCH_TRICKLE_MAX  32 /* no trickle while more frames are unsent */

struct bench_engine;

struct bench_worker {
	pthread_t w_thread;
	unsigned w_index;
	struct bench_engine *w_eng;
	int w_ep;
	struct bench_conn **w_senders; /* connections with an out buffer */
	size_t w_nsenders;
	struct bench_conn **w_dirty;
	size_t w_ndirty;
	struct bench_conn **w_tricklers;
	size_t w_ntricklers;
	size_t w_trnext;
	double w_trickle_rate; /* messages/s for this worker's tricklers */
	uint64_t w_trickle_due;
	uint64_t w_trickle_flush; /* when queued trickles are next sent */
	uint64_t w_pending;	  /* checked messages built, not yet received */
	uint64_t w_now;
	uint64_t w_rx_measured;
	uint64_t w_rx_total;
	uint64_t w_tx_total;
	uint64_t w_trickle_sent;
	uint64_t w_trickle_skipped;
	char *w_rbuf;
	struct bench_hist w_hist;
};

struct bench_engine {
	struct bench_topo *e_topo;
	const struct bench_opts *e_opts;
	size_t e_frame; /* bytes of one frame on the wire */
	uint64_t e_base;
	uint64_t e_warm;
	uint64_t e_end;
	uint64_t e_timeout;
	unsigned e_nworkers;
	struct bench_worker *e_workers;
};

static inline bool bench_running(const struct bench_worker *w)
{
	return w->w_now < w->w_eng->e_end;
}

/* bench_tx.c */
/* Puts c on w's list of connections to refill and flush. */
void bench_tx_dirty(struct bench_worker *w, struct bench_conn *c);
/* Room at the end of c's out buffer, compacting it first if need be. */
size_t bench_tx_room(struct bench_conn *c, size_t want);
/* Builds the next frame of stream si at the end of c's out buffer. */
void bench_tx_build(struct bench_worker *w, struct bench_conn *c, uint32_t si,
		    uint64_t time);
/* Fills c's free window slots with frames, round robin over its streams. */
void bench_tx_refill(struct bench_worker *w, struct bench_conn *c);
/* Writes what c has unsent, in one send(); asks for EPOLLOUT if it must. */
int bench_tx_flush(struct bench_worker *w, struct bench_conn *c);
/* Hands out this worker's share of the trickle due by now. */
void bench_tx_trickle(struct bench_worker *w);

/* bench_rx.c */
/* Reads up to 64 KiB from c and checks every message in it. */
int bench_rx_read(struct bench_worker *w, struct bench_conn *c);

#endif
