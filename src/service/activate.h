/* SPDX-License-Identifier: ISC */
/*
 * activate.h: listening sockets handed over by systemd.
 *
 * With socket activation the service manager binds the sockets and starts
 * the daemon with them open from descriptor 3 on, saying so in $LISTEN_PID
 * (our pid), $LISTEN_FDS (how many) and $LISTEN_FDNAMES (their names,
 * separated by ':'; sd_listen_fds(3)). "clients" names TCP sockets
 * clients connect to, "clients-tls" TCP sockets whose clients speak TLS
 * first, "clients-unix" Unix ones, "metrics" the one
 * Prometheus scrapes; a single socket without a name is the clients'.
 */
#ifndef PB_ACTIVATE_H
#define PB_ACTIVATE_H

#include <stdbool.h>
#include <stddef.h>

#define PB_ACTIVATE_CLIENTS 8 /* clients' sockets at most */
#define PB_ACTIVATE_STORED                                                     \
	8 /* store entries at most (the unit's                                 \
	     FileDescriptorStoreMax=) */

struct pb_activated {
	int ac_clients[PB_ACTIVATE_CLIENTS]; /* the clients' sockets */
	bool ac_tls[PB_ACTIVATE_CLIENTS];    /* named clients-tls */
	size_t ac_nclients;		     /* 0 when none was handed over */
	int ac_metrics;			     /* -1 when not handed over */
	/* From systemd's file descriptor store, left by a restart
	 * (restart.h): the state and the bag of sockets, or -1; whether
	 * any entry of ours was there (to be removed once taken over). */
	int ac_state;
	int ac_bag;
	bool ac_stored;
};

/* Takes the sockets handed over, if any: checks that each is a listening
 * socket of the kind its name says, makes it close-on-exec and
 * non-blocking, and unsets the variables. 0 (with none when nothing was
 * handed over), or -1 with err saying which descriptor is wrong. */
int pb_activate(struct pb_activated *a, char *err, size_t errlen);

#endif
