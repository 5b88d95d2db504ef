/* SPDX-License-Identifier: ISC */
/*
 * harness.h: shared helpers for the end-to-end tests, every check_*.c
 * that talks to a running server (TEST_E2E in Makefile.am). They start
 * the real patchbayd named by the PATCHBAYD environment variable (or
 * patchbay-reactor put there) on a free port, watch its log, and talk to
 * it over TCP with deadlines, so that a broken daemon fails a test quickly
 * instead of hanging it. Every helper that can fail aborts the current Check
 * test with a message saying what was expected and what happened, followed
 * by the daemon's log. To run one test: CK_RUN_CASE=test_name; to watch the
 * daemon's log as it comes: PBT_ECHO=1.
 */
#ifndef PATCHBAY_TESTS_HARNESS_H
#define PATCHBAY_TESTS_HARNESS_H

#include <check.h>

#include "run.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Deadlines, in milliseconds: generous, they only matter when a test fails. */
#define PBT_START_MS 10000 /* daemon prints "listening on" */
#define PBT_IO_MS    10000 /* one exchange of a few messages */
#define PBT_LOG_MS   10000 /* a log line shows up */
#define PBT_EXIT_MS  10000 /* the daemon exits after a signal */

/* A daemon started by the harness, with its captured stdout and stderr. */
struct pbt_daemon;

/*
 * Starts $PATCHBAYD with "-l 127.0.0.1:0 -v" followed by the given extra
 * arguments (a NULL-terminated list: pbt_start(NULL) for none), waits for its
 * "listening on" line and parses the port from it. Fails the test if PATCHBAYD
 * is unset, the binary is missing, or the daemon exits or stays silent instead
 * of listening.
 */
struct pbt_daemon *pbt_start(const char *arg, ...);

/*
 * Starts $PATCHBAYD with exactly the given arguments (argv[0] excluded,
 * NULL-terminated) and does not wait for anything: for tests of the command
 * line, which expect the daemon to exit on its own.
 */
struct pbt_daemon *pbt_start_argv(const char *const *args);

/* The TCP port the daemon said it listens on (0 for pbt_start_argv). */
int pbt_port(const struct pbt_daemon *d);
pid_t pbt_pid(const struct pbt_daemon *d);

/*
 * Waits until the daemon's stderr has a whole line (newline included)
 * containing `needle`, anywhere since its start, at most timeout_ms.
 * Returns true if it does.
 */
bool pbt_log_wait(struct pbt_daemon *d, const char *needle, int timeout_ms);

/* Like pbt_log_wait, but fails the test with the log tail on timeout. */
void pbt_log_expect(struct pbt_daemon *d, const char *needle, int timeout_ms);

/* Whether the log contains `needle` now. */
bool pbt_log_has(struct pbt_daemon *d, const char *needle);

/*
 * A copy (to free()) of the first log line containing `needle`, without its
 * newline, or NULL if there is none.
 */
char *pbt_log_line(struct pbt_daemon *d, const char *needle);

/* How many times `needle` occurs in the log now. */
size_t pbt_log_count(struct pbt_daemon *d, const char *needle);

/* Waits, at most timeout_ms, until `needle` occurs at least n times in
 * the log; true if it does. */
bool pbt_log_wait_count(struct pbt_daemon *d, const char *needle, size_t n,
			int timeout_ms);

/*
 * Starts $PATCHBAYD as systemd's socket activation would: with fd as
 * descriptor 3, LISTEN_FDNAMES=name and LISTEN_PID its own pid (through
 * sh, whose pid the daemon keeps when sh execs it), and the daemon
 * arguments `args` (words for sh, e.g. "-v"). Waits for nothing.
 */
struct pbt_daemon *pbt_start_activated(int fd, const char *name,
				       const char *args);

/*
 * Copies of the whole log (stderr) or stdout captured so far, to free().
 */
char *pbt_log_copy(struct pbt_daemon *d);
char *pbt_stdout_copy(struct pbt_daemon *d);

/*
 * Waits, at most timeout_ms, for the daemon to exit and for its stderr and
 * stdout to reach end of file. Returns its waitpid status, or -1 on timeout
 * (the daemon is then still running).
 */
int pbt_wait_exit(struct pbt_daemon *d, int timeout_ms);

/*
 * Sends `sig` to the daemon and waits for it to exit, at most timeout_ms.
 * Returns the waitpid status; fails the test on timeout (after killing the
 * daemon).
 */
int pbt_stop(struct pbt_daemon *d, int sig, int timeout_ms);

/* Kills the daemon if it still runs, reaps it and frees everything. */
void pbt_free(struct pbt_daemon *d);

/*
 * Checked teardown for every tcase: kills and frees whatever daemon a test
 * left behind (in CK_NOFORK mode a failed test does not exit).
 */
void pbt_teardown(void);

/* --- clients ------------------------------------------------------------ */

/* Opens a TCP connection to 127.0.0.1:port, with TCP_NODELAY. */
int pbt_connect_port(int port);

/*
 * Connects to the daemon and reads the 4-byte id it writes first. rcvbuf,
 * if not 0, is set as SO_RCVBUF before connecting (to make a client whose
 * window fills quickly).
 */
int pbt_connect(struct pbt_daemon *d, uint32_t *id);
int pbt_connect_rcvbuf(struct pbt_daemon *d, int rcvbuf, uint32_t *id);

/*
 * The local address of a client socket as the daemon logs its peers,
 * "127.0.0.1:51234", in buf.
 */
const char *pbt_local_addr(int fd, char *buf, size_t cap);

/* Closes a client with SO_LINGER {1, 0}, so the daemon sees a reset. */
void pbt_close_reset(int fd);

/* Sends all len bytes within timeout_ms, or fails the test. */
void pbt_send_all(int fd, const void *buf, size_t len, int timeout_ms);

/*
 * Sends as much of buf as the peer accepts within timeout_ms, stopping
 * without failing on EPIPE or ECONNRESET. Returns the bytes sent.
 */
size_t pbt_send_tolerant(int fd, const void *buf, size_t len, int timeout_ms);

/* Receives exactly len bytes within timeout_ms, or fails the test. */
void pbt_recv_exact(int fd, void *buf, size_t len, int timeout_ms);

/*
 * Receives exactly n NUL-terminated messages within timeout_ms and nothing
 * beyond the n-th 0x00 (later bytes stay queued on the socket). Returns a
 * malloc'd buffer holding them, its length in *len.
 */
char *pbt_recv_msgs(int fd, size_t n, size_t *len, int timeout_ms);

/* Receives one message and fails the test unless it equals `payload`. */
void pbt_expect_msg(int fd, const char *payload, int timeout_ms);

/* What the peer did when pbt_recv_end waited for the end of a connection. */
enum pbt_end {
	PBT_END_EOF,   /* orderly close */
	PBT_END_RESET, /* ECONNRESET */
};

/*
 * Waits at most timeout_ms for the peer to end the connection, and fails
 * the test if data arrives first or nothing happens in time.
 */
enum pbt_end pbt_recv_end(int fd, int timeout_ms);

/* --- frames ------------------------------------------------------------- */

/* Writes the 4-byte big-endian `v` at p. */
void pbt_put_u32(unsigned char *p, uint32_t v);
uint32_t pbt_get_u32(const unsigned char *p);

/*
 * Appends one frame (destination, payload, 0x00) to a growing buffer.
 * payload must not contain 0x00.
 */
struct pbt_buf {
	unsigned char *b_data;
	size_t b_len;
	size_t b_cap;
};
void pbt_buf_add(struct pbt_buf *b, const void *data, size_t len);
void pbt_buf_frame(struct pbt_buf *b, uint32_t dst, const void *payload,
		   size_t len);
void pbt_buf_free(struct pbt_buf *b);

/* Sends one frame with a string payload. */
void pbt_send_frame(int fd, uint32_t dst, const char *payload, int timeout_ms);

/* Fills buf with pseudo-random non-zero bytes from *state (xorshift). */
void pbt_fill_nonzero(unsigned char *buf, size_t len, uint64_t *state);
uint64_t pbt_rand(uint64_t *state);

/* --- many connections at once ------------------------------------------ */

/*
 * One connection driven by pbt_pump: bytes to send, and a buffer for the
 * exact number of bytes it expects to receive.
 */
struct pbt_stream {
	int s_fd;
	const unsigned char *s_out; /* to send, may be NULL if s_out_len 0 */
	size_t s_out_len;
	size_t s_out_done;
	unsigned char *s_in; /* to receive into, s_in_len bytes */
	size_t s_in_len;
	size_t s_in_done;
	bool s_send_errors_ok; /* stop sending quietly on EPIPE/ECONNRESET */
	bool s_send_failed;
};

/*
 * Sends every stream's s_out and receives every stream's s_in_len bytes,
 * all at once with poll() from the calling thread, within timeout_ms.
 * Never reads beyond s_in_len. Fails the test, with each stream's
 * progress, on a timeout, an error or an early end of a connection.
 */
void pbt_pump(struct pbt_stream *s, size_t n, int timeout_ms);

/* --- suites -------------------------------------------------------------- */

/*
 * Adds test t to s in a tcase of its own, named like the test (so that
 * CK_RUN_CASE=test_name runs just that one), with pbt_teardown as its
 * checked teardown and a timeout of `seconds` (Check's default, 4 s, is
 * too short for a daemon under load).
 */
void pbt_add_test(Suite *s, const TTest *t, double seconds);

/* --- misc --------------------------------------------------------------- */

/* Monotonic clock, milliseconds. */
int64_t pbt_now_ms(void);

/* Raises RLIMIT_NOFILE to at least n, or fails the test. */
void pbt_need_fds(size_t n);

/* --- the stats line ------------------------------------------------------ */

/* The value of counter `name` on a "stats: " line; fails if absent. */
unsigned long long pbt_stat(const char *line, const char *name);

/* The sum of the counters on the line whose names start with prefix. */
unsigned long long pbt_stat_sum(const char *line, const char *prefix);

/*
 * Stops the daemon with SIGTERM, expects exit status 0 and returns its
 * stats line (to free), after checking that it reconciles: accepted is the
 * sum of the disconnect_* counters, received is forwarded plus the sum of
 * the dropped_* counters.
 */
char *pbt_stop_reconciled(struct pbt_daemon *d);

/*
 * Fails the current test with a formatted message, after printing the log
 * of every daemon still tracked (Check ends a failed test with _exit(), so
 * nothing can print them later). pbt_fail_at names the caller's place.
 */
void pbt_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void pbt_fail_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

/* ck_assert_msg, with the daemons' logs printed on failure. */
#define pbt_assert(expr, ...)                                                  \
	do {                                                                   \
		if (!(expr))                                                   \
			pbt_fail_at(__FILE__, __LINE__, __VA_ARGS__);          \
	} while (0)

/* Fails, showing both sides, unless got[0 .. len) equals want. */
#define pbt_assert_mem_eq(got, want, len)                                      \
	pbt_assert_mem_eq_at(__FILE__, __LINE__, #got, (got), (want), (len))
void pbt_assert_mem_eq_at(const char *file, int line, const char *what,
			  const void *got, const void *want, size_t len);

#endif /* PATCHBAY_TESTS_HARNESS_H */
