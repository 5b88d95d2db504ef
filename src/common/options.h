/*
 * options.h: the daemon's command line.
 *
 * Parsing is separate from acting on it so that every bad value is reported
 * (exit 2) before anything is opened, and so tests can drive it directly.
 */
#ifndef PB_OPTIONS_H
#define PB_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

struct pb_options {
	const char *op_listen; /* ADDR:PORT */
	unsigned long op_max_clients;
	size_t op_max_frame;	  /* longest payload, 0x00 included */
	size_t op_outbox;	  /* per-destination outbox limit */
	size_t op_park;		  /* per-sender waiting room limit */
	size_t op_max_memory;	  /* global budget */
	unsigned long op_slow_ms; /* slow consumer timeout */
	size_t op_stack;	  /* per-client thread stack, bytes */
	bool op_daemon;
	const char *op_pidfile;
	int op_verbosity;	/* a pb_log_level */
	unsigned long op_given; /* which options were given, by their bit */
};

enum pb_options_result {
	PB_OPTIONS_RUN,	  /* go on and run the daemon */
	PB_OPTIONS_EXIT,  /* --help or --version was printed: exit 0 */
	PB_OPTIONS_USAGE, /* bad usage: err says why, exit 2 */
};

void pb_options_defaults(struct pb_options *op);

/* Parses argv into op. On PB_OPTIONS_USAGE, err holds one line (without
 * the program name) saying which option or value is wrong. */
enum pb_options_result pb_options_parse(struct pb_options *op, int argc,
					char **argv, char *err, size_t errlen);

/* Whether the option with this long name ("daemon") was given. */
bool pb_options_given(const struct pb_options *op, const char *name);

/* Parses a size with an optional K, M or G suffix (powers of 1024). */
int pb_options_size(const char *s, size_t *out);

#endif
