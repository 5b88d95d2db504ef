/* SPDX-License-Identifier: ISC */
/*
 * check_load.c: end-to-end tests under load, all driven with poll() from
 * the test's one thread: a thousand clients at once, isolation of a healthy
 * pair from a client that never reads, and bulk transfers in both
 * directions and around a ring that must not deadlock. They check
 * correctness (every byte, in order), with deadlines generous enough that
 * speed is not what they measure.
 */
#include "config.h"

#include "harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { BULK_PAYLOAD = 60000 }; /* under the default --max-frame, 64K */

/*
 * Appends frames to dst carrying `total` pseudo-random non-zero payload
 * bytes (plus each frame's 0x00) to out, and what the receiver must see to
 * want (if not NULL).
 */
static void bulk_frames(struct pbt_buf *out, struct pbt_buf *want, uint32_t dst,
			size_t total, uint64_t seed)
{
	unsigned char *p = malloc(BULK_PAYLOAD);

	ck_assert_ptr_nonnull(p);
	while (total > 0) {
		size_t n = total < BULK_PAYLOAD ? total : BULK_PAYLOAD;

		pbt_fill_nonzero(p, n, &seed);
		pbt_buf_frame(out, dst, p, n);
		if (want != NULL) {
			pbt_buf_add(want, p, n);
			pbt_buf_add(want, "", 1);
		}
		total -= n;
	}
	free(p);
}

/*
 * Checks that `in` is exactly the payloads (with their 0x00) of the frames
 * in `out`, which all go to one destination: compared frame by frame
 * rather than against a second copy, to keep memory down.
 */
static void check_payloads(const struct pbt_buf *out, const unsigned char *in,
			   size_t in_len, const char *who)
{
	size_t o = 0, i = 0, frame = 0;

	while (o < out->b_len) {
		const unsigned char *p = out->b_data + o + 4;
		size_t n = strlen((const char *)p) + 1;

		pbt_assert(i + n <= in_len && memcmp(in + i, p, n) == 0,
			   "%s: frame %zu (at received byte %zu) did not "
			   "arrive intact",
			   who, frame, i);
		o += 4 + n;
		i += n;
		frame++;
	}
	pbt_assert(i == in_len, "%s: received %zu bytes, expected %zu", who,
		   in_len, i);
}

START_TEST(test_1000_clients_each_receive_one_message)
{
	enum { N = 1000, BATCH = 50 };
	struct pbt_daemon *d;
	struct pbt_stream *s = calloc(N, sizeof *s);
	struct pbt_buf *f = calloc(N, sizeof *f);
	unsigned char(*idb)[4] = calloc(N, sizeof *idb);
	uint32_t *id = calloc(N, sizeof *id);
	char(*got)[64] = calloc(N, sizeof *got);
	char(*want)[64] = calloc(N, sizeof *want);
	bool *seen = calloc(N, sizeof *seen);

	ck_assert(s && f && idb && id && got && want && seen);
	pbt_need_fds(N + 64);
	d = pbt_start(NULL);

	/*
	 * Connect in batches, reading each batch's ids together, so that
	 * the daemon's accept queue never overflows.
	 */
	for (size_t b = 0; b < N; b += BATCH) {
		for (size_t i = b; i < b + BATCH; i++) {
			s[i] = (struct pbt_stream){
				.s_fd = pbt_connect_port(pbt_port(d)),
				.s_in = idb[i],
				.s_in_len = 4,
			};
		}
		pbt_pump(s + b, BATCH, 20000);
	}
	for (size_t i = 0; i < N; i++) {
		id[i] = pbt_get_u32(idb[i]);
		pbt_assert(id[i] < N, "client %zu got id %u", i, id[i]);
		pbt_assert(!seen[id[i]], "id %u handed out twice", id[i]);
		seen[id[i]] = true;
	}

	/* Client i writes to client i+1, so each receives one message. */
	for (size_t i = 0; i < N; i++) {
		size_t to = (i + 1) % N;
		int n = snprintf(want[to], sizeof want[to],
				 "from %u to %u, message %zu", id[i], id[to],
				 i);

		pbt_buf_frame(&f[i], id[to], want[to], (size_t)n);
		s[i].s_out = f[i].b_data;
		s[i].s_out_len = f[i].b_len;
	}
	for (size_t i = 0; i < N; i++) {
		s[i].s_in = (unsigned char *)got[i];
		s[i].s_in_len = strlen(want[i]) + 1;
		s[i].s_in_done = 0;
	}
	pbt_pump(s, N, 30000);
	for (size_t i = 0; i < N; i++) {
		pbt_assert(memcmp(got[i], want[i], s[i].s_in_len) == 0,
			   "client %zu (id %u) received \"%.*s\", not "
			   "\"%s\"",
			   i, id[i], (int)s[i].s_in_len, got[i], want[i]);
		close(s[i].s_fd);
		pbt_buf_free(&f[i]);
	}
	pbt_free(d);
	free(s);
	free(f);
	free(idb);
	free(id);
	free(got);
	free(want);
	free(seen);
}
END_TEST

START_TEST(test_non_reading_client_does_not_stop_a_healthy_pair)
{
	/*
	 * a sends c (which never reads) 6.4 MB, far more than the kernel
	 * buffers and c's outbox (-o 64K) hold, interleaved with numbered
	 * messages to b: the rest waits in a's waiting room (-p 16M, room
	 * enough that a never stops reading). b must get every one of its
	 * messages, in order, while c is still connected: -t 30 is longer
	 * than the pump may take, so a pair that had to wait for c to be
	 * cut as a slow consumer fails here.
	 */
	enum { ROUNDS = 200, TO_C = 32000 };
	struct pbt_daemon *d =
		pbt_start("-o", "64K", "-p", "16M", "-t", "30", (char *)NULL);
	unsigned char *payload = malloc(TO_C);
	struct pbt_buf fa = {0}, wb = {0};
	uint64_t seed = 5;
	uint32_t ida, idb, idc;
	int a = pbt_connect(d, &ida);
	int b = pbt_connect(d, &idb);
	int c = pbt_connect_rcvbuf(d, 4096, &idc);
	struct pbt_stream s[2] = {{.s_fd = a}, {.s_fd = b}};

	ck_assert_ptr_nonnull(payload);
	for (int i = 0; i < ROUNDS; i++) {
		char m[64];
		int n = snprintf(m, sizeof m, "a to b, number %d", i);

		pbt_fill_nonzero(payload, TO_C, &seed);
		pbt_buf_frame(&fa, idc, payload, TO_C);
		pbt_buf_frame(&fa, idb, m, (size_t)n);
		pbt_buf_add(&wb, m, (size_t)n + 1);
	}
	s[0].s_out = fa.b_data;
	s[0].s_out_len = fa.b_len;
	s[1].s_in = malloc(wb.b_len);
	s[1].s_in_len = wb.b_len;
	ck_assert_ptr_nonnull(s[1].s_in);
	pbt_pump(s, 2, 20000);
	pbt_assert(memcmp(s[1].s_in, wb.b_data, wb.b_len) == 0,
		   "b did not receive a's messages intact and in order");
	pbt_assert(!pbt_log_has(d, "slow consumer"),
		   "b's messages arrived only once c was cut as a slow "
		   "consumer: the pair was not isolated from c");

	/* The pair still works both ways. */
	pbt_send_frame(b, ida, "b to a, after it all", PBT_IO_MS);
	pbt_expect_msg(a, "b to a, after it all", PBT_IO_MS);
	free(s[1].s_in);
	free(payload);
	pbt_buf_free(&fa);
	pbt_buf_free(&wb);
	close(a);
	close(b);
	close(c);
	pbt_free(d);
}
END_TEST

START_TEST(test_two_clients_send_20mb_each_way_without_deadlock)
{
	enum { TOTAL = 20 * 1024 * 1024 };
	struct pbt_daemon *d = pbt_start(NULL);
	struct pbt_buf fa = {0}, fb = {0};
	uint32_t ida, idb;
	int a = pbt_connect(d, &ida);
	int b = pbt_connect(d, &idb);
	struct pbt_stream s[2] = {{.s_fd = a}, {.s_fd = b}};

	bulk_frames(&fa, NULL, idb, TOTAL, 1);
	bulk_frames(&fb, NULL, ida, TOTAL, 2);
	s[0].s_out = fa.b_data;
	s[0].s_out_len = fa.b_len;
	s[1].s_out = fb.b_data;
	s[1].s_out_len = fb.b_len;
	/* Each receives the other's frames less their 4-byte headers. */
	s[0].s_in_len =
		fb.b_len - 4 * ((TOTAL + BULK_PAYLOAD - 1) / BULK_PAYLOAD);
	s[1].s_in_len =
		fa.b_len - 4 * ((TOTAL + BULK_PAYLOAD - 1) / BULK_PAYLOAD);
	s[0].s_in = malloc(s[0].s_in_len);
	s[1].s_in = malloc(s[1].s_in_len);
	ck_assert(s[0].s_in && s[1].s_in);
	pbt_pump(s, 2, 60000);
	check_payloads(&fb, s[0].s_in, s[0].s_in_len, "a");
	check_payloads(&fa, s[1].s_in, s[1].s_in_len, "b");
	free(s[0].s_in);
	free(s[1].s_in);
	pbt_buf_free(&fa);
	pbt_buf_free(&fb);
	close(a);
	close(b);
	pbt_free(d);
}
END_TEST

START_TEST(test_ring_of_8_clients_sending_4mb_without_deadlock)
{
	enum { N = 8, TOTAL = 4 * 1024 * 1024 };
	struct pbt_daemon *d = pbt_start(NULL);
	struct pbt_buf f[N] = {{0}};
	struct pbt_stream s[N] = {{0}};
	uint32_t id[N];
	size_t frames = (TOTAL + BULK_PAYLOAD - 1) / BULK_PAYLOAD;

	for (int i = 0; i < N; i++)
		s[i].s_fd = pbt_connect(d, &id[i]);
	for (int i = 0; i < N; i++) {
		bulk_frames(&f[i], NULL, id[(i + 1) % N], TOTAL,
			    (uint64_t)i + 10);
		s[i].s_out = f[i].b_data;
		s[i].s_out_len = f[i].b_len;
	}
	for (int i = 0; i < N; i++) {
		s[i].s_in_len = f[(i + N - 1) % N].b_len - 4 * frames;
		s[i].s_in = malloc(s[i].s_in_len);
		ck_assert_ptr_nonnull(s[i].s_in);
	}
	pbt_pump(s, N, 60000);
	for (int i = 0; i < N; i++) {
		char who[32];

		snprintf(who, sizeof who, "client %u", id[i]);
		check_payloads(&f[(i + N - 1) % N], s[i].s_in, s[i].s_in_len,
			       who);
	}
	for (int i = 0; i < N; i++) {
		free(s[i].s_in);
		pbt_buf_free(&f[i]);
		close(s[i].s_fd);
	}
	pbt_free(d);
}
END_TEST

static Suite *load_suite(void)
{
	Suite *s = suite_create("load");

	pbt_add_test(s, test_1000_clients_each_receive_one_message, 60);
	pbt_add_test(s, test_non_reading_client_does_not_stop_a_healthy_pair,
		     60);
	pbt_add_test(s, test_two_clients_send_20mb_each_way_without_deadlock,
		     60);
	pbt_add_test(s, test_ring_of_8_clients_sending_4mb_without_deadlock,
		     60);
	return s;
}

int main(void)
{
	return pbt_run(load_suite());
}
