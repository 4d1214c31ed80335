#!/usr/bin/env bash
# The benchmark harness in one command (issue 5; results in BENCHMARKS.md).
#
#   scripts/bench.sh            the full harness (about 8 minutes on 2 cores)
#   scripts/bench.sh --quick    reduced counts, for trying changes (about 2 minutes)
#   scripts/bench.sh --only per-run,lateness,burst,indexed,idle,big,flood,history,api,dashboard,notify
#   scripts/bench.sh --out DIR  where the raw figures go (default target/bench)
#   scripts/bench.sh --budget pi   the daemon-side measures twice: unconfined, then
#                               with cronbox confined to a Raspberry Pi's budget
#                               (a quarter of a core, 256 MiB, its database on a
#                               loop device throttled to 10 MB/s and 300 write IOPS);
#                               needs root (cgroups, losetup, mount)
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
    cleanup_budget
}

# What a killed `--budget pi` run left (the harness removes it itself on success,
# failure and Ctrl-C): its cgroups, mounts, throttle rules and loop devices, all
# named cronbox-bench-pi-*.
cleanup_budget() {
    local dir mnt dev img majmin rule
    while read -r dir; do
        [ -n "$dir" ] || continue
        while read -r pid; do [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; done <"$dir/cgroup.procs" || true
        sleep 0.2
        rmdir "$dir" 2>/dev/null && echo "bench.sh: removed the leftover cgroup $dir" >&2
    done < <(find /sys/fs/cgroup -mindepth 1 -maxdepth 6 -type d -name 'cronbox-bench-pi-*' 2>/dev/null)
    while read -r mnt; do
        [ -n "$mnt" ] || continue
        umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
        rmdir "$mnt" 2>/dev/null || true
        echo "bench.sh: unmounted the leftover $mnt" >&2
    done < <(awk '$2 ~ /cronbox-bench-pi-/ {print $2}' /proc/self/mounts 2>/dev/null)
    while IFS=: read -r dev img; do
        [ -n "$dev" ] || continue
        majmin=$(cat "/sys/block/${dev#/dev/}/dev" 2>/dev/null || true)
        if [ -n "$majmin" ]; then
            for rule in /sys/fs/cgroup/blkio/blkio.throttle.write_bps_device /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device; do
                [ -w "$rule" ] && echo "$majmin 0" >"$rule" 2>/dev/null || true
            done
        fi
        losetup -d "$dev" 2>/dev/null && echo "bench.sh: detached the leftover $dev" >&2
        img=${img% (deleted)}
        rm -f "$img" 2>/dev/null || true
    done < <(losetup -a 2>/dev/null | grep 'cronbox-bench-pi-' | sed -E 's/^([^:]+):.*\((.*)\)$/\1:\2/')
}
trap cleanup EXIT

start=$(date +%s)
cargo build --release --bin cronbox
built=$(date +%s)
CRONBOX_BIN="$PWD/target/release/cronbox" cargo bench --bench harness -- "$@"
end=$(date +%s)
echo "bench.sh: build $((built - start)) s, harness (with its own build) $((end - built)) s, total $((end - start)) s"
