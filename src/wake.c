/*
 * wake.c: wake-up descriptors (see wake.h). Signalling never blocks: a
 * full pipe or a saturated eventfd already means "wake up".
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "wake.h"

#ifdef HAVE_SYS_EVENTFD_H
#include <sys/eventfd.h>

int pb_wake_open(struct pb_wake *w)
{
	w->wk_rfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->wk_wfd = w->wk_rfd;
	return w->wk_rfd < 0 ? -1 : 0;
}
#else
int pb_wake_open(struct pb_wake *w)
{
	int fds[2];

	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	w->wk_rfd = fds[0];
	w->wk_wfd = fds[1];
	return 0;
}
#endif

void pb_wake_close(struct pb_wake *w)
{
	if (w->wk_wfd != w->wk_rfd)
		close(w->wk_wfd);
	close(w->wk_rfd);
}

void pb_wake_signal(struct pb_wake *w)
{
	uint64_t one = 1;
	ssize_t n;

	do
		n = write(w->wk_wfd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

void pb_wake_drain(struct pb_wake *w)
{
	uint64_t buf[8];
	ssize_t n;

	do
		n = read(w->wk_rfd, buf, sizeof(buf));
	while (n > 0 || (n < 0 && errno == EINTR));
}
