/* SPDX-License-Identifier: ISC */
/*
 * hex.h: payloads as hexadecimal text, for --hex and --from-hex, so that a
 * payload holding newlines or any other byte but 0x00 fits on one line.
 */
#ifndef CAT_HEX_H
#define CAT_HEX_H

#include <stddef.h>

/* Writes the 2 * n lower-case digits of in[0 .. n) to out (no NUL). */
void cat_hex_encode(const unsigned char *in, size_t n, char *out);

/* Decodes the 2 * n digits at in (either case) into out[0 .. n): n, or
 * the index of the first pair that is not two hexadecimal digits. */
size_t cat_hex_decode(const char *in, size_t n, unsigned char *out);

#endif
