/* SPDX-License-Identifier: ISC */
/*
 * restart.h: restarting without dropping a client.
 *
 * The old process stops accepting, freezes its clients at their safe
 * point (registry.h), writes their state (handover.h) into a memfd and
 * puts their sockets and its listening sockets in a bag (bag.h); then
 * either
 *   - stores both with the service manager (FDSTORE=1, names pb-state and
 *     pb-bag) and exits: systemd hands them to the next process it
 *     starts (`systemctl restart`, a package upgrade); on the unit's
 *     RestartKillSignal=, PB_RESTART_SIGNAL, or
 *   - executes the binary at its path in its own place, same pid, the
 *     two descriptors named by $PATCHBAY_HANDOVER; on SIGUSR2 (nginx's
 *     signal for a new binary). It first runs that binary with
 *     --check-config, and refuses (serving on) if that fails.
 * Whatever fails before the state is gone leaves the old process serving
 * every client (handovers_failed).
 *
 * The new process finds the state (pb_takeover_begin), checks all of it
 * before it builds anything, takes its listening sockets back where the
 * configuration still names them, rebuilds the clients once its registry
 * is up, and, once it is ready, removes the store's entries
 * (pb_takeover_end): a crash before that takes over again from the same
 * state; one after it cannot replay a stale one. A state it cannot read
 * is refused whole: a clean start, its connections closed, counted
 * (handover_state_refused, disconnect_restart) and logged.
 */
#ifndef PB_RESTART_H
#define PB_RESTART_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "activate.h"
#include "acceptor.h"
#include "blob.h"
#include "handover.h"
#include "options.h"
#include "registry.h"

/* The unit's RestartKillSignal=: a restart, not a stop (SIGTERM). */
#define PB_RESTART_SIGNAL (SIGRTMIN + 1)

/* What the old process hands over, set by main. */
struct pb_restart {
	struct pb_registry *rs_reg;
	struct pb_acceptor *rs_acceptor;
	const int *rs_listen; /* the clients' listening sockets */
	const bool *rs_tls;
	size_t rs_nlisten;
	/* Each one's --listen address, or NULL: systemd's sockets. */
	const char (*rs_specs)[PB_OPTIONS_ADDRLEN];
	char **rs_argv; /* the command line, for the new image */
};

/* Remembers the binary's path: called first thing (a package upgrade
 * later puts another file at that path). */
void pb_restart_init(void);

/* SIGUSR2: the in-place hand-over. Returns only if it did not happen
 * (logged and counted): the daemon serves on. */
void pb_restart_exec(struct pb_restart *rs);

/* PB_RESTART_SIGNAL: the state stored with the service manager, and the
 * process exits 0 (no return). Returns if that could not be done (no
 * manager, or it did not take the state: logged): the caller stops as for
 * SIGTERM. */
void pb_restart_store(struct pb_restart *rs);

/* The last hand-over's pause, for the metrics: ms, 0 for none. */
unsigned long long pb_restart_last_pause_ms(void);

/* A listening socket carried over. */
struct pb_taken_listener {
	int tl_fd; /* -1 once taken */
	bool tl_tls;
	char tl_spec[PB_OPTIONS_ADDRLEN]; /* "" for systemd's */
};

/* The new process's side. */
struct pb_takeover {
	bool tk_found;	/* a hand-over was there */
	bool tk_ok;	/* and its state is good */
	bool tk_stored; /* from the store: entries to remove */
	int tk_state;
	int tk_bag;
	int tk_back;   /* the image that wrote it (in place), or -1 */
	char *tk_data; /* the blob */
	size_t tk_len;
	struct pb_blob_reader tk_body;
	int *tk_fds; /* the bag's descriptors */
	size_t tk_nfds;
	struct pb_handover_info tk_info;
	size_t tk_clients; /* rebuilt */
	struct pb_taken_listener tk_listen[PB_ACTIVATE_CLIENTS];
	size_t tk_nlisten;
};

/* Finds a hand-over ($PATCHBAY_HANDOVER, or the store's entries in act)
 * and reads it whole. A bad one from an in-place hand-over is handed
 * back: the image that wrote it is executed again, with argv (no
 * return). Otherwise it is refused here: logged, counted, its
 * descriptors closed (tk_ok false). */
void pb_takeover_begin(struct pb_takeover *tk, const struct pb_activated *act,
		       char **argv);

/* The carried listening socket for spec ("" for any of systemd's), or
 * -1; *tls says whether it is a tls: one. */
int pb_takeover_listener(struct pb_takeover *tk, const char *spec, bool *tls);

/* The state's body once checked, for the links (federation.h), or
 * NULL: none, or refused. */
const struct pb_blob_reader *pb_takeover_state(const struct pb_takeover *tk);

/* Rebuilds the clients in reg (its ids set up, nothing accepted yet),
 * and closes the carried descriptors nobody took. */
void pb_takeover_restore(struct pb_takeover *tk, struct pb_registry *reg);

/* Once ready: the store's entries removed, the state let go, the pause
 * logged and kept for the metrics. */
void pb_takeover_end(struct pb_takeover *tk);

#endif
