/* SPDX-License-Identifier: ISC */
/*
 * acceptor.c: the accepting thread (see acceptor.h).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "acceptor.h"
#include "client.h"
#include "log.h"
#include "net.h"
#include "registry.h"
#include "session.h"
#include "stats.h"

#define PB_ACCEPT_PAUSE_MS 100 /* after EMFILE and the like */

/* Undoes pb_registry_admit for a client that gets no thread. */
static void acceptor_unadmit(struct pb_registry *reg, struct pb_client *c,
			     int fd)
{
	pb_registry_handshake_done(reg);
	pb_registry_client_gone(reg, c);
	close(fd);
	pb_client_unref(c);
}

/* A TLS client's state, from the context in force; false (refused,
 * counted) when there is no memory for it. */
static bool acceptor_tls(struct pb_registry *reg, struct pb_client *c, int fd)
{
	struct pb_tls_ctx *ctx;

	/* The generation first: never newer than the context then. */
	c->cl_tls_gen = pb_registry_tls_gen(reg);
	ctx = pb_registry_tls(reg);
	c->cl_tls = ctx != NULL ? pb_tls_new(ctx, fd, &reg->rg_budget) : NULL;
	pb_tls_ctx_unref(ctx);
	return c->cl_tls != NULL;
}

static void acceptor_admit(struct pb_acceptor *ac, int fd, const char *peer,
			   bool tls)
{
	struct pb_registry *reg = ac->ac_reg;
	const struct pb_options *op = reg->rg_opts;
	char err[PB_OPTIONS_PATHLEN + 128];
	struct pb_conn_env env;
	struct pb_client *c;
	enum pb_stat why;

	if (pb_account_refuse_full(pb_registry_clients(reg),
				   pb_registry_max_clients(reg), peer)) {
		close(fd);
		return;
	}
	pb_registry_client_env(reg, &env);
	c = pb_client_new(reg, &env, 0, fd, peer);
	why = c == NULL ? PB_STAT_REFUSED_NOMEM : pb_registry_admit(reg, c, fd);
	if (why != PB_STAT_COUNT) {
		pb_account_refused(peer, why);
		close(fd);
		if (c != NULL)
			pb_client_unref(c);
		return;
	}
	if (tls && !acceptor_tls(reg, c, fd)) {
		pb_account_refused(peer, PB_STAT_REFUSED_NOMEM);
		acceptor_unadmit(reg, c, fd);
		return;
	}
	/* Only now: a refused connection spends no id. A TLS client gets
	 * its own after its handshake, in its thread (session.c). */
	if (!tls &&
	    pb_registry_next_id(reg, &c->cl_conn.cn_id, err, sizeof(err)) < 0) {
		log_warnx("cannot save the id state: %s", err);
		pb_account_refused(peer, PB_STAT_REFUSED_STATE);
		acceptor_unadmit(reg, c, fd);
		return;
	}
	if (pb_session_start(c, op->op_stack) < 0) {
		pb_stats_add(PB_STAT_REFUSED_THREAD, 1);
		log_warn("connection from %s refused: cannot start a thread",
			 peer);
		acceptor_unadmit(reg, c, fd);
	}
}

/* Accepts on lfd until none is pending; returns a pause in ms, or -1. */
static int acceptor_drain(struct pb_acceptor *ac, int lfd, bool tls)
{
	char peer[PB_NET_ADDRLEN];
	int fd;

	for (;;) {
		fd = pb_net_accept(lfd, peer);
		if (fd >= 0) {
			if (ac->ac_paused)
				log_notice("accepting connections again");
			ac->ac_paused = false;
			acceptor_admit(ac, fd, peer, tls);
			continue;
		}
		switch (errno) {
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
			return -1;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			continue;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			/* Said once: it is retried every pause until it
			 * works. */
			if (!ac->ac_paused)
				log_warn("accept: retrying every %d ms",
					 PB_ACCEPT_PAUSE_MS);
			ac->ac_paused = true;
			return PB_ACCEPT_PAUSE_MS;
		default:
			log_warn("accept");
			return PB_ACCEPT_PAUSE_MS;
		}
	}
}

/* Accepts on every listener poll found ready (all of them after a
 * pause); returns the next pause in ms, or -1. */
static int acceptor_round(struct pb_acceptor *ac, const struct pollfd *pfd,
			  bool paused)
{
	int pause = -1;
	size_t i;

	for (i = 0; i < ac->ac_nfds; i++) {
		int p;

		if (!paused && !(pfd[i].revents & (POLLIN | POLLERR)))
			continue;
		p = acceptor_drain(ac, ac->ac_fds[i], ac->ac_tls[i]);
		if (p > pause)
			pause = p;
	}
	return pause;
}

static void *acceptor_thread(void *arg)
{
	struct pb_acceptor *ac = arg;
	struct pollfd pfd[PB_ACCEPTOR_MAX];
	int pause = -1;
	size_t i;

	pb_wake_attach(&ac->ac_stop);
	for (;;) {
		/* While paused, leave the listeners out and only time out. */
		for (i = 0; i < ac->ac_nfds; i++) {
			pfd[i].fd = pause < 0 ? ac->ac_fds[i] : -1;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (pb_wake_poll(&ac->ac_stop, pfd, ac->ac_nfds, pause) < 0)
			log_warn("acceptor: poll");
		if (pb_wake_consume(&ac->ac_stop) &&
		    atomic_load(&ac->ac_stopping))
			break;
		atomic_store(&ac->ac_pong, atomic_load(&ac->ac_ping));
		pause = acceptor_round(ac, pfd, pause >= 0);
	}
	pb_wake_detach(&ac->ac_stop);
	return NULL;
}

int pb_acceptor_start(struct pb_acceptor *ac, const int *fds, const bool *tls,
		      size_t n, struct pb_registry *reg)
{
	int rc;

	memcpy(ac->ac_fds, fds, n * sizeof(*fds));
	memcpy(ac->ac_tls, tls, n * sizeof(*tls));
	ac->ac_nfds = n;
	ac->ac_reg = reg;
	ac->ac_paused = false;
	atomic_init(&ac->ac_stopping, false);
	atomic_init(&ac->ac_ping, 0);
	atomic_init(&ac->ac_pong, 0);
	pb_wake_init(&ac->ac_stop);
	rc = pthread_create(&ac->ac_thread, NULL, acceptor_thread, ac);
	if (rc != 0) {
		pb_wake_destroy(&ac->ac_stop);
		errno = rc;
		return -1;
	}
	return 0;
}

void pb_acceptor_ping(struct pb_acceptor *ac)
{
	atomic_fetch_add(&ac->ac_ping, 1);
	pb_wake_signal(&ac->ac_stop);
}

bool pb_acceptor_alive(struct pb_acceptor *ac)
{
	return atomic_load(&ac->ac_pong) == atomic_load(&ac->ac_ping);
}

void pb_acceptor_stop(struct pb_acceptor *ac)
{
	atomic_store(&ac->ac_stopping, true);
	pb_wake_signal(&ac->ac_stop);
	pthread_join(ac->ac_thread, NULL);
	pb_wake_destroy(&ac->ac_stop);
}
