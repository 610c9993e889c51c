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
#   bench/training/throughput.sh [--size small|full] [--repeat R] [--threads N]
#                                [--num-workers W] [--weight-layout L] [--json OUT] BENCH_BIN
#     e.g. bench/training/throughput.sh --size small build/bench/training/throughput_bench
#
# small: width 0.25, 4 timed steps, a 1,024-image epoch, two rounds (about 2
#        min on 2 cores at load 8, less when idle); full: width 1.0 (a real CIFAR
#        campaign, deploy/examples/published-bias.yaml), 10 timed steps, a
#        10,000-image epoch + 2,000 test images, one round: tens of minutes per
#        side on 2 cores. --repeat R runs R rounds instead.
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
size=small repeat="" threads=$(nproc) num_workers=0 json_out="" layout=auto
while (($#)); do
  case "$1" in
    --size) size=${2:?--size needs small or full}; shift 2 ;;
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

# One set of flags for both sides: the comparison is only fair if every size matches.
case "$size" in
  small) sizes=(--width 0.25 --batch 128 --eval-batch 256 --warmup-steps 1 --steps 4 --eval-batches 5
                --train-images 1024 --test-images 256 --gemm-n 2048 --gemm-repeats 5)
         repeat=${repeat:-2} ;;
  full) sizes=(--width 1.0 --batch 128 --eval-batch 256 --warmup-steps 2 --steps 10 --eval-batches 10
               --train-images 10000 --test-images 2000 --gemm-n 2048 --gemm-repeats 5)
        repeat=${repeat:-1} ;;
  *) echo "throughput: --size must be small or full" >&2; exit 2 ;;
esac
width=${sizes[1]}
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "throughput: --repeat must be a positive count" >&2; exit 2; }

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
"$bench" --describe --width "$width" >"$work/describe.json"
"$python" "$here/pytorch_peer.py" --width "$width" --threads "$threads" --expect "$work/describe.json" \
  --flops-only >"$work/flops.json" || exit $?
flops=$(jq -r '.flops.train_per_image' "$work/flops.json")
source=$(jq -r '"3 x forward FLOPs from torch.profiler(with_flops=True) in the PyTorch peer"' "$work/flops.json")

run_ours() {
  echo "throughput: round $1: LibTorch (throughput_bench)" >&2
  "$bench" "${sizes[@]}" --threads "$threads" --weight-layout "$layout" --flops-per-image "$flops" --flops-source "$source" \
    --json "$work/ours-$1.json" >"$work/ours-$1.txt"
}
run_peer() {
  echo "throughput: round $1: PyTorch (pytorch_peer.py)" >&2
  "$python" "$here/pytorch_peer.py" "${sizes[@]}" --threads "$threads" --num-workers "$num_workers" \
    --json "$work/peer-$1.json" >/dev/null
}
# Alternate which side goes first, so a load change on a shared box does not
# always land on the same side.
for ((r = 1; r <= repeat; r++)); do
  if ((r % 2)); then run_ours "$r"; run_peer "$r"; else run_peer "$r"; run_ours "$r"; fi
done

table_args=(--size "$size" --seconds $(($(date +%s) - start)))
[[ -n "$json_out" ]] && table_args+=(--json "$json_out")
"$python" "$here/throughput_table.py" "${table_args[@]}" "$work"
