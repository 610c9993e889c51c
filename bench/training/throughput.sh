#!/usr/bin/env bash
# Training throughput side by side (issue 9, item 2): throughput_bench (the
# worker's LibTorch code paths) and pytorch_peer.py (the same ensemble and
# recipe in PyTorch, data through a torchvision Dataset + DataLoader), in the
# same run, one after the other, alternating the order on every repeat, with
# the same threads, OpenMP settings and BLAS. Prints one table of
# ours/PyTorch ratios for the training step alone, evaluation and a whole
# epoch including data, and GFLOP/s against the GEMM peak for both. Targets
# are printed next to the figures, never asserted.
#
#   bench/training/throughput.sh [--size PRESET[,PRESET...]] [--repeat R] [--threads N] [--per-family]
#                                [--num-workers W] [--weight-layout L] [--json OUT] BENCH_BIN
#     e.g. bench/training/throughput.sh --size small,lemur64 build/bench/training/throughput_bench
#
# Presets (both sides get the same flags; the data are CIFAR-sized, 32x32):
# small:   catalogue adapted (the small-input designs), 3x32x32, width 0.25,
#          batch 128, 4 timed steps, a 1,024-image epoch, two rounds (about 2
#          min on 2 cores at load 8, less when idle);
# full:    adapted at width 1.0 (a real CIFAR campaign,
#          deploy/examples/published-bias.yaml), 10 timed steps, a
#          10,000-image epoch + 2,000 test images, one round: tens of minutes
#          per side on 2 cores;
# lemur64: catalogue lemur (LEMUR's networks as published, width 1.0: 70 M
#          parameters), 3x64x64 (the data resized, as a campaign's
#          dataset.resize: 64 does; LEMUR's AlexNet needs 63 or more), batch
#          32, evaluation batch 256 (the trainer's), 3 timed steps, a 256-image
#          epoch + 256 test images, two rounds: several minutes on 2 cores.
# Several presets run in the same rounds, one after the other, each side
# alternating first, and print one table each. --repeat R runs R rounds
# instead of the presets' default (the largest). --per-family adds (e): each
# family's forward + backward alone and the AdamW step alone, both sides.
# The peer runs on $MOE4_PYTHON (default /usr/bin/python3, where Debian's
# python3-torch lives). OMP_WAIT_POLICY defaults to PASSIVE, the worker's
# setting (worker/train/omp_env.h), for both sides. --num-workers sets the
# peer's DataLoader workers (default 0, its best on 2 cores: pytorch_peer.py's docstring).
# --weight-layout sets ours (worker/train/training_core.h): auto, what jobs
# use (channels-last on the CPU), or default (NCHW, as the peer keeps it).
# OpenBLAS 0.3.21 takes some virtualised Xeons for a Prescott and then runs its
# SSE3 kernels (torch.mm ~5x below the AVX-512 peak); it serves both sides'
# Linear layers and the GEMM peak. Both sides get the kernel family the worker
# picks from the CPU flags (worker/train/omp_env.h) unless OPENBLAS_CORETYPE is
# set; the table prints the value in force.
# Exit: 0 measured, 2 bad usage, 3 the peer's network differs from ours, 1 other.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

usage() { sed -n '11,13p' "$0" | sed 's/^# \{0,3\}//' >&2; exit 2; }
size=small repeat="" threads=$(nproc) num_workers=0 json_out="" layout=auto per_family=0
while (($#)); do
  case "$1" in
    --size) size=${2:?--size needs presets: small, full, lemur64 (comma-separated)}; shift 2 ;;
    --per-family) per_family=1; shift ;;
    --repeat) repeat=${2:?--repeat needs a count}; shift 2 ;;
    --threads) threads=${2:?--threads needs a count}; shift 2 ;;
    --num-workers) num_workers=${2:?--num-workers needs a count}; shift 2 ;;
    --weight-layout) layout=${2:?--weight-layout needs auto, channels-last or default}; shift 2 ;;
    --json) json_out=${2:?--json needs a file}; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "throughput: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
(($# == 1)) || usage
bench=$1
[[ -x "$bench" ]] || { echo "throughput: $bench is not an executable" >&2; exit 2; }
python=${MOE4_PYTHON:-/usr/bin/python3}
"$python" -c 'import torch, torchvision' 2>/dev/null ||
  { echo "throughput: $python cannot import torch and torchvision" \
         "(Debian: apt-get install python3-torch python3-torchvision)" >&2; exit 2; }

# One set of flags per preset for both sides: the comparison is only fair if every size matches.
declare -A flags_of=(
  [small]="--catalogue adapted --image-size 32 --width 0.25 --batch 128 --eval-batch 256 --warmup-steps 1
           --steps 4 --eval-batches 5 --train-images 1024 --test-images 256 --gemm-n 2048 --gemm-repeats 5"
  [full]="--catalogue adapted --image-size 32 --width 1.0 --batch 128 --eval-batch 256 --warmup-steps 2
          --steps 10 --eval-batches 10 --train-images 10000 --test-images 2000 --gemm-n 2048 --gemm-repeats 5"
  [lemur64]="--catalogue lemur --image-size 64 --width 1.0 --batch 32 --eval-batch 256 --warmup-steps 1
             --steps 3 --eval-batches 2 --train-images 256 --test-images 256 --gemm-n 2048 --gemm-repeats 5"
)
declare -A rounds_of=([small]=2 [full]=1 [lemur64]=2)
preset_flags() {  # ARRAY_NAME PRESET: the preset's flags as words (they span lines)
  local -n words=$1
  read -r -d '' -a words <<<"${flags_of[$2]}" || true
}
IFS=, read -r -a presets <<<"$size"
((${#presets[@]})) || { echo "throughput: --size needs a preset" >&2; exit 2; }
default_rounds=1
for p in "${presets[@]}"; do
  [[ -n ${flags_of[$p]:-} ]] || { echo "throughput: --size: unknown preset '$p' (small, full, lemur64)" >&2; exit 2; }
  if ((rounds_of[$p] > default_rounds)); then default_rounds=${rounds_of[$p]}; fi
done
repeat=${repeat:-$default_rounds}
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "throughput: --repeat must be a positive count" >&2; exit 2; }
extra=()
((per_family)) && extra+=(--per-family)

# Same threads and OpenMP behaviour on both sides; both load the same
# libtorch_cpu.so and Debian's libblas.so.3 (OpenBLAS-openmp when selected).
export OMP_NUM_THREADS=$threads
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
# The worker picks OpenBLAS's kernel family from the CPU flags when unset
# (worker/train/omp_env.h, the same rule): give the peer the same, so both
# sides run the same BLAS kernels.
if [[ -z ${OPENBLAS_CORETYPE:-} ]]; then
  flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  has() { local f; for f; do [[ $flags == *" $f "* ]] || return 1; done; }
  if has avx512f avx512cd avx512bw avx512dq avx512vl; then export OPENBLAS_CORETYPE=SkylakeX
  elif has avx2 fma; then export OPENBLAS_CORETYPE=Haswell; fi
fi
work=$(mktemp -d /tmp/moe4-throughput.XXXXXX)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)

# The peer must be the same network: parameter counts first (exit 3 if not),
# and its profiler's forward FLOPs, which give both sides' GFLOP/s.
declare -A flops_of
for p in "${presets[@]}"; do
  preset_flags f "$p"
  mkdir -p "$work/$p"
  echo "throughput: $p: parameter check and FLOPs" >&2
  "$bench" --describe "${f[@]}" >"$work/$p/describe.json"
  "$python" "$here/pytorch_peer.py" "${f[@]}" --threads "$threads" --expect "$work/$p/describe.json" \
    --flops-only >"$work/$p/flops.json" || exit $?
  flops_of[$p]=$(jq -r '.flops.train_per_image' "$work/$p/flops.json")
done
source="3 x forward FLOPs from torch.profiler(with_flops=True) in the PyTorch peer"

run_ours() {  # preset round
  local f; preset_flags f "$1"
  echo "throughput: $1, round $2: LibTorch (throughput_bench)" >&2
  "$bench" "${f[@]}" "${extra[@]}" --threads "$threads" --weight-layout "$layout" \
    --flops-per-image "${flops_of[$1]}" --flops-source "$source" \
    --json "$work/$1/ours-$2.json" >"$work/$1/ours-$2.txt"
}
run_peer() {  # preset round
  local f; preset_flags f "$1"
  echo "throughput: $1, round $2: PyTorch (pytorch_peer.py)" >&2
  "$python" "$here/pytorch_peer.py" "${f[@]}" "${extra[@]}" --threads "$threads" --num-workers "$num_workers" \
    --json "$work/$1/peer-$2.json" >/dev/null
}
# Alternate which side goes first, so a load change on a shared box does not
# always land on the same side; the presets share the rounds.
for ((r = 1; r <= repeat; r++)); do
  for p in "${presets[@]}"; do
    if ((r % 2)); then run_ours "$p" "$r"; run_peer "$p" "$r"; else run_peer "$p" "$r"; run_ours "$p" "$r"; fi
  done
done

table_args=(--seconds $(($(date +%s) - start)))
[[ -n "$json_out" ]] && table_args+=(--json "$json_out")
dirs=()
for p in "${presets[@]}"; do dirs+=("$p=$work/$p"); done
"$python" "$here/throughput_table.py" "${table_args[@]}" "${dirs[@]}"
