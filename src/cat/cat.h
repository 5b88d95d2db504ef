/* SPDX-License-Identifier: ISC */
/*
 * cat.h: patchbay-cat's settings, from its command line (main.c), and
 * the loop that runs a session with them (loop.c).
 */
#ifndef CAT_CAT_H
#define CAT_CAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "transport.h"

#define CAT_MAX_FRAME 65536 /* the daemon's default --max-frame */
#define CAT_LINGER_MS 1000

struct cat_conf {
	const char *cf_addr_text; /* for messages */
	struct cat_addr cf_addr;
	bool cf_has_to; /* --to ID */
	uint32_t cf_to;
	bool cf_hex;	  /* --hex: received payloads in hex */
	bool cf_from_hex; /* --from-hex: lines' text in hex */
	size_t cf_max_frame;
	unsigned long cf_linger_ms;
	unsigned long cf_count; /* --count N, 0 for none */
	const char *cf_id_file; /* NULL for none */
	struct cat_tls cf_tls;	/* --tls-ca, --tls-cert, --tls-key */
};

/* Runs a session over the connected transport t until it ends, and closes
 * t: the exit status, 0, or 1 when the connection failed, was closed by
 * the daemon or standard output was (said on standard error). */
int cat_run(const struct cat_conf *cf, struct cat_transport *t);

#endif
