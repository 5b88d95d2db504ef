#!/bin/sh
# SPDX-License-Identifier: ISC
# reactor_routing.sh: the routing end-to-end tests (check_routing) against
# patchbay-reactor instead of patchbayd. The two servers share the protocol
# core and must behave alike for clients; only their I/O differs.
: "${abs_top_builddir:?run me through make check}"
: "${PATCHBAY_REACTOR:?run me through make check}"
PATCHBAYD=$PATCHBAY_REACTOR exec "$abs_top_builddir/tests/check_routing"
