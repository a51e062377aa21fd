#!/bin/sh
# npm run test:at -- HH:MM:SS [files...]: the test suite (or the given test files) on a clock that starts at
# that local time today, through libfaketime (Debian: apt-get install faketime). For the bugs that show
# only around midnight or an hour boundary; see CONTRIBUTING.md, Tests.
set -eu
at=${1:?usage: npm run test:at -- HH:MM:SS [test files...]}
shift
lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
[ -n "$lib" ] || { echo "test:at: libfaketime not found: apt-get install faketime" >&2; exit 2; }
target=$(date -d "$(date +%F) $at" +%s) || { echo "test:at: not a time of day: $at" >&2; exit 2; }
offset=$((target - $(date +%s)))
echo "test:at: the clock starts at $(date -d "@$target") (offset ${offset}s; monotonic time is real)"
# Every process started from here shares the offset (an absolute FAKETIME would restart in each one).
export LD_PRELOAD="$lib" FAKETIME="$(printf '%+d' "$offset")s" FAKETIME_DONT_FAKE_MONOTONIC=1
if [ $# -gt 0 ]; then
  exec node --import tsx --test --test-concurrency=4 "$@"
fi
exec npm test
