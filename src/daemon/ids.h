/* SPDX-License-Identifier: ISC */
/*
 * ids.h: ids that are never given out twice, across restarts too.
 *
 * With --state-dir DIR, the file DIR/ids holds a high-water mark: how many
 * ids may have been handed out (table.h counts them). It is written
 * (temporary file, fsync, rename, fsync of the folder) before a block of
 * ids is used, so a daemon that restarts goes on above every id it ever
 * gave, skipping at most one block. In a cluster this is what keeps an old
 * id that other nodes may still send to from reaching a new client.
 */
#ifndef PB_IDS_H
#define PB_IDS_H

#include <stddef.h>
#include <stdint.h>

#define PB_IDS_FILE "ids"

/* Ids reserved at a time: a save per block. Smaller where a node's part
 * of the space (2^(32 - node_bits) ids) is small. */
uint64_t pb_ids_block(unsigned node_bits);

/* Reads the mark from dir into *handed (0 when there is no file yet). 0,
 * or -1 with err saying what is wrong, naming the file. */
int pb_ids_load(const char *dir, uint64_t *handed, char *err, size_t errlen);

/* Writes the mark 'upto' to dir, durably. 0, or -1 with err. */
int pb_ids_save(const char *dir, uint64_t upto, char *err, size_t errlen);

#endif
