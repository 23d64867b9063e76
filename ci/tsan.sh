#!/usr/bin/env bash
# ci/tsan.sh - every unit test under ThreadSanitizer (the `tsan` preset,
# clang-14): readers beside a writer, group commit, the shared page cache,
# mapped reads while the file grows, the retain allocator. Run from anywhere;
# called by ci/test.sh. About 3 minutes on 2 cores (build and tests).
#
# TSan needs the low part of the address space it shadows: kernels that
# randomize mmap with more bits than it expects make it stop with
# "unexpected memory mapping" before any test runs. Then the tests run
# again with address randomization off for them (setarch -R), which changes
# nothing a test checks.
set -uo pipefail
cd "$(dirname "$0")/.."

cmake --preset tsan >/dev/null || exit 1
cmake --build --preset tsan -j2 || exit 1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
ctest --preset tsan 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ] && grep -q "unexpected memory mapping" "$log"; then
    echo "==> tsan: the kernel's mmap layout does not suit TSan: again with setarch -R"
    setarch "$(uname -m)" -R ctest --preset tsan
    rc=$?
fi
exit "$rc"
