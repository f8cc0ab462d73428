#!/usr/bin/env bash
# Reproduce every figure of docs/benchmarks.md, one benchmark after another (never in
# parallel: they would disturb each other), on as quiet a machine as you can find.
#
#   tools/bench/run_all.sh [OUTDIR]        # default: /tmp/election-bench/<UTC date-time>
#
# Needs the project venv with the bench extra (`.venv/bin/pip install -e '.[test,bench]'`)
# and ZooKeeper from Debian's package (`make zookeeper`). Took 7 minutes on a 2-CPU machine.
# Writes one JSON per benchmark, the hand-over figure, and load.txt (the load average
# before and after each step). RUNS=5 tools/bench/run_all.sh for a quick look.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
RUNS=${RUNS:-20}
OUT=${1:-${TMPDIR:-/tmp}/election-bench/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"

step() {
  local name=$1; shift
  echo "== $name: $*" | tee -a "$OUT/load.txt"
  echo "   load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"
  local start=$SECONDS
  "$@" > "$OUT/$name.json" 2> "$OUT/$name.log" || echo "   $name exited $?" | tee -a "$OUT/load.txt"
  echo "   load after:  $(cut -d' ' -f1-3 /proc/loadavg) ($((SECONDS - start)) s)" | tee -a "$OUT/load.txt"
}

{
  echo "machine: $(nproc) CPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "kernel: $(uname -r); python: $($PY -V 2>&1); date: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
} | tee "$OUT/load.txt"

step compare   "$PY" -m tools.bench.compare --runs "$RUNS" --json
step handover  "$PY" -m tools.bench.handover --runs "$RUNS" --json --quiet
"$PY" -m tools.bench.handover --runs "$RUNS" --sigkill-runs 0 --quiet --workdir "$OUT/kept" \
  > "$OUT/handover-kept.txt" 2>&1 || true
"$PY" -m tools.bench.breakdown "$OUT/kept" | tee "$OUT/breakdown.txt"
rm -rf "$OUT/kept"
step footprint "$PY" -m tools.bench.footprint --duration 60 --json
step scale     "$PY" -m tools.bench.scale --replicas 50 --idle 60 --handovers "$RUNS" --json
step replay   "$PY" -m tools.bench.replay_speed --journals "$OUT/replay-journals" --repeat 3 --json
step replay-phases "$PY" -m tools.bench.replay_speed --journals "$OUT/replay-journals" --phases 15 --repeat 3 --json
rm -rf "$OUT/replay-journals"
"$PY" -m tools.bench.plot "$OUT/compare.json" "$OUT/handover-latency.svg"
echo "results in $OUT"
