/* SPDX-License-Identifier: ISC */
/*
 * check_routing.c: end-to-end tests of what a well-behaved client sees
 * (doc/protocol.md: connecting, sending, receiving, guarantees and the
 * reference exchange): ids, exact forwarded bytes, reassembly
 * of split and coalesced frames, ordering, the --max-frame boundary and
 * frames from several senders never cut inside a payload. Each test starts
 * its own patchbayd ($PATCHBAYD) on a free port through harness.c.
 */
#include "config.h"

#include "harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

START_TEST(test_reference_exchange)
{
	/* The frames of doc/protocol.md's reference exchange, byte for byte. */
	static const unsigned char a_frame[] = "\0\0\0\1hello, number 2";
	static const unsigned char b_frame[] = "\0\0\0\0hello back, number 1";
	static const unsigned char id0[4] = {0, 0, 0, 0};
	static const unsigned char id1[4] = {0, 0, 0, 1};
	struct pbt_daemon *d = pbt_start(NULL);
	unsigned char got[64];
	int a, b;

	a = pbt_connect_port(pbt_port(d));
	pbt_recv_exact(a, got, 4, PBT_IO_MS);
	pbt_assert_mem_eq(got, id0, 4);
	b = pbt_connect_port(pbt_port(d));
	pbt_recv_exact(b, got, 4, PBT_IO_MS);
	pbt_assert_mem_eq(got, id1, 4);

	pbt_send_all(a, a_frame, sizeof a_frame, PBT_IO_MS);
	pbt_recv_exact(b, got, sizeof "hello, number 2", PBT_IO_MS);
	pbt_assert_mem_eq(got, "hello, number 2", sizeof "hello, number 2");

	pbt_send_all(b, b_frame, sizeof b_frame, PBT_IO_MS);
	pbt_recv_exact(a, got, sizeof "hello back, number 1", PBT_IO_MS);
	pbt_assert_mem_eq(got, "hello back, number 1",
			  sizeof "hello back, number 1");

	/* Nothing was added after either payload: the next bytes are x\0. */
	pbt_send_frame(a, 1, "x", PBT_IO_MS);
	pbt_send_frame(b, 0, "y", PBT_IO_MS);
	pbt_recv_exact(b, got, 2, PBT_IO_MS);
	pbt_assert_mem_eq(got, "x", 2);
	pbt_recv_exact(a, got, 2, PBT_IO_MS);
	pbt_assert_mem_eq(got, "y", 2);
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

START_TEST(test_frames_sent_one_byte_per_send)
{
	struct pbt_daemon *d = pbt_start(NULL);
	struct pbt_buf f = {0};
	uint32_t ida, idb;
	int a = pbt_connect(d, &ida);
	int b = pbt_connect(d, &idb);

	pbt_buf_frame(&f, idb, "split across many sends", 23);
	pbt_buf_frame(&f, idb, "", 0);
	pbt_buf_frame(&f, ida, "to the sender itself", 20);
	pbt_buf_frame(&f, idb, "third", 5);
	/* TCP_NODELAY is on: each send() tends to be its own segment. */
	for (size_t i = 0; i < f.b_len; i++)
		pbt_send_all(a, f.b_data + i, 1, PBT_IO_MS);
	pbt_expect_msg(b, "split across many sends", PBT_IO_MS);
	pbt_expect_msg(b, "", PBT_IO_MS);
	pbt_expect_msg(b, "third", PBT_IO_MS);
	pbt_expect_msg(a, "to the sender itself", PBT_IO_MS);
	pbt_buf_free(&f);
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

START_TEST(test_many_frames_coalesced_in_one_send)
{
	enum { N = 500 };
	struct pbt_daemon *d = pbt_start(NULL);
	struct pbt_buf f = {0}, want = {0};
	uint32_t idb;
	int a = pbt_connect(d, NULL);
	int b = pbt_connect(d, &idb);
	size_t len;
	char *got;

	for (int i = 0; i < N; i++) {
		char p[64];
		int n = snprintf(p, sizeof p, "coalesced frame %d of %d", i, N);

		pbt_buf_frame(&f, idb, p, (size_t)n);
		pbt_buf_add(&want, p, (size_t)n + 1);
	}
	pbt_assert(send(a, f.b_data, f.b_len, MSG_NOSIGNAL) == (ssize_t)f.b_len,
		   "the %zu bytes of %d frames did not go in one send()",
		   f.b_len, N);
	got = pbt_recv_msgs(b, N, &len, PBT_IO_MS);
	pbt_assert(len == want.b_len, "received %zu bytes, not %zu", len,
		   want.b_len);
	pbt_assert_mem_eq(got, want.b_data, len);
	free(got);
	pbt_buf_free(&f);
	pbt_buf_free(&want);
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

START_TEST(test_empty_payload_forwards_single_nul)
{
	struct pbt_daemon *d = pbt_start(NULL);
	uint32_t idb;
	int a = pbt_connect(d, NULL);
	int b = pbt_connect(d, &idb);
	unsigned char got;

	pbt_send_frame(a, idb, "", PBT_IO_MS);
	pbt_send_frame(a, idb, "after the empty one", PBT_IO_MS);
	pbt_recv_exact(b, &got, 1, PBT_IO_MS);
	pbt_assert(got == 0, "an empty payload arrived as 0x%02x, not 0x00",
		   got);
	pbt_expect_msg(b, "after the empty one", PBT_IO_MS);
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

START_TEST(test_send_to_own_id_is_delivered)
{
	struct pbt_daemon *d = pbt_start(NULL);
	uint32_t ida;
	int a = pbt_connect(d, &ida);

	pbt_send_frame(a, ida, "a note to myself", PBT_IO_MS);
	pbt_expect_msg(a, "a note to myself", PBT_IO_MS);
	pbt_send_frame(a, ida, "and another", PBT_IO_MS);
	pbt_expect_msg(a, "and another", PBT_IO_MS);
	close(a);
	pbt_free(d);
}
END_TEST

/* The index of the first message where two NUL-separated streams differ. */
static size_t first_difference(const unsigned char *a, const unsigned char *b,
			       size_t len)
{
	size_t msg = 0;

	for (size_t i = 0; i < len; i++) {
		if (a[i] != b[i])
			return msg;
		if (a[i] == 0)
			msg++;
	}
	return msg;
}

START_TEST(test_20000_messages_arrive_in_order)
{
	enum { N = 20000 };
	struct pbt_daemon *d = pbt_start(NULL);
	struct pbt_buf f = {0}, want = {0};
	uint32_t idb;
	int a = pbt_connect(d, NULL);
	int b = pbt_connect(d, &idb);
	struct pbt_stream s[2] = {{.s_fd = a}, {.s_fd = b}};

	for (int i = 0; i < N; i++) {
		char p[64];
		int n = snprintf(p, sizeof p, "message %05d", i);

		pbt_buf_frame(&f, idb, p, (size_t)n);
		pbt_buf_add(&want, p, (size_t)n + 1);
	}
	s[0].s_out = f.b_data;
	s[0].s_out_len = f.b_len;
	s[1].s_in = malloc(want.b_len);
	s[1].s_in_len = want.b_len;
	ck_assert_ptr_nonnull(s[1].s_in);
	pbt_pump(s, 2, 20000);
	pbt_assert(memcmp(s[1].s_in, want.b_data, want.b_len) == 0,
		   "message %zu is the first one missing or out of order",
		   first_difference(s[1].s_in, want.b_data, want.b_len));
	free(s[1].s_in);
	pbt_buf_free(&f);
	pbt_buf_free(&want);
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

START_TEST(test_frame_of_exactly_max_frame_is_delivered)
{
	/* -f 1024: 1023 payload bytes plus the 0x00 is the longest frame. */
	struct pbt_daemon *d = pbt_start("-f", "1024", (char *)NULL);
	unsigned char payload[1023], got[1024];
	struct pbt_buf f = {0};
	uint64_t seed = 42;
	uint32_t idb;
	int a = pbt_connect(d, NULL);
	int b = pbt_connect(d, &idb);

	pbt_fill_nonzero(payload, sizeof payload, &seed);
	pbt_buf_frame(&f, idb, payload, sizeof payload);
	pbt_buf_frame(&f, idb, payload, sizeof payload);
	pbt_buf_frame(&f, idb, "the sender is still connected", 29);
	pbt_send_all(a, f.b_data, f.b_len, PBT_IO_MS);
	for (int i = 0; i < 2; i++) {
		pbt_recv_exact(b, got, sizeof got, PBT_IO_MS);
		pbt_assert_mem_eq(got, payload, sizeof payload);
		pbt_assert(got[1023] == 0, "the frame's last byte is not 0x00");
	}
	pbt_expect_msg(b, "the sender is still connected", PBT_IO_MS);
	pbt_assert(!pbt_log_has(d, "protocol error"),
		   "a frame of exactly --max-frame bytes was a protocol error");
	pbt_buf_free(&f);
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

/*
 * Two senders' messages: "S<sender> <seq> " then a filler of one letter
 * particular to the sender, lengths varying per message so that a cut at
 * the same place in every message is unlikely to go unnoticed.
 */
enum { TWO_N = 300 };

static size_t two_len(int sender, int seq)
{
	return 1000 + (size_t)((seq * 37 + sender * 1013) % 4000);
}

static void two_build(struct pbt_buf *f, uint32_t dst, int sender)
{
	char *p = malloc(5100);

	ck_assert_ptr_nonnull(p);
	for (int seq = 0; seq < TWO_N; seq++) {
		size_t len = two_len(sender, seq);
		int h = snprintf(p, 32, "S%d %05d ", sender, seq);

		memset(p + h, sender == 1 ? 'a' : 'b', len - (size_t)h);
		pbt_buf_frame(f, dst, p, len);
	}
	free(p);
}

/* Checks every received message is whole and per-sender order holds. */
static void two_check(const unsigned char *in, size_t len)
{
	int next[3] = {0, 0, 0};
	size_t at = 0, msgs = 0;

	while (at < len) {
		const char *m = (const char *)in + at;
		size_t mlen = strnlen(m, len - at);
		int sender = 0, seq = -1, h = 0;

		pbt_assert(mlen < len - at, "last message unterminated");
		pbt_assert(sscanf(m, "S%d %5d %n", &sender, &seq, &h) == 2 &&
				   h == 9 && (sender == 1 || sender == 2),
			   "message %zu does not start with a sender's "
			   "header: \"%.20s\"",
			   msgs, m);
		pbt_assert(seq == next[sender],
			   "message %zu: sender %d's message %d arrived "
			   "where %d was due",
			   msgs, sender, seq, next[sender]);
		pbt_assert(mlen == two_len(sender, seq),
			   "message %zu (sender %d, %d) is %zu bytes long, "
			   "not %zu: cut or merged",
			   msgs, sender, seq, mlen, two_len(sender, seq));
		for (size_t i = (size_t)h; i < mlen; i++)
			pbt_assert(m[i] == (sender == 1 ? 'a' : 'b'),
				   "message %zu (sender %d, %d) holds a "
				   "foreign byte at %zu",
				   msgs, sender, seq, i);
		next[sender]++;
		msgs++;
		at += mlen + 1;
	}
	pbt_assert(next[1] == TWO_N && next[2] == TWO_N,
		   "received %d and %d messages from the senders, not %d each",
		   next[1], next[2], TWO_N);
}

START_TEST(test_two_senders_never_interleave_inside_a_payload)
{
	struct pbt_daemon *d = pbt_start(NULL);
	struct pbt_buf f1 = {0}, f2 = {0};
	uint32_t idr;
	int r = pbt_connect(d, &idr);
	int s1 = pbt_connect(d, NULL);
	int s2 = pbt_connect(d, NULL);
	struct pbt_stream s[3] = {{.s_fd = s1}, {.s_fd = s2}, {.s_fd = r}};

	two_build(&f1, idr, 1);
	two_build(&f2, idr, 2);
	s[0].s_out = f1.b_data;
	s[0].s_out_len = f1.b_len;
	s[1].s_out = f2.b_data;
	s[1].s_out_len = f2.b_len;
	/* What arrives is the frames less their 4-byte headers. */
	s[2].s_in_len = f1.b_len + f2.b_len - 8 * TWO_N;
	s[2].s_in = malloc(s[2].s_in_len);
	ck_assert_ptr_nonnull(s[2].s_in);
	pbt_pump(s, 3, 20000);
	two_check(s[2].s_in, s[2].s_in_len);
	free(s[2].s_in);
	pbt_buf_free(&f1);
	pbt_buf_free(&f2);
	close(s1);
	close(s2);
	close(r);
	pbt_free(d);
}
END_TEST

static Suite *routing_suite(void)
{
	Suite *s = suite_create("routing");

	pbt_add_test(s, test_reference_exchange, 30);
	pbt_add_test(s, test_frames_sent_one_byte_per_send, 30);
	pbt_add_test(s, test_many_frames_coalesced_in_one_send, 30);
	pbt_add_test(s, test_empty_payload_forwards_single_nul, 30);
	pbt_add_test(s, test_send_to_own_id_is_delivered, 30);
	pbt_add_test(s, test_20000_messages_arrive_in_order, 30);
	pbt_add_test(s, test_frame_of_exactly_max_frame_is_delivered, 30);
	pbt_add_test(s, test_two_senders_never_interleave_inside_a_payload, 30);
	return s;
}

int main(void)
{
	return pbt_run(routing_suite());
}
