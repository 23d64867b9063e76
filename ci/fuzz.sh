#!/usr/bin/env bash
# ci/fuzz.sh - fuzzing in CI (docs/fuzzing.md). Run from anywhere.
#   1. Always: builds the replay drivers (default compiler, ASan+UBSan) and
#      replays every corpus (fuzz/corpus/<target>/); any failure fails.
#   2. When clang-14 is present: builds the libFuzzer targets and runs each
#      for FUZZ_SECONDS (default 60), FUZZ_JOBS at a time (default 2), from
#      its corpus into a scratch dir (the checked-in corpus is never
#      written). A crash, leak, timeout or OOM fails; the reproducer stays
#      in $FUZZ_SCRATCH/<target>/artifacts/ and is printed (base64) below.
#      The seed is fixed (FUZZ_SEED, default 1), so a run explores the same
#      inputs each time, up to where its time ends: a submission's CI run
#      repeats what was run before it, and a failure replays exactly.
#      Campaigns that search for new bugs set FUZZ_SEED=0 (random seeds)
#      and a long FUZZ_SECONDS (docs/fuzzing.md).
# Total with defaults on 2 cores: see docs/fuzzing.md (under 6 minutes).
# Env: FUZZ_SECONDS, FUZZ_JOBS, FUZZ_SEED, FUZZ_SCRATCH (default build/fuzz-scratch),
#      FUZZ_TARGETS (default "ops open crash page").
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
# fuzz_ops runs about 16 inputs a second and its corpus holds over 1,200:
# loading it takes most of a minute, so it gets three times as long;
# fuzz_crash (about 20 a second, 574 inputs) twice as long.
FUZZ_OPS_SECONDS=${FUZZ_OPS_SECONDS:-$((FUZZ_SECONDS * 3))}
FUZZ_CRASH_SECONDS=${FUZZ_CRASH_SECONDS:-$((FUZZ_SECONDS * 2))}
FUZZ_JOBS=${FUZZ_JOBS:-2}
FUZZ_SEED=${FUZZ_SEED:-1}
FUZZ_SCRATCH=${FUZZ_SCRATCH:-build/fuzz-scratch}
read -r -a targets <<<"${FUZZ_TARGETS:-ops open crash page}"
replay_build=build/fuzz-replay
fuzz_build=build/fuzz
failures=()
start_s=$SECONDS

max_len() {
    case "$1" in
    open) echo 16384 ;;
    page) echo 8192 ;;
    crash) echo 1024 ;;
    *) echo 4096 ;;
    esac
}

echo "==> fuzz: replay of every corpus (default compiler, address,undefined)"
if cmake -S . -B "$replay_build" -DCMAKE_BUILD_TYPE=Debug -DCOWTREE_SANITIZE=address,undefined \
        -DCOWTREE_TESTS=OFF -DCOWTREE_BENCH=OFF -DCOWTREE_FUZZ=OFF >/dev/null &&
    cmake --build "$replay_build" -j2 --target "${targets[@]/#/fuzz_replay_}" >/dev/null; then
    for t in "${targets[@]}"; do
        if ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 FUZZ_REPLAY_QUIET=1 \
            "$replay_build/fuzz/fuzz_replay_$t" "fuzz/corpus/$t"; then
            echo "    replay $t: ok"
        else
            # Rerun verbosely so the log names the failing input.
            "$replay_build/fuzz/fuzz_replay_$t" "fuzz/corpus/$t" 2>&1 | tail -40
            failures+=("replay $t")
        fi
    done
else
    failures+=("replay build")
fi

if ! command -v clang-14 >/dev/null 2>&1; then
    # ci/deps.sh installs clang-14: in CI a missing one is a failure, never
    # a pass with the fuzzers skipped. FUZZ_ALLOW_NO_CLANG=1 for a machine
    # that cannot have it (replay only).
    echo "==> fuzz: clang-14 not found: libFuzzer runs SKIPPED (replay only)"
    if [ "${FUZZ_ALLOW_NO_CLANG:-0}" != 1 ]; then
        failures+=("clang-14 missing (libFuzzer not run)")
    fi
else
    echo "==> fuzz: libFuzzer runs, ${FUZZ_SECONDS}s per target (ops ${FUZZ_OPS_SECONDS}s, crash ${FUZZ_CRASH_SECONDS}s), $FUZZ_JOBS at a time, seed $FUZZ_SEED"
    if cmake -S . -B "$fuzz_build" -DCMAKE_C_COMPILER=clang-14 -DCMAKE_BUILD_TYPE=Debug \
            -DCOWTREE_FUZZ=ON -DCOWTREE_TESTS=OFF -DCOWTREE_BENCH=OFF >/dev/null &&
        cmake --build "$fuzz_build" -j2 --target "${targets[@]/#/fuzz_}" >/dev/null; then
        run_one() {
            local t=$1 dir="$FUZZ_SCRATCH/$1" dict=() secs=$FUZZ_SECONDS
            [ "$t" = ops ] && secs=$FUZZ_OPS_SECONDS
            [ "$t" = crash ] && secs=$FUZZ_CRASH_SECONDS
            rm -rf "$dir"
            mkdir -p "$dir/new" "$dir/artifacts"
            [ -f "fuzz/dict/$t.dict" ] && dict=("-dict=fuzz/dict/$t.dict")
            "$fuzz_build/fuzz/fuzz_$t" -seed="$FUZZ_SEED" -max_total_time="$secs" -timeout=10 \
                -rss_limit_mb=2048 -max_len="$(max_len "$t")" -print_final_stats=1 \
                "${dict[@]}" -artifact_prefix="$dir/artifacts/" "$dir/new" "fuzz/corpus/$t" \
                >"$dir/log" 2>&1
            echo $? >"$dir/rc"
        }
        running=0
        for t in "${targets[@]}"; do
            run_one "$t" &
            running=$((running + 1))
            if [ "$running" -ge "$FUZZ_JOBS" ]; then
                wait -n
                running=$((running - 1))
            fi
        done
        wait
        for t in "${targets[@]}"; do
            dir="$FUZZ_SCRATCH/$t"
            rc=$(cat "$dir/rc" 2>/dev/null || echo 99)
            stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$dir/log" | tail -1)
            eps=$(grep -E '^stat::average_exec_per_sec' "$dir/log" | awk '{print $2}')
            echo "    fuzz_$t: rc $rc, ${eps:-?} exec/s, $stats"
            # A run whose time went to loading the corpus explored nothing:
            # its last run number is the one the load ended at.
            inited=$(grep -E '^#[0-9]+[[:space:]]+INITED' "$dir/log" | tail -1 | sed 's/^#\([0-9]*\).*/\1/')
            done_at=$(printf '%s\n' "$stats" | sed -n 's/^#\([0-9]*\).*/\1/p')
            if [ "$rc" = 0 ] && { [ -z "$inited" ] || [ -z "$done_at" ] || [ "$done_at" -le "$inited" ]; }; then
                echo "---- fuzz_$t explored nothing past its corpus (INITED #${inited:-?}, DONE #${done_at:-?}): give it more time"
                failures+=("fuzz_$t (nothing explored)")
            fi
            if [ "$rc" != 0 ] || [ -n "$(ls -A "$dir/artifacts")" ]; then
                failures+=("fuzz_$t")
                echo "---- fuzz_$t FAILED: last lines of $dir/log"
                tail -60 "$dir/log"
                for a in "$dir"/artifacts/*; do
                    [ -e "$a" ] || continue
                    echo "---- reproducer $a (base64; replay: $fuzz_build/fuzz/fuzz_$t $a)"
                    base64 "$a" | head -200
                done
            fi
        done
    else
        failures+=("fuzz build (clang-14 with libclang-rt-14-dev)")
    fi
fi

echo "==> fuzz: done in $((SECONDS - start_s)) s"
if [ ${#failures[@]} -ne 0 ]; then
    echo "ci/fuzz.sh: FAILED: ${failures[*]}"
    exit 1
fi
echo "ci/fuzz.sh: all passed"
