/* SPDX-License-Identifier: ISC */
/*
 * federation_none.c: no cluster, in a patchbayd built without libnats
 * (see federation.h); the options refuse --nats there.
 */
#include "config.h"

#include "federation.h"

int pb_federation_check(const struct pb_options *op, char *err, size_t errlen)
{
	(void)op;
	(void)err;
	(void)errlen;
	return 0;
}

int pb_federation_start(struct pb_registry *reg,
			const struct pb_blob_reader *state, char *err,
			size_t errlen)
{
	(void)reg;
	(void)state;
	(void)err;
	(void)errlen;
	return 0;
}

void pb_federation_handover_write(struct pb_blob *b)
{
	(void)b;
}

int pb_federation_handover_check(const struct pb_blob_reader *state, char *err,
				 size_t errlen)
{
	(void)state;
	(void)err;
	(void)errlen;
	return 0;
}

void pb_federation_handover_done(void)
{
}

void pb_federation_stop(void)
{
}

void pb_federation_log(void)
{
}

void pb_federation_sample(struct pb_federation_sample *s)
{
	s->fs_on = false;
	s->fs_nlinks = 0;
	s->fs_links = NULL;
}

void pb_federation_sample_free(struct pb_federation_sample *s)
{
	(void)s;
}
