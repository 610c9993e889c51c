#!/usr/bin/env bash
# Every benchmark of moe4, each side by side with its peer in the same run
# (issue 9). Never part of the pass/fail suite: it prints figures and writes
# one JSON file per benchmark into the output directory.
#
#   bench/run.sh [--size small|full] [--out DIR] [--only NAME[,NAME]]
#
#   sampler      1e6 stratified draws (N=100, K=8); coverage max/min of every
#                sampler at the published scale (N=29, K=4, B=1,140 and 4,463)
#   coordinator  trials/s of the real coordinator + PostgreSQL under N
#                simulated workers vs Optuna on the same PostgreSQL, and pgbench
#   training     images/s of the worker's training step, evaluation and a
#                whole epoch vs the same ensemble in PyTorch; GFLOP/s vs GEMM peak
#   overhead     share of a real job's wall time not spent in training steps
#   families     parameters and fwd+bwd images/s of all 29 families (docs/families.md)
#   images       first and cached load of 50,000 generated JPEGs vs torchvision's
#                ImageFolder + DataLoader, same threads (small: 10,000)
#
# small (the default) takes about 10 minutes on 2 cores; full, with the
# published widths and 128 workers, takes about an hour. Run it on an idle
# machine: the peers share the box with ours, so the ratios survive noise
# better than the absolute figures do, but both suffer from a loaded box.
# Needs the README's set-up (a build in ./build); installs the peers
# (python3-optuna, python3-torch, python3-torchvision, ...) from Debian.
# docs/performance.md explains the figures of the latest run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

size=small out=bench-results only=""
usage() { sed -n '6,7p' "$0" | sed 's/^# \{0,3\}//' >&2; exit 2; }
while (($#)); do
  case $1 in
    --size) size=${2:-}; shift 2 || usage ;;
    --out) out=${2:-}; shift 2 || usage ;;
    --only) only=${2:-}; shift 2 || usage ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; usage ;;
  esac
done
[[ $size == small || $size == full ]] || { echo "bench/run.sh: --size must be small or full, got '$size'" >&2; exit 2; }
selected() { [[ -z $only || ",$only," == *",$1,"* ]]; }

MOE4_BENCH=1 deploy/install-deps.sh
deploy/build.sh >/dev/null
build=${MOE4_BUILD_DIR:-$root/build}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# One throwaway PostgreSQL for every benchmark that needs one.
eval "$(deploy/pg-throwaway.sh start)"
trap 'deploy/pg-throwaway.sh stop "$MOE4_PG_DIR"' EXIT
export MOE4_PG_URL

{
  echo "moe4 benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), size $size"
  echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/^Mem:/ {print $2}') GiB"
  echo "BLAS: $(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^Value: //p')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} | tee "$out/machine.txt"

failed=()
run() {  # name command...
  local name=$1; shift
  selected "$name" || return 0
  echo
  echo "== $name"
  local start=$SECONDS
  if "$@"; then
    echo "== $name: done in $((SECONDS - start)) s"
  else
    echo "== $name: FAILED (exit $?)"
    failed+=("$name")
  fi
}

run sampler "$build/bench/sampler_bench" --json "$out/sampler.json"
run coordinator bench/coordinator/run.sh --size "$size" --json "$out/coordinator.json" \
  "$build/coordinator/moe4-coordinator" "$build/bench/coordinator/coordinator_load_bench"
run training bench/training/throughput.sh --size "$size" --json "$out/training.json" \
  "$build/bench/training/throughput_bench"
run overhead bench/training/overhead.sh --json "$out/overhead.json" \
  "$build/coordinator/moe4-coordinator" "$build/worker/moe4-worker" "$build/ctl/moe4ctl"
family_args=(--json "$out/families.json" --markdown "$out/families.md")
[[ $size == small ]] && family_args+=(--seconds 1)
run families "$build/bench/training/family_bench" "${family_args[@]}"
image_count=50000
[[ $size == small ]] && image_count=10000
run images bench/images/run.sh --images "$image_count" --json "$out/images.json" \
  "$build/bench/images/image_load_bench" "$build/worker/moe4-make-images"

echo
echo "results in $out"
if ((${#failed[@]})); then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
