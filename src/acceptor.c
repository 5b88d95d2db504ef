/*
 * acceptor.c: the accepting thread (see acceptor.h).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "acceptor.h"
#include "client.h"
#include "log.h"
#include "net.h"
#include "registry.h"
#include "stats.h"

#define PB_ACCEPT_PAUSE_MS 100 /* after EMFILE and the like */

/* Sends the new client its id. A new socket's send buffer is empty, so the
 * 4 bytes go at once unless the peer is already gone. */
static int acceptor_send_id(int fd, uint32_t id)
{
	char buf[PB_FRAME_HEADER];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};

	pb_frame_put_id(buf, id);
	return pb_net_sendv(fd, &iov, 1) == (ssize_t)sizeof(buf) ? 0 : -1;
}

/*
 * Makes the client findable and sends it its id. Both happen under the
 * client's lock, which every sender takes before writing to it, so no frame
 * can reach the client before its id, and none is dropped for want of it in
 * the table once the client knows its id.
 */
static int acceptor_publish(struct pb_registry *reg, struct pb_client *c)
{
	int rc;

	pthread_mutex_lock(&c->cl_lock);
	rc = pb_registry_add(reg, c);
	if (rc == 0 && acceptor_send_id(c->cl_fd, c->cl_id) < 0) {
		c->cl_closed = true;
		pb_registry_remove(reg, c);
		rc = -1;
	}
	pthread_mutex_unlock(&c->cl_lock);
	return rc;
}

static void acceptor_admit(struct pb_acceptor *ac, int fd, const char *peer)
{
	struct pb_registry *reg = ac->ac_reg;
	const struct pb_options *op = reg->rg_opts;
	struct pb_client *c;

	if (pb_registry_clients(reg) >= op->op_max_clients) {
		pb_stats_add(PB_STAT_REFUSED_MAX, 1);
		log_notice("connection from %s refused: %lu clients connected "
			   "(--max-clients)",
			   peer, pb_registry_clients(reg));
		close(fd);
		return;
	}
	c = pb_client_new(reg, fd, peer);
	if (c == NULL) {
		log_warn("connection from %s refused", peer);
		close(fd);
		return;
	}
	c->cl_id = pb_registry_next_id(reg);
	if (acceptor_publish(reg, c) < 0) {
		log_info("client %u disconnected (%s): id not sent", c->cl_id,
			 peer);
		close(fd);
		pb_client_unref(c);
		return;
	}
	pb_stats_add(PB_STAT_ACCEPTED, 1);
	log_info("client %u connected from %s", c->cl_id, peer);
	if (pb_client_start(c, op->op_stack) < 0) {
		pb_stats_add(PB_STAT_REFUSED_THREAD, 1);
		log_warn("client %u disconnected (%s): cannot start a thread",
			 c->cl_id, peer);
		pb_registry_remove(reg, c);
		close(fd);
		pb_client_unref(c);
	}
}

/* Accepts until none is pending; returns a pause in ms, or -1. */
static int acceptor_drain(struct pb_acceptor *ac)
{
	char peer[PB_NET_ADDRLEN];
	int fd;

	for (;;) {
		fd = pb_net_accept(ac->ac_fd, peer);
		if (fd >= 0) {
			acceptor_admit(ac, fd, peer);
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
			log_warn("accept: pausing %d ms", PB_ACCEPT_PAUSE_MS);
			return PB_ACCEPT_PAUSE_MS;
		default:
			log_warn("accept");
			return PB_ACCEPT_PAUSE_MS;
		}
	}
}

static void *acceptor_thread(void *arg)
{
	struct pb_acceptor *ac = arg;
	struct pollfd pfd;
	int pause = -1;

	pb_wake_attach(&ac->ac_stop);
	for (;;) {
		/* While paused, leave the listener out and only time out. */
		pfd.fd = pause < 0 ? ac->ac_fd : -1;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (pb_wake_poll(&ac->ac_stop, &pfd, 1, pause) < 0)
			log_warn("acceptor: poll");
		if (pb_wake_consume(&ac->ac_stop))
			break;
		pause = acceptor_drain(ac);
	}
	pb_wake_detach(&ac->ac_stop);
	return NULL;
}

int pb_acceptor_start(struct pb_acceptor *ac, int fd, struct pb_registry *reg)
{
	int rc;

	ac->ac_fd = fd;
	ac->ac_reg = reg;
	pb_wake_init(&ac->ac_stop);
	rc = pthread_create(&ac->ac_thread, NULL, acceptor_thread, ac);
	if (rc != 0) {
		pb_wake_destroy(&ac->ac_stop);
		errno = rc;
		return -1;
	}
	return 0;
}

void pb_acceptor_stop(struct pb_acceptor *ac)
{
	pb_wake_signal(&ac->ac_stop);
	pthread_join(ac->ac_thread, NULL);
	pb_wake_destroy(&ac->ac_stop);
	close(ac->ac_fd);
}
