/*
 * metrics.c: placeholder until the HTTP server lands: no metrics.
 */
#include "config.h"

#include <stdio.h>

#include "metrics.h"

bool pb_metrics_available(void)
{
	return false;
}

struct pb_metrics *pb_metrics_start(int fd, struct pb_registry *reg, char *err,
				    size_t errlen)
{
	(void)fd;
	(void)reg;
	snprintf(err, errlen, "this patchbayd was built without metrics");
	return NULL;
}

void pb_metrics_stop(struct pb_metrics *m)
{
	(void)m;
}
