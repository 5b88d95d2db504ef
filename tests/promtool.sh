#!/bin/bash
# SPDX-License-Identifier: ISC
# promtool.sh: what patchbayd serves at /metrics, after real traffic,
# passes Prometheus' own linter (`promtool check metrics`) without a single
# complaint. Skipped (77) where promtool is not installed (Debian: apt-get
# install prometheus) or patchbayd was built without metrics.
set -u
if ! command -v promtool >/dev/null; then
	echo "SKIP: promtool is not installed"
	exit 77
fi
top=${abs_top_builddir:?run me through make check}
daemon=${PATCHBAYD:?run me through make check}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

# Starts the daemon and reads, from its log, the ports it listens on.
mkfifo "$tmp/fifo"
"$daemon" -l 127.0.0.1:0 --metrics 127.0.0.1:0 2>"$tmp/fifo" &
pid=$!
exec 3<"$tmp/fifo"
port="" mport=""
while [ -z "$mport" ] && IFS= read -r -t 10 line <&3; do
	echo "$line" >>"$tmp/log"
	[ -z "$port" ] &&
		port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' <<<"$line")
	mport=$(sed -n 's|^metrics on http://127\.0\.0\.1:\([0-9]*\)/metrics$|\1|p' <<<"$line")
done
cat <&3 >>"$tmp/log" &
exec 3<&-
if [ -z "$mport" ]; then
	wait "$pid"
	st=$?
	pid=
	if [ $st -eq 2 ] && grep -q "built without metrics" "$tmp/log"; then
		echo "SKIP: patchbayd was built without metrics"
		exit 77
	fi
	echo "FAIL: patchbayd (status $st) did not say where its metrics are:"
	cat "$tmp/log"
	exit 1
fi

status=0
fail() {
	echo "FAIL: $*"
	status=1
}

# Traffic, so that the counters and gauges are not all 0.
"$top/bench/patchbay-bench" --addr "127.0.0.1:$port" --scenario pairs \
	--smoke >/dev/null || fail "patchbay-bench --scenario pairs --smoke"

# A scrape with bash alone: curl may be absent.
exec 4<>"/dev/tcp/127.0.0.1/$mport"
printf 'GET /metrics HTTP/1.0\r\n\r\n' >&4
timeout 10 cat <&4 >"$tmp/reply"
exec 4<&-
head -n 1 "$tmp/reply" | grep -q '^HTTP/1\.[01] 200 ' ||
	fail "GET /metrics: $(head -n 1 "$tmp/reply")"
grep -qix 'content-type: text/plain; version=0\.0\.4; charset=utf-8'$'\r' \
	"$tmp/reply" || fail "no Content-Type of the text format 0.0.4"
sed '1,/^\r$/d' "$tmp/reply" >"$tmp/metrics"
grep -q '^patchbay_frames_forwarded_total [1-9]' "$tmp/metrics" ||
	fail "no traffic in the metrics"

out=$(promtool check metrics <"$tmp/metrics" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	fail "promtool check metrics (status $rc):"
	echo "$out"
else
	echo "ok: promtool check metrics: $(grep -c '^# TYPE' "$tmp/metrics") families, nothing to say"
fi

kill -TERM "$pid"
wait "$pid"
st=$?
pid=
[ $st -eq 0 ] || fail "patchbayd exit status $st"
[ $status -eq 0 ] || cat "$tmp/log"
exit $status
