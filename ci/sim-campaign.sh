#!/usr/bin/env bash
# ci/sim-campaign.sh - a long simulator campaign: N minutes of fresh seeds.
#
# usage: ci/sim-campaign.sh [MINUTES] [extra cowtree-sim flags...]
# Runs batches of fresh seeds (swarm, every crash point, all fault kinds,
# sweeps) until the time is up; seeds start at $SIM_CAMPAIGN_START (default:
# derived from the current commit, so each commit explores new ground) and
# never repeat within a campaign. Prints every failure with its replay line,
# a summary per batch, and the totals; exit 1 if anything failed. The clock
# here only decides when to stop launching batches; each batch itself is
# deterministic and replayable.
set -uo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
shift || true

build=build/sim-ci
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOWTREE_TESTS=OFF \
    -DCOWTREE_BENCH=OFF >/dev/null || exit 2
cmake --build "$build" --target cowtree-sim -j2 >/dev/null || exit 2
sim=$build/sim/cowtree-sim

if [ -n "${SIM_CAMPAIGN_START:-}" ]; then
    next=$SIM_CAMPAIGN_START
else
    head=$(git rev-parse HEAD 2>/dev/null || echo 0)
    next=$(( (16#${head:0:8} % 1000000) * 1000 + 1000000 ))
fi
batch=${SIM_CAMPAIGN_BATCH:-40}
deadline=$((SECONDS + minutes * 60))
failures=0
images=0
seeds=0
echo "campaign: $minutes min from seed $next, batches of $batch"
while [ "$SECONDS" -lt "$deadline" ]; do
    last=$((next + batch - 1))
    out=$("$sim" --seeds "$next..$last" --txns 32 --swarm --crash all --level2 8 \
        --meta-loss 4 --deep 8 --sweeps 4 --faults all --rounds 4 --keep-going --quiet \
        "$@" 2>&1)
    rc=$?
    summary=$(printf '%s\n' "$out" | tail -n 1)
    echo "seeds $next..$last: $summary"
    failed=$(printf '%s\n' "$summary" | sed -n 's/.* failures \([0-9]*\) .*/\1/p')
    checked=$(printf '%s\n' "$summary" | sed -n 's/.* images \([0-9]*\) .*/\1/p')
    if [ "$rc" != 0 ]; then
        printf '%s\n' "$out" | head -n -1
        failures=$((failures + ${failed:-1})) # no summary: the simulator itself died
    fi
    images=$((images + ${checked:-0}))
    seeds=$((seeds + batch))
    next=$((last + 1))
done
echo "campaign: $seeds seeds, $images images, $failures failing seeds"
[ "$failures" = 0 ]
