/* SPDX-License-Identifier: ISC */
/*
 * conf.c: reading the configuration file (see conf.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "options.h"

/* Trims blanks at both ends, in place. */
static char *conf_trim(char *s)
{
	char *end = s + strlen(s);

	while (*s == ' ' || *s == '\t')
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* One line; 0, or -1 with err. */
static int conf_line(struct pb_options *op, enum pb_server server,
		     const char *path, unsigned n, char *line, char *err,
		     size_t errlen)
{
	char *hash = strchr(line, '#'), *eq, *name, *value;
	const char *why;
	int rc;

	if (hash != NULL)
		*hash = '\0';
	name = conf_trim(line);
	if (*name == '\0')
		return 0;
	eq = strchr(name, '=');
	if (eq == NULL) {
		snprintf(err, errlen,
			 "%s:%u: expected 'name = value', got '%s'", path, n,
			 name);
		return -1;
	}
	*eq = '\0';
	name = conf_trim(name);
	value = conf_trim(eq + 1);
	rc = pb_options_set(op, server, name, value, n, &why);
	if (rc == 0)
		return 0;
	if (rc == -2)
		snprintf(err, errlen, "%s:%u: %s: %s", path, n, name, why);
	else if (why == NULL)
		snprintf(err, errlen, "%s:%u: %s: unknown option", path, n,
			 name);
	else
		snprintf(err, errlen, "%s:%u: %s: %s: '%s'", path, n, name, why,
			 value);
	return -1;
}

int pb_conf_load(struct pb_options *op, enum pb_server server, const char *path,
		 char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	unsigned n = 0;
	int rc = 0;

	if (f == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path,
			 strerror(errno));
		return -1;
	}
	while (rc == 0 && getline(&line, &cap, f) >= 0)
		rc = conf_line(op, server, path, ++n, line, err, errlen);
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "cannot read %s: %s", path,
			 strerror(errno));
		rc = -1;
	}
	free(line);
	fclose(f);
	return rc;
}

enum pb_options_result pb_conf_read(struct pb_options *op,
				    enum pb_server server, int argc,
				    char **argv, const char *file, char *err,
				    size_t errlen)
{
	struct pb_options *cli = malloc(2 * sizeof(*cli)), *all;
	enum pb_options_result r;

	if (cli == NULL) {
		snprintf(err, errlen, "no memory for the options");
		return PB_OPTIONS_USAGE;
	}
	all = cli + 1;
	pb_options_defaults(cli);
	r = pb_options_args(cli, server, argc, argv, err, errlen);
	if (r == PB_OPTIONS_RUN && file != NULL)
		snprintf(cli->op_config, sizeof(cli->op_config), "%s", file);
	if (r == PB_OPTIONS_RUN && cli->op_config[0] == '\0') {
		if (pb_options_check(cli, NULL, err, errlen) < 0)
			r = PB_OPTIONS_USAGE;
		else
			*op = *cli;
	} else if (r == PB_OPTIONS_RUN) {
		/* Again: the defaults, the file, then the command line. */
		pb_options_defaults(all);
		if (pb_conf_load(all, server, cli->op_config, err, errlen) <
			    0 ||
		    pb_options_args(all, server, argc, argv, err, errlen) !=
			    PB_OPTIONS_RUN ||
		    pb_options_check(all, cli->op_config, err, errlen) < 0) {
			r = PB_OPTIONS_USAGE;
		} else {
			snprintf(all->op_config, sizeof(all->op_config), "%s",
				 cli->op_config);
			*op = *all;
		}
	}
	free(cli);
	return r;
}
