#!/usr/bin/env bash
# Set up a Debian machine for cronbox and run it. Installs what is missing
# (Debian's docker.io and busybox-static, a C compiler for SQLite, npm; for the
# tests, Debian's prometheus for promtool, chromium, podman and catatonit, python3-aiosmtpd, PyPI's kubernetes-validate in
# target/kubernetes-validate and openapi-spec-validator in
# target/openapi-spec-validator), starts
# dockerd when no engine answers, and then:
#   scripts/dev.sh test     installs the test tools of tools/package-lock.json (the
#                           taplo CLI) into tools/node_modules, then runs the whole
#                           test suite (cargo test)
#   scripts/dev.sh daemon   imports the offline example image and runs the daemon
#                           on config/example.toml in the foreground (Ctrl-C stops it)
#   scripts/dev.sh package [--target TRIPLE]
#                           builds the Debian package target/debian/cronbox_VERSION_ARCH.deb
#                           (installs cargo-deb with cargo if it is missing) and prints its path
# Run it as root, or as a user with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v docker >/dev/null 2>&1 || missing+=(docker.io)
    # The static busybox is what the test and example images are made of.
    if ! { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }; then missing+=(busybox-static); fi
    command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
    command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
    command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
    # npm (and Node.js with it) installs the taplo CLI for tests/schema.rs.
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "dev.sh: installing ${missing[*]}" >&2
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "dev.sh: cargo not found; install Rust with rustup (https://rustup.rs) and run this again" >&2
        exit 1
    fi
}

# The Kubernetes schema validator tests/export.rs runs (PyPI's kubernetes-validate,
# which ships the OpenAPI schemas), in a venv under target/ rather than system-wide.
# If it cannot be installed, say so and go on: those tests then fail saying how to get it.
install_kubernetes_validate() {
    local venv=target/kubernetes-validate
    [ -x "$venv/bin/kubernetes-validate" ] && return 0
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -m venv --help >/dev/null 2>&1; then
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
    fi
    echo "dev.sh: installing kubernetes-validate into $venv" >&2
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q kubernetes-validate; }; then
        echo "dev.sh: could not install kubernetes-validate from PyPI; tests/export.rs will fail" >&2
    fi
}

# promtool (Debian's prometheus package), which tests/http.rs runs on /metrics.
# If it cannot be installed, say so and go on: that test then fails saying how.
install_promtool() {
    command -v promtool >/dev/null 2>&1 && return 0
    echo "dev.sh: installing prometheus (for promtool)" >&2
    if ! { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; then
        echo "dev.sh: could not install prometheus; tests/http.rs will fail" >&2
    fi
}

# Debian's podman, with catatonit (the init Podman runs for Init=true, which its
# package only recommends), for tests/podman.rs. If they cannot be installed,
# say so and go on: those tests then skip, saying why.
install_podman() {
    command -v podman >/dev/null 2>&1 && [ -x /usr/libexec/podman/catatonit ] && return 0
    echo "dev.sh: installing podman and catatonit (for tests/podman.rs)" >&2
    if ! { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman catatonit >/dev/null; }; then
        echo "dev.sh: could not install podman; tests/podman.rs will skip" >&2
    fi
}

# Debian's chromium, the headless browser tests/dashboard.rs drives.
# If it cannot be installed, say so and go on: those tests then fail saying how.
install_chromium() {
    command -v chromium >/dev/null 2>&1 && return 0
    echo "dev.sh: installing chromium (for tests/dashboard.rs)" >&2
    if ! { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }; then
        echo "dev.sh: could not install chromium; tests/dashboard.rs will fail" >&2
    fi
}

# Debian's python3-aiosmtpd, the SMTP server tests/notify_mail.rs runs (with
# Debian's python3, /usr/bin/python3). If it cannot be installed, say so and go on.
install_aiosmtpd() {
    /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 && return 0
    echo "dev.sh: installing python3-aiosmtpd and openssl's command line (for tests/notify_mail.rs)" >&2
    if ! { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-aiosmtpd openssl >/dev/null; }; then
        echo "dev.sh: could not install python3-aiosmtpd or openssl; tests/notify_mail.rs will fail" >&2
    fi
}

# The OpenAPI validator tests/http.rs runs on /api/v1/openapi.json (PyPI's
# openapi-spec-validator), in a venv under target/ as kubernetes-validate is.
install_openapi_validator() {
    local venv=target/openapi-spec-validator
    [ -x "$venv/bin/openapi-spec-validator" ] && return 0
    echo "dev.sh: installing openapi-spec-validator into $venv" >&2
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q openapi-spec-validator; }; then
        echo "dev.sh: could not install openapi-spec-validator from PyPI; tests/http.rs will fail" >&2
    fi
}

engine_answers() {
    as_root docker version >/dev/null 2>&1
}

start_docker() {
    engine_answers && return 0
    echo "dev.sh: no Docker engine answers; starting one" >&2
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        as_root systemctl start docker || true
    fi
    if ! engine_answers; then
        as_root sh -c 'nohup dockerd >/var/log/cronbox-dockerd.log 2>&1 &'
    fi
    for _ in $(seq 1 60); do
        engine_answers && return 0
        sleep 1
    done
    echo "dev.sh: dockerd did not come up within 60 s; see /var/log/cronbox-dockerd.log" >&2
    exit 1
}

# The example image: a static busybox, imported offline (no registry needed).
import_example_image() {
    local image=cronbox/busybox:latest
    as_root docker image inspect "$image" >/dev/null 2>&1 && return 0
    local root
    root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
    done
    tar -C "$root" -c . | as_root docker import - "$image" >/dev/null
    rm -rf "$root"
    echo "dev.sh: imported $image" >&2
}

# The tools the tests use besides cargo's (tools/package.json: the taplo CLI),
# installed locally from the committed lock file; nothing is installed globally.
# If they cannot be installed, say so and go on: tests/schema.rs then fails saying how.
install_test_tools() {
    # lintian checks the Debian package in tests/package.rs.
    if ! command -v lintian >/dev/null 2>&1; then
        as_root apt-get update -qq
        if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lintian >/dev/null; then
            echo "dev.sh: could not install lintian; tests/package.rs will fail" >&2
        fi
    fi
    # A private registry with htpasswd auth for tests/registry.rs: Debian's
    # docker-registry (the CNCF distribution registry, run by the test on a
    # loopback port; its own service is not needed) and htpasswd.
    if ! command -v docker-registry >/dev/null 2>&1 || ! command -v htpasswd >/dev/null 2>&1; then
        as_root apt-get update -qq
        if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry apache2-utils >/dev/null; then
            echo "dev.sh: could not install docker-registry and apache2-utils; tests/registry.rs will fail" >&2
        fi
    fi
    if ! npm ci --prefix tools --no-audit --no-fund --loglevel=error >/dev/null; then
        echo "dev.sh: could not install the taplo CLI from npm; tests/schema.rs will fail" >&2
    fi
}

# Run a command with access to the engine's socket: as is for root or a member
# of the docker group, else after adding the user to the group (sg applies it
# without a new login).
in_docker_group() {
    if [ "$(id -u)" -eq 0 ] || id -nG | tr ' ' '\n' | grep -qx docker; then
        "$@"
    else
        as_root usermod -aG docker "$(id -un)"
        sg docker -c "$(printf '%q ' "$@")"
    fi
}

# The Debian package (Cargo.toml, [package.metadata.deb]): a release build, the
# shell completions and man pages generated by that binary from its clap
# definitions (hidden commands `cronbox completions SHELL` and `cronbox man
# --dir DIR`) into target/assets, then `cargo deb --no-build`. For another
# architecture (--target aarch64-unknown-linux-gnu, armv7-unknown-linux-gnueabihf)
# the assets come from a host debug build, since the target's binary cannot run
# here; they do not depend on the architecture. Prints the .deb's path last.
build_package() {
    local target_args=()
    if [ "${1:-}" = "--target" ] && [ -n "${2:-}" ]; then
        target_args=(--target "$2")
    elif [ -n "${1:-}" ]; then
        echo "usage: scripts/dev.sh package [--target TRIPLE]" >&2
        exit 2
    fi
    if ! command -v cargo-deb >/dev/null 2>&1; then
        echo "dev.sh: installing cargo-deb (cargo install cargo-deb --locked)" >&2
        cargo install cargo-deb --locked
    fi
    local target_dir="${CARGO_TARGET_DIR:-target}"
    cargo build --release --locked "${target_args[@]}"
    local generator="$target_dir/release/cronbox"
    if [ ${#target_args[@]} -gt 0 ]; then
        cargo build --locked
        generator="$target_dir/debug/cronbox"
    fi
    rm -rf target/assets
    mkdir -p target/assets/completions target/assets/man
    "$generator" completions bash >target/assets/completions/cronbox.bash
    "$generator" completions zsh >target/assets/completions/_cronbox
    "$generator" completions fish >target/assets/completions/cronbox.fish
    "$generator" man --dir target/assets/man
    cargo deb --no-build "${target_args[@]}"
}

case "${1:-}" in
    test)
        install_packages
        install_kubernetes_validate
        install_openapi_validator
        install_promtool
        install_chromium
        install_podman
        install_aiosmtpd
        install_test_tools
        start_docker
        # Every test binary runs even after a failure, so one run shows every failing test.
        in_docker_group cargo test --locked --no-fail-fast
        ;;
    daemon)
        install_packages
        start_docker
        import_example_image
        cargo build --release --locked
        in_docker_group ./target/release/cronbox daemon --config config/example.toml
        ;;
    package)
        shift
        build_package "$@"
        ;;
    *)
        echo "usage: scripts/dev.sh test | daemon | package [--target TRIPLE]" >&2
        exit 2
        ;;
esac
