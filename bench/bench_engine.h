/* SPDX-License-Identifier: ISC */
/*
 * bench_engine.h: the traffic engine that every message-passing scenario
 * (pingpong, pairs, fanin, fanout, slow, scale) runs on.
 *
 * A scenario describes a topology: connections, and streams between them.
 * A stream is one sender's traffic to one destination; its messages carry
 * consecutive sequence numbers, which the destination checks. A sender
 * keeps at most --window messages in flight over all its windowed streams
 * (round robin between them) and sends more as they arrive. Connections are
 * gathered into groups that exchange traffic only among themselves (a pair,
 * a fan), and each group is served by one worker thread: window accounting,
 * sequence checks and latency histograms stay thread-local.
 */
#ifndef BENCH_ENGINE_H
#define BENCH_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench.h"

#define BENCH_NOBODY UINT32_MAX

/* Stream flags. */
#define BENCH_ST_CHECKED 0x1 /* delivery checked (else: to a non-reader) */
#define BENCH_ST_LATENCY 0x2 /* receipt goes into the latency histogram */
#define BENCH_ST_TRICKLE 0x4 /* rate-limited, not windowed (slow) */
#define BENCH_ST_REPLY	 0x8 /* sent only as an echo of another stream */

struct bench_stream {
	uint32_t st_src;    /* sending connection */
	uint32_t st_dst;    /* receiving connection */
	uint32_t st_dst_id; /* the id the server gave st_dst */
	uint32_t st_echo;   /* receipt triggers a reply on this stream */
	uint32_t st_credit; /* receipt frees a window slot of this conn */
	unsigned st_flags;
	uint64_t st_tx; /* messages built, by the sender's worker */
	uint64_t st_rx; /* messages received, by the receiver's worker */
};

struct bench_conn {
	int c_fd;
	uint32_t c_id;
	uint32_t c_index;
	uint32_t c_group;
	bool c_deaf;	 /* never read (slow consumer) */
	bool c_reads;	 /* receives checked messages */
	bool c_dirty;	 /* on its worker's list of connections to send */
	bool c_want_out; /* registered for EPOLLOUT */
	bool c_replies;	 /* sends echoes */
	uint32_t *c_tx;	 /* windowed streams it sends on */
	size_t c_ntx;
	size_t c_txnext;
	uint32_t *c_trickle; /* trickle streams it sends on */
	size_t c_ntrickle;
	size_t c_trnext;
	unsigned long c_inflight;
	uint64_t c_last_credit; /* last time a window slot came back */
	char *c_out;		/* frames built, not yet written */
	size_t c_out_off;
	size_t c_out_len;
	size_t c_out_cap;
	char *c_carry; /* a message cut by the end of a read */
	size_t c_carry_len;
};

struct bench_topo {
	struct bench_conn *t_conns;
	size_t t_nconns;
	struct bench_stream *t_streams;
	size_t t_nstreams;
	size_t t_scap;
	unsigned long t_window;
	size_t t_size;
};

int bench_topo_init(struct bench_topo *t, size_t nconns, unsigned long window,
		    size_t size);
/*
 * Adds a stream from src to dst; windowed senders give their own window
 * slot back on receipt (st_credit = src) unless flags say otherwise.
 * Returns its index, or BENCH_NOBODY (and bench_fail) on failure.
 */
uint32_t bench_topo_stream(struct bench_topo *t, uint32_t src, uint32_t dst,
			   unsigned flags);
void bench_topo_free(struct bench_topo *t);

/*
 * Runs the traffic: connections must be set up (c_fd, c_id) and streams'
 * st_dst_id filled in. Sends for warmup + duration, then waits (bounded)
 * until everything checked has arrived. Fills r's traffic fields; 0 if
 * the run completed, -1 if it failed (errors already reported).
 */
int bench_engine_run(struct bench_topo *t, const struct bench_opts *o,
		     struct bench_result *r);

#endif
