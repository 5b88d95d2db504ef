/* SPDX-License-Identifier: ISC */
/*
 * reload.h: applying a new configuration to a running daemon (SIGHUP).
 *
 * The file is read and checked whole, with the command line on top as at
 * start; then it is applied at once or not at all. What a running daemon
 * can change: the verbosity, max-clients (lowering it refuses newcomers
 * until fewer are connected; nobody is dropped), slow-timeout and
 * frame-timeout (for every client at once), spare-threads (spares above a
 * lowered count end when next idle), max-memory, and outbox and park for
 * clients that connect afterwards. A change to anything else (listen,
 * metrics, max-frame, stack-size, daemon, pidfile) refuses the whole
 * reload, with a log line naming it. Where tls: listeners serve, the TLS
 * files (--tls-*) are read again into a new context, which new
 * connections get (those made before keep theirs, but each client's own
 * thread checks it against the new one, and ends it if no longer allowed:
 * disconnect_tls_not_allowed); a bad file refuses the whole reload too,
 * logged and counted (tls_reload_failed). No other client is dropped and
 * no frame lost by a reload.
 */
#ifndef PB_RELOAD_H
#define PB_RELOAD_H

#include <stdbool.h>

#include "options.h"
#include "registry.h"

/* Reloads into *running (the options in force, updated on success) from
 * the file and argv it came from; applies the new limits to reg. True if
 * the new configuration is in force, false if the old one was kept (the
 * log says why). */
bool pb_reload(struct pb_options *running, int argc, char **argv,
	       struct pb_registry *reg);

/* Fits op's --max-clients to the descriptor limit, at start and at each
 * reload: raises the limit where it may, else lowers --max-clients to
 * what it allows, with a warning. */
void pb_fit_max_clients_to_fds(struct pb_options *op);

#endif
