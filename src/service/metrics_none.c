/* SPDX-License-Identifier: ISC */
/*
 * metrics_none.c: the metrics of a patchbayd built without libmicrohttpd
 * (configure --without-metrics, or libmicrohttpd not found): none. main
 * refuses --metrics before anything starts.
 */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "metrics.h"

bool pb_metrics_available(void)
{
	return false;
}

struct pb_metrics *pb_metrics_start(int fd, struct pb_registry *reg, char *err,
				    size_t errlen)
{
	(void)reg;
	close(fd);
	snprintf(err, errlen, "this patchbayd was built without metrics");
	return NULL;
}

void pb_metrics_stop(struct pb_metrics *m)
{
	(void)m;
}
