/* SPDX-License-Identifier: ISC */
/*
 * input.c: lines of standard input made into frames (see input.h).
 */
#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "frame.h"
#include "hex.h"
#include "input.h"

/* The most digits an id has: 4294967295. */
#define INPUT_ID_DIGITS 10

void cat_input_init(struct cat_input *in, bool has_to, uint32_t to,
		    bool from_hex, size_t max_frame)
{
	memset(in, 0, sizeof *in);
	in->in_has_to = has_to;
	in->in_to = to;
	in->in_from_hex = from_hex;
	in->in_max_frame = max_frame;
	/* The id, its space and the longest text; what is beyond cannot
	 * be sent and is only counted. */
	in->in_keep = INPUT_ID_DIGITS + 1 + (from_hex ? 2 : 1) * max_frame;
}

static void input_refuse(struct cat_input *in, FILE *errs, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One line on errs naming the line: it is not sent, the next ones are. */
static void input_refuse(struct cat_input *in, FILE *errs, const char *fmt, ...)
{
	va_list ap;

	in->in_refused++;
	fprintf(errs, "patchbay-cat: line %lu refused: ", in->in_lineno);
	va_start(ap, fmt);
	vfprintf(errs, fmt, ap);
	va_end(ap);
	fputc('\n', errs);
	fflush(errs);
}

/* Reads the id at the start of s[0 .. n): the bytes it takes with its
 * space, or 0 after refusing the line. */
static size_t input_id(struct cat_input *in, const char *s, size_t n,
		       uint32_t *id, FILE *errs)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		if (i == INPUT_ID_DIGITS)
			break;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0) {
		input_refuse(in, errs,
			     "no id at its start (ID TEXT, or give --to ID)");
		return 0;
	}
	if ((i < n && s[i] != ' ') || v > UINT32_MAX) {
		char shown[INPUT_ID_DIGITS + 2];
		size_t k = i < sizeof shown - 1 ? i + 1 : sizeof shown - 1;

		memcpy(shown, s, k);
		shown[k] = '\0';
		input_refuse(in, errs,
			     "'%s...' is not an id (0 to 4294967295, then "
			     "one space)",
			     shown);
		return 0;
	}
	*id = (uint32_t)v;
	return i < n ? i + 1 : i;
}

/* Makes the line in->in_line (in->in_len bytes long, perhaps not all
 * kept) into a frame on out, or refuses it. */
static int input_line(struct cat_input *in, struct cat_buf *out, FILE *errs)
{
	const char *s = cat_buf_head(&in->in_line);
	size_t kept = cat_buf_size(&in->in_line), skip = 0, textlen, bytes;
	size_t start = out->b_len;
	char hdr[PB_FRAME_HEADER];
	uint32_t id = in->in_to;
	char *p, *nul;

	if (!in->in_has_to) {
		skip = input_id(in, s, kept, &id, errs);
		if (skip == 0)
			return 0;
	}
	textlen = in->in_len - skip;
	if (in->in_from_hex && textlen % 2 != 0) {
		input_refuse(in, errs, "an odd number of hex digits");
		return 0;
	}
	bytes = in->in_from_hex ? textlen / 2 : textlen;
	if (bytes >= in->in_max_frame) {
		input_refuse(in, errs,
			     "its text is %zu bytes, --max-frame allows %zu",
			     bytes, in->in_max_frame - 1);
		return 0;
	}
	/* From here the whole line was kept (in_keep allows for it). */
	pb_frame_put_id(hdr, id);
	if (cat_buf_reserve(out, sizeof hdr + bytes + 1) < 0)
		return -1;
	p = out->b_data + out->b_len;
	memcpy(p, hdr, sizeof hdr);
	p += sizeof hdr;
	if (in->in_from_hex) {
		size_t bad =
			cat_hex_decode(s + skip, bytes, (unsigned char *)p);
		if (bad < bytes) {
			input_refuse(in, errs, "'%.2s' is not a hex byte",
				     s + skip + 2 * bad);
			return 0;
		}
	} else {
		memcpy(p, s + skip, bytes);
	}
	nul = memchr(p, '\0', bytes);
	if (nul != NULL) {
		input_refuse(in, errs,
			     "its text holds a 0x00 (byte %zu), which the "
			     "protocol cannot carry",
			     (size_t)(nul - p) + 1);
		return 0;
	}
	p[bytes] = '\0';
	out->b_len = start + sizeof hdr + bytes + 1;
	in->in_sent++;
	return 0;
}

static int input_finish_line(struct cat_input *in, struct cat_buf *out,
			     FILE *errs)
{
	int r = input_line(in, out, errs);

	in->in_line.b_off = in->in_line.b_len = 0;
	in->in_len = 0;
	return r;
}

/* Keeps what fits of s[0 .. n), a piece of the current line. */
static int input_keep(struct cat_input *in, const char *s, size_t n)
{
	size_t room = in->in_len < in->in_keep ? in->in_keep - in->in_len : 0;

	if (in->in_len == 0)
		in->in_lineno++;
	in->in_len += n;
	return cat_buf_add(&in->in_line, s, n < room ? n : room);
}

int cat_input_feed(struct cat_input *in, const char *data, size_t n,
		   struct cat_buf *out, FILE *errs)
{
	const char *nl;

	while (n > 0) {
		nl = memchr(data, '\n', n);
		if (nl == NULL)
			return input_keep(in, data, n);
		if (input_keep(in, data, (size_t)(nl - data)) < 0)
			return -1;
		if (input_finish_line(in, out, errs) < 0)
			return -1;
		n -= (size_t)(nl - data) + 1;
		data = nl + 1;
	}
	return 0;
}

int cat_input_end(struct cat_input *in, struct cat_buf *out, FILE *errs)
{
	if (in->in_len == 0)
		return 0;
	return input_finish_line(in, out, errs);
}

void cat_input_free(struct cat_input *in)
{
	cat_buf_free(&in->in_line);
}
