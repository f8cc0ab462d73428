#!/usr/bin/env bash
# Reproduce the headline figures of docs/benchmarks.md, one benchmark after another (never in
# parallel: they would disturb each other), on as quiet a machine as you can find.
#
#   tools/bench/run_all.sh [OUTDIR]        # default: /tmp/election-bench/<UTC date-time>
#
# Needs the project venv (`make venv`) and ZooKeeper from Debian's package (`make
# zookeeper`). lease.py and faults.py run on their own (docs/benchmarks.md). Writes one
# JSON per benchmark and load.txt (the load average before and after each step).
# RUNS=5 tools/bench/run_all.sh for a quick look.
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

step queue      "$PY" -m tools.bench.queue --sizes 2,50,100 --runs "$RUNS" --idle 20 --json --quiet
step crash      "$PY" -m tools.bench.crash --runs "$RUNS" --recipe-runs "$((RUNS / 2 > 0 ? RUNS / 2 : 1))" --sessions 2,10,30 --json --quiet
step footprint  "$PY" -m tools.bench.footprint --duration 60 --json --quiet
step replay-run "$PY" -m tools.bench.replay_speed --journals "$OUT/replay-run" --record 40 --cli --json --quiet
step replay-sim "$PY" -m tools.bench.replay_speed --journals "$OUT/replay-sim" --simulate 1000000 --json --quiet
rm -rf "$OUT/replay-run" "$OUT/replay-sim"
echo "results in $OUT"
