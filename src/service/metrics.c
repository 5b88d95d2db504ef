/* SPDX-License-Identifier: ISC */
/*
 * metrics.c: the HTTP server of the metrics (see metrics.h), on
 * libmicrohttpd.
 *
 * One thread of libmicrohttpd's own, polling with epoll (descriptors can
 * be above 1024 with thousands of clients), serves GET and HEAD /metrics
 * with what exposition.c formats, and refuses the rest: 404 for another
 * path, 405 for another method, 413 for a request with a body. The thread
 * is created by pb_metrics_start, after main has blocked every signal, so
 * it takes none. What a misbehaving scraper can cost is bounded: a few
 * connections at once (others wait in the kernel's queue), a timeout on
 * each, and a small memory pool per connection, which also bounds the
 * request line and headers.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "exposition.h"
#include "log.h"
#include "metrics.h"

#define METRICS_CONNECTIONS 16		/* served at once */
#define METRICS_TIMEOUT_S   10		/* an idle connection is closed */
#define METRICS_MEMORY	    (32 * 1024) /* per connection */

/* The ITC (an eventfd) wakes the thread to stop, where libmicrohttpd
 * would otherwise shutdown() the listening socket, which systemd may
 * share with us. */
#define METRICS_FLAGS                                                          \
	(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG)

#define METRICS_TEXT "text/plain; charset=utf-8"

struct pb_metrics {
	struct MHD_Daemon *me_mhd;
};

bool pb_metrics_available(void)
{
	return true;
}

/* libmicrohttpd's messages, one log line each, at -v: most are about bad
 * requests, which a scraper from outside could otherwise make fill the
 * log at warning level. Failing to start is reported by main. */
static void metrics_log(void *cls, const char *fmt, va_list ap) PB_PRINTF(2, 0);

static void metrics_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strcspn(line, "\n");
	log_info("metrics: %.*s", (int)n, line);
}

/* Queues r (NULL when it could not be made) with its headers; MHD_NO
 * closes the connection. */
static enum MHD_Result metrics_queue(struct MHD_Connection *conn,
				     unsigned int status,
				     struct MHD_Response *r, const char *type,
				     const char *allow)
{
	enum MHD_Result rc = MHD_NO;

	if (r == NULL)
		return MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) ==
		    MHD_YES &&
	    (allow == NULL || MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
						      allow) == MHD_YES))
		rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result metrics_refuse(struct MHD_Connection *conn,
				      unsigned int status, const char *text,
				      const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);

	return metrics_queue(conn, status, r, METRICS_TEXT, allow);
}

static enum MHD_Result metrics_scrape(struct MHD_Connection *conn,
				      struct pb_registry *reg)
{
	struct pb_expo_sample s;
	struct MHD_Response *r;
	size_t len;
	char *text;

	pb_expo_take(&s, reg);
	text = pb_expo_format(&s, &len);
	pb_expo_free(&s);
	if (text == NULL)
		return metrics_refuse(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				      "out of memory\n", NULL);
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
		free(text);
	return metrics_queue(conn, MHD_HTTP_OK, r, PB_EXPO_CONTENT_TYPE, NULL);
}

/* Whether the request says a body follows. */
static bool metrics_has_body(struct MHD_Connection *conn)
{
	const char *len = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (len != NULL && strcmp(len, "0") != 0) ||
	       MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
		       NULL;
}

/* Called once the headers are in, then once the request is complete. A
 * refusal is answered at once, so that libmicrohttpd reads no body and
 * closes the connection; a scrape waits for the second call, which keeps
 * the connection open for the next one. */
static enum MHD_Result metrics_request(void *cls, struct MHD_Connection *conn,
				       const char *url, const char *method,
				       const char *version,
				       const char *upload_data,
				       size_t *upload_data_size, void **req_cls)
{
	static int headers_seen;

	(void)version;
	(void)upload_data; /* none: a body is refused on the first call */
	(void)upload_data_size;
	if (strcmp(url, "/metrics") != 0)
		return metrics_refuse(conn, MHD_HTTP_NOT_FOUND,
				      "not found: metrics are at /metrics\n",
				      NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return metrics_refuse(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				      "method not allowed\n", "GET, HEAD");
	if (metrics_has_body(conn))
		return metrics_refuse(conn, MHD_HTTP_CONTENT_TOO_LARGE,
				      "a request with a body is refused\n",
				      NULL);
	if (*req_cls == NULL) {
		*req_cls = &headers_seen;
		return MHD_YES;
	}
	return metrics_scrape(conn, cls);
}

struct pb_metrics *pb_metrics_start(int fd, struct pb_registry *reg, char *err,
				    size_t errlen)
{
	struct pb_metrics *m = malloc(sizeof(*m));

	if (m == NULL) {
		snprintf(err, errlen, "cannot start the metrics: %s",
			 strerror(errno));
		close(fd);
		return NULL;
	}
	m->me_mhd = MHD_start_daemon(
		METRICS_FLAGS, 0, NULL, NULL, metrics_request, reg,
		MHD_OPTION_EXTERNAL_LOGGER, metrics_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_MEMORY,
		MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_END);
	if (m->me_mhd == NULL) {
		/* Its reason is logged. fd is left alone: depending on how
		 * far it got, libmicrohttpd closed it or not. */
		free(m);
		snprintf(err, errlen, "cannot start the metrics' HTTP server");
		return NULL;
	}
	return m;
}

void pb_metrics_stop(struct pb_metrics *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->me_mhd);
	free(m);
}
