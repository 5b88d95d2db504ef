/* SPDX-License-Identifier: ISC */
/*
 * conf.h: the configuration file, and the options as a whole.
 *
 * One option per line, "name = value", the names being the long options
 * without their dashes ("max-clients = 500"); '#' starts a comment and
 * blank lines are fine. The values are those of the command line, parsed
 * by the same code (options.h). The command line overrides the file.
 */
#ifndef PB_CONF_H
#define PB_CONF_H

#include <stddef.h>

#include "options.h"

/* Applies the file's lines onto op, for server. 0, or -1 with err saying
 * which file, line and option is wrong and why ("FILE:7: max-clients: not
 * a number: 'lots'"; "FILE:3: metrics: not supported by the reactor
 * (patchbayd only)"), or that the file cannot be read. */
int pb_conf_load(struct pb_options *op, enum pb_server server, const char *path,
		 char *err, size_t errlen);

/*
 * The options of a run of server: the defaults, the file named by
 * --config if any, the command line on top, all checked. Run again with the
 * same argv to reload, with 'file' naming the configuration file as the first
 * run found it (made absolute, for a daemon that changed directory), or NULL to
 * take it from argv. op is only written on success (PB_OPTIONS_RUN, or EXIT
 * after --help or --version); on PB_OPTIONS_USAGE err says why.
 */
enum pb_options_result pb_conf_read(struct pb_options *op,
				    enum pb_server server, int argc,
				    char **argv, const char *file, char *err,
				    size_t errlen);

#endif
