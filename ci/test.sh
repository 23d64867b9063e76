#!/usr/bin/env bash
# ci/test.sh - THE test command (README, .ci/run): every test cowtree has.
#   1. ci/deps.sh (installs what is missing);
#   2. for the debug and asan presets: configure, build (-j2), ctest;
#   3. ci/tsan.sh (the unit tests under ThreadSanitizer), ci/sim.sh,
#      ci/fuzz.sh and ci/proptest.sh when they exist and are executable.
# Runs every step even after a failure, so one run shows every problem, then
# exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

failures=()
step() {
    echo "==> $*"
    if ! "$@"; then
        failures+=("$*")
        return 1
    fi
}

step bash ci/deps.sh || exit 1

for preset in debug asan; do
    step cmake --preset "$preset" &&
        step cmake --build --preset "$preset" -j2 &&
        step ctest --preset "$preset" --output-on-failure
done

for hook in ci/tsan.sh ci/sim.sh ci/fuzz.sh ci/proptest.sh; do
    if [ -x "$hook" ]; then
        step "./$hook"
    elif [ -e "$hook" ]; then
        echo "==> $hook: present but not executable: SKIPPED (chmod +x to enable)"
    else
        echo "==> $hook: not present, skipped"
    fi
done

if [ ${#failures[@]} -ne 0 ]; then
    echo "ci/test.sh: FAILED steps:"
    printf '  %s\n' "${failures[@]}"
    exit 1
fi
echo "ci/test.sh: all passed"
