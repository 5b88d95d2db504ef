/* SPDX-License-Identifier: ISC */
/*
 * addr.h: where patchbay-cat connects, as the command line gives it:
 * "[tcp:]HOST:PORT" (an IPv6 address in brackets, a host name resolved
 * when connecting), "unix:PATH", or "tls:HOST:PORT". The daemon's
 * listeners take the same forms (listener.h), save for host names.
 */
#ifndef CAT_ADDR_H
#define CAT_ADDR_H

#include <stddef.h>

#define CAT_ADDR_DEFAULT "127.0.0.1:8080"
#define CAT_ADDR_HOSTLEN 256
#define CAT_ADDR_PORTLEN 6   /* "65535" and a NUL */
#define CAT_ADDR_PATHLEN 108 /* sockaddr_un's sun_path */

enum cat_addr_kind {
	CAT_ADDR_TCP,
	CAT_ADDR_UNIX,
	CAT_ADDR_TLS, /* parsed, so that it can be refused by name */
};

struct cat_addr {
	enum cat_addr_kind ad_kind;
	char ad_host[CAT_ADDR_HOSTLEN]; /* TCP, TLS: without brackets */
	char ad_port[CAT_ADDR_PORTLEN]; /* TCP, TLS: decimal, 1 to 65535 */
	char ad_path[CAT_ADDR_PATHLEN]; /* UNIX */
};

/* Parses text into *a: 0, or -1 with err saying what is wrong. */
int cat_addr_parse(const char *text, struct cat_addr *a, char *err,
		   size_t errlen);

#endif
