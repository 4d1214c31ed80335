#!/usr/bin/env bash
# The benchmark harness in one command (issue 5; results in BENCHMARKS.md).
#
#   scripts/bench.sh            the full harness (about 8 minutes on 2 cores)
#   scripts/bench.sh --quick    reduced counts, for trying changes (about 2 minutes)
#   scripts/bench.sh --only per-run,lateness,burst,indexed,idle,big,flood,history,api,dashboard
#   scripts/bench.sh --out DIR  where the raw figures go (default target/bench)
#
# It builds cronbox in release, checks the tools the measures use (installing
# Debian's `time`, `sqlite3`, `busybox-static`, `strace` when missing), then runs
# benches/harness.rs, which imports the image offline from /bin/busybox, runs
# every measure with its baseline in the same run, prints the table
# (measure | cronbox | baseline | ratio | goal | met?) and writes the raw figures
# to target/bench/results.json and the table to target/bench/results.md.
#
# It needs a running Docker engine (scripts/dev.sh starts one) and never stops
# or restarts it. Every container it starts carries the label cronbox-bench and
# is removed at the end, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
[ -x /usr/bin/time ] || missing+=(time)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
command -v strace >/dev/null 2>&1 || missing+=(strace)
if ! { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }; then missing+=(busybox-static); fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench.sh: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! docker version >/dev/null 2>&1; then
    echo "bench.sh: no Docker engine answers; start one (scripts/dev.sh test starts dockerd)" >&2
    exit 1
fi

cleanup() {
    # Whatever a crashed or interrupted run left behind: every container labelled cronbox-bench.
    local left
    left=$(docker ps -aq --filter label=cronbox-bench 2>/dev/null || true)
    if [ -n "$left" ]; then
        echo "bench.sh: removing $(echo "$left" | wc -l) leftover container(s)" >&2
        echo "$left" | xargs docker rm -f >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

start=$(date +%s)
cargo build --release --bin cronbox
built=$(date +%s)
CRONBOX_BIN="$PWD/target/release/cronbox" cargo bench --bench harness -- "$@"
end=$(date +%s)
echo "bench.sh: build $((built - start)) s, harness (with its own build) $((end - built)) s, total $((end - start)) s"
