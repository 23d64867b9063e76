#!/usr/bin/env bash
# ci/bench.sh - builds cowtree-bench in the release preset and runs it
# against every peer engine available, writing the table and the CSV under
# build/bench-results/. NOT part of ci/test.sh (a full run takes minutes):
# the numbers are reported, never asserted.
#
#   ci/bench.sh --quick          smoke run (--num 100000, < 2 minutes)
#   ci/bench.sh                  full run (--num 1000000)
#   ci/bench.sh [--quick] ARGS   extra cowtree-bench options (--engines, ...)
#
# Peer engines are Debian packages; missing ones are installed when we are
# root with apt-get, and skipped (with a message) when that fails.
set -uo pipefail
cd "$(dirname "$0")/.."

have_peer() { # pkg-config module, header
    pkg-config --exists "$1" 2>/dev/null || [ -e "/usr/include/$2" ]
}

install_peer() { # package
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$1" >/dev/null ||
        { apt-get update >/dev/null && \
          DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$1" >/dev/null; }
}

for peer in "lmdb lmdb.h liblmdb-dev" "sqlite3 sqlite3.h libsqlite3-dev" \
            "rocksdb rocksdb/c.h librocksdb-dev" "leveldb leveldb/c.h libleveldb-dev"; do
    read -r module header package <<<"$peer"
    if ! have_peer "$module" "$header"; then
        echo "==> $package missing: installing"
        install_peer "$package" || echo "==> could not install $package: the $module adapter is skipped"
    fi
done

echo "==> build (release preset, target cowtree-bench)"
cmake --preset release >/dev/null || exit 1
cmake --build --preset release -j2 --target cowtree-bench || exit 1

out=build/bench-results
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
csv="$out/bench-$stamp.csv"
txt="$out/bench-$stamp.txt"
{
    echo "# $(date -u) $(uname -srm), $(nproc) cores"
    echo "# load before: $(uptime)"
    echo "# command: build/release/bench/cowtree-bench $* --csv $csv"
} >"$txt"
echo "==> build/release/bench/cowtree-bench $* --csv $csv"
build/release/bench/cowtree-bench "$@" --csv "$csv" | tee -a "$txt"
rc=${PIPESTATUS[0]}
echo "# load after: $(uptime)" | tee -a "$txt"
[ -e "$csv" ] && cp "$csv" "$out/latest.csv"
cp "$txt" "$out/latest.txt"
echo "==> results: $csv, $txt (also latest.csv, latest.txt)"
exit "$rc"
