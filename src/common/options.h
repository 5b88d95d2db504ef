/* SPDX-License-Identifier: ISC */
/*
 * options.h: the servers' options, from the command line and the
 * configuration file.
 *
 * One table of options decides, for both sources, what a valid value is
 * and which servers take the option: the parser is told which server it
 * parses for, lists only that server's options in --help, and refuses the
 * others by name (exit 2);
 * the file (conf.h) names them by their long names without the dashes. Parsing
 * is separate from acting on it so that every bad value is reported (exit
 * 2) before anything is opened, so that a reload can be checked whole
 * before any of it applies, and so that tests can drive it directly.
 */
#ifndef PB_OPTIONS_H
#define PB_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define PB_OPTIONS_ADDRLEN 256	/* an ADDR:PORT */
#define PB_OPTIONS_LISTEN  8	/* --listen given at most this often */
#define PB_OPTIONS_PATHLEN 4096 /* a file name */

struct pb_options {
	/* Listeners (listener.h): [tcp:]ADDR:PORT or unix:PATH. A source's
	 * first --listen (the file's, then the command line's) replaces
	 * those before it; the ones after it add to it. */
	char op_listen[PB_OPTIONS_LISTEN][PB_OPTIONS_ADDRLEN];
	unsigned op_nlisten;
	unsigned op_listen_from;    /* 0 default, 1 the file, 2 the command
				       line: where op_listen came from */
	unsigned long op_unix_mode; /* --unix-mode, 0 to 0777 */
	char op_unix_group[PB_OPTIONS_ADDRLEN]; /* "" for the daemon's */
	char op_metrics[PB_OPTIONS_ADDRLEN];	/* ADDR:PORT, "" for none */
	unsigned long op_max_clients;
	unsigned long op_max_per_address; /* 0: no limit */
	unsigned long op_max_handshakes;  /* connections waiting for an id */
	size_t op_max_frame;		  /* longest payload, 0x00 included */
	size_t op_outbox;		  /* per-destination outbox limit */
	size_t op_park;			  /* per-sender waiting room limit */
	size_t op_max_memory;		  /* global budget */
	unsigned long op_slow_ms;	  /* slow consumer timeout */
	unsigned long op_frame_ms; /* --frame-timeout: a frame's deadline */
	unsigned long op_spare_threads; /* client threads kept for reuse */
	unsigned long op_node_bits;	/* --node-bits: an id's node part */
	unsigned long op_node;		/* --node: this node's number */
	char op_state_dir[PB_OPTIONS_PATHLEN]; /* "" for none */
	/* Federation (doc/federation.md): NATS servers, "" for none. */
	char op_nats[PB_OPTIONS_PATHLEN];	/* URL[,URL...] */
	char op_nats_creds[PB_OPTIONS_PATHLEN]; /* "" for none */
	char op_nats_ca[PB_OPTIONS_PATHLEN];
	char op_nats_cert[PB_OPTIONS_PATHLEN];
	char op_nats_key[PB_OPTIONS_PATHLEN];
	char op_cluster[PB_OPTIONS_ADDRLEN]; /* prefixes every subject */
	unsigned long op_link_ms; /* --link-timeout: a link is down */
	size_t op_stack;	  /* per-client thread stack, bytes */
	bool op_daemon;
	char op_pidfile[PB_OPTIONS_PATHLEN]; /* "" for none */
	char op_config[PB_OPTIONS_PATHLEN];  /* "" for none */
	bool op_check_config;	/* print the configuration and exit */
	int op_verbosity;	/* a pb_log_level */
	unsigned long op_given; /* options given on the command line */
	/* Where each option was last set in the configuration file (its
	 * line, 0 if not there), so a check can name the line. */
	unsigned op_line[64];

	/* TLS (tls.h), for tls: listeners; a reload may change them all. */
	char op_tls_cert[PB_OPTIONS_PATHLEN];	 /* PEM chain, leaf first */
	char op_tls_key[PB_OPTIONS_PATHLEN];	 /* PEM private key */
	char op_tls_ca[PB_OPTIONS_PATHLEN];	 /* clients' CAs, "" none */
	char op_tls_crl[PB_OPTIONS_PATHLEN];	 /* CRLs, "" none */
	char op_tls_allow[PB_OPTIONS_PATHLEN];	 /* identities, "" any */
	unsigned long op_tls_client_auth;	 /* a pb_options_tls_auth */
	unsigned long op_tls_min_version;	 /* 12 or 13 */
	char op_tls_ciphers[PB_OPTIONS_ADDRLEN]; /* TLS 1.2, "" default */
	char op_tls_ciphersuites[PB_OPTIONS_ADDRLEN]; /* TLS 1.3 */
	unsigned long op_tls_handshake_ms; /* --tls-handshake-timeout */
};

/* --tls-client-auth. */
enum pb_options_tls_auth {
	PB_TLS_AUTH_REQUIRE,  /* a certificate from --tls-ca, or no id */
	PB_TLS_AUTH_OPTIONAL, /* none, or one from --tls-ca */
	PB_TLS_AUTH_NONE,     /* none asked for */
};

/* Whether some listener of op is tls:. */
bool pb_options_has_tls(const struct pb_options *op);

/* The servers, as a mask in the table of options. */
enum pb_server {
	PB_SERVER_DAEMON = 1 << 0,  /* patchbayd */
	PB_SERVER_REACTOR = 1 << 1, /* patchbay-reactor */
};

enum pb_options_result {
	PB_OPTIONS_RUN,	  /* go on and run the daemon */
	PB_OPTIONS_EXIT,  /* --help or --version was printed: exit 0 */
	PB_OPTIONS_USAGE, /* bad usage: err says why, exit 2 */
};

void pb_options_defaults(struct pb_options *op);

/* Parses argv onto op (which holds the defaults, or more) for server,
 * without checking the values against each other. On PB_OPTIONS_USAGE,
 * err holds one line (without the program name) naming the option; an
 * option the server does not take is refused so. */
enum pb_options_result pb_options_args(struct pb_options *op,
				       enum pb_server server, int argc,
				       char **argv, char *err, size_t errlen);

/* pb_options_args, then pb_options_check: the command line alone (the
 * whole of it, file included, is conf.h's pb_conf_read). */
enum pb_options_result pb_options_parse(struct pb_options *op,
					enum pb_server server, int argc,
					char **argv, char *err, size_t errlen);

/* Sets the option with this long name ("max-clients") from text, as line
 * 'line' of server's configuration file does. 0, or -1 with *why saying
 * what is wrong with the value ("not a number"), or NULL when no option of
 * the file has that name; -2 with *why saying so when server does not take
 * the option. */
int pb_options_set(struct pb_options *op, enum pb_server server,
		   const char *name, const char *value, unsigned line,
		   const char **why);

/* Checks the values against each other; 0, or -1 with err naming the
 * option (and where the file set it, for a file of that name). */
int pb_options_check(const struct pb_options *op, const char *file, char *err,
		     size_t errlen);

/* Whether the option with this long name ("daemon") was given on the
 * command line. */
bool pb_options_given(const struct pb_options *op, const char *name);

/* The long name of the first option that differs between a and b and that
 * a running daemon cannot change (listen, metrics, stack-size...), or
 * NULL when a reload from a to b can be applied. */
const char *pb_options_fixed_change(const struct pb_options *a,
				    const struct pb_options *b);

/* Writes every option of server's file at its value in op, one
 * "name = value" line each, as a configuration file would give them. */
void pb_options_write(const struct pb_options *op, enum pb_server server,
		      FILE *f);

/* Parses a size with an optional K, M or G suffix (powers of 1024). */
int pb_options_size(const char *s, size_t *out);

#endif
