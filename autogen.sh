#!/bin/sh
# SPDX-License-Identifier: ISC
# autogen.sh: generate ./configure in a git checkout (release tarballs ship it).
set -e
cd "$(dirname "$0")"
exec autoreconf --force --install --verbose
