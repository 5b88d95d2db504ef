/* SPDX-License-Identifier: ISC */
/*
 * addr.c: where patchbay-cat connects (see addr.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

/* Splits "HOST:PORT" or "[V6]:PORT" into a's host and port. */
static int addr_host_port(const char *s, struct cat_addr *a, char *err,
			  size_t errlen)
{
	const char *host = s, *colon;
	size_t n;
	unsigned long port;
	char *end;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':') {
			snprintf(err, errlen,
				 "'%s': an IPv6 address is "
				 "written [ADDR]:PORT",
				 s);
			return -1;
		}
		host = s + 1;
		n = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			snprintf(err, errlen,
				 "'%s': no port (HOST:PORT, "
				 "[V6]:PORT or unix:PATH)",
				 s);
			return -1;
		}
		n = (size_t)(colon - s);
		if (memchr(s, ':', n) != NULL) {
			snprintf(err, errlen,
				 "'%s': an IPv6 address is "
				 "written [ADDR]:PORT",
				 s);
			return -1;
		}
	}
	if (n == 0 || n >= sizeof a->ad_host) {
		snprintf(err, errlen, "'%s': %s host", s,
			 n ? "too long a" : "no");
		return -1;
	}
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || port == 0 ||
	    port > 65535) {
		snprintf(err, errlen, "'%s': the port must be 1 to 65535", s);
		return -1;
	}
	memcpy(a->ad_host, host, n);
	a->ad_host[n] = '\0';
	snprintf(a->ad_port, sizeof a->ad_port, "%lu", port);
	return 0;
}

int cat_addr_parse(const char *text, struct cat_addr *a, char *err,
		   size_t errlen)
{
	memset(a, 0, sizeof *a);
	if (strncmp(text, "unix:", 5) == 0) {
		size_t n = strlen(text + 5);

		a->ad_kind = CAT_ADDR_UNIX;
		if (n == 0 || n >= sizeof a->ad_path) {
			snprintf(err, errlen, "'%s': %s", text,
				 n ? "the path is too long for a Unix socket"
				   : "no path");
			return -1;
		}
		memcpy(a->ad_path, text + 5, n + 1);
		return 0;
	}
	if (strncmp(text, "tls:", 4) == 0) {
		a->ad_kind = CAT_ADDR_TLS;
		return addr_host_port(text + 4, a, err, errlen);
	}
	a->ad_kind = CAT_ADDR_TCP;
	if (strncmp(text, "tcp:", 4) == 0)
		text += 4;
	return addr_host_port(text, a, err, errlen);
}
