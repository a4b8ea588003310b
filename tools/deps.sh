#!/bin/sh
# Installs the Debian packages cdp builds, tests and runs with; does nothing when all are there.
# Non-interactive, idempotent: `make run` and `make test` call it first.
set -eu

PACKAGES="build-essential cmake pkg-config \
  librocksdb-dev libsodium-dev libavro-dev libmicrohttpd-dev libjansson-dev \
  libcriterion-dev zlib1g-dev liblzma-dev libsnappy-dev iso-codes \
  libicu-dev libphonenumber-dev g++ wrk"
# The web console end-to-end test (tests/console_e2e_test.sh) drives Debian's Chromium.
PACKAGES="$PACKAGES chromium"
# The shell tests drive the server with curl and read JSON with jq and python3.
PACKAGES="$PACKAGES curl jq python3"
# Node.js drives the real clients (SDKs, avsc, @iabtcf/core, Playwright); a machine that already
# has node (from NodeSource, say) keeps it, else Debian's nodejs and npm.
command -v node >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"
# Fuzzing and memory checking (make fuzz, make memcheck): clang with libFuzzer, valgrind.
PACKAGES="$PACKAGES clang libclang-rt-14-dev valgrind"
PACKAGES="$PACKAGES gnuplot-nox" # the plots of docs/BENCHMARKS.md (make bench)

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages:$missing (run as root, or install them)" >&2
    exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
