#!/usr/bin/env bash
# The GPU proof of issue 13, item 4, in one shot: (a) the hetero4 training step,
# ours against the PyTorch peer, and (b) candidates per hour with 1, 2, 4, 8
# moe4-train processes on one GPU against one-job-at-a-time PyTorch
# (bench/gpu/gpu_bench.py says exactly what; bench/gpu/README.md how to run it).
#
#   bench/gpu/run.sh [--out DIR] [--prebuilt DIR] [--build-dir DIR] [--device cuda|cuda:N|cpu]
#                    [--python PY] [--threads N] [--budget-s S] [--build-timeout S] [--only a|b|ab] [--quick]
#
# --out DIR     where results.json, results.md and logs/ go (default $OUT, else ./build-gpu-results/<time>)
# --prebuilt D  use throughput_bench and moe4-train from D (D, D/bin, or a build tree) with D/lib and the
#               peer's torch/lib on LD_LIBRARY_PATH: what bench/gpu/pack.sh makes. Without it, both are
#               built here (--build-dir, default ./build-gpu) against the peer's torch
#               (torch.utils.cmake_prefix_path) with cmake + ninja, which needs moe4's build dependencies
#               (gRPC, protobuf, abseil, yaml-cpp, libpqxx, ...) and the CUDA toolkit (nvcc) on the box.
# --device      cuda (default) or cpu (a dry run of the same code paths; with --quick, tiny sizes)
# --python      the peer's interpreter (default $MOE4_PYTHON, else python3)
# --budget-s    no measurement starts after this many seconds of measuring (default 420; building
#               is not counted: --build-timeout, default 480)
#
# Never aborts on a failed measurement: each is recorded (results.json, logs/) and the run goes on.
# Exit 0 when the report was written, 2 on bad usage.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

usage() { sed -n '7,8p' "$0" | sed 's/^# \{0,3\}//' >&2; exit 2; }
out=${OUT:-} prebuilt="" build_dir="$root/build-gpu" device=cuda python=${MOE4_PYTHON:-python3}
threads=$(nproc) budget=420 build_timeout=480 only=ab quick=()
while (($#)); do
  case "$1" in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --prebuilt) prebuilt=${2:?--prebuilt needs a directory}; shift 2 ;;
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift 2 ;;
    --device) device=${2:?--device needs cuda, cuda:N or cpu}; shift 2 ;;
    --python) python=${2:?--python needs an interpreter}; shift 2 ;;
    --threads) threads=${2:?--threads needs a count}; shift 2 ;;
    --budget-s) budget=${2:?--budget-s needs seconds}; shift 2 ;;
    --build-timeout) build_timeout=${2:?--build-timeout needs seconds}; shift 2 ;;
    --only) only=${2:?--only needs a, b or ab}; shift 2 ;;
    --quick) quick=(--quick); shift ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument $1" >&2; usage ;;
  esac
done
[[ $device == cpu || $device =~ ^cuda(:[0-9]+)?$ ]] || { echo "run.sh: --device: cpu, cuda or cuda:N" >&2; exit 2; }
out=${out:-$root/build-gpu-results/$(date +%Y%m%d-%H%M%S)}  # /build-*/ is git-ignored
mkdir -p "$out/logs" || { echo "run.sh: cannot create $out" >&2; exit 2; }
out=$(cd "$out" && pwd)
exec > >(tee -a "$out/run.log") 2>&1
t0=$(date +%s)
say() { echo "run.sh [$(($(date +%s) - t0)) s] $*"; }
say "results into $out; device $device; peer $python"

# The peer's torch: its lib directory serves our prebuilt binaries too (one libtorch in the process).
torch_lib="" torch_prefix=""
if info=$("$python" -c 'import os, torch, torch.utils; print(os.path.join(os.path.dirname(torch.__file__), "lib")); print(torch.utils.cmake_prefix_path); print(torch.__version__)' 2>"$out/logs/python-torch.err"); then
  torch_lib=$(sed -n 1p <<<"$info") torch_prefix=$(sed -n 2p <<<"$info")
  # The wheel's CUDA runtime (libcudart.so.13, which our binaries name
  # directly) lives in the nvidia-* wheels beside torch, not in torch/lib.
  for d in "$torch_lib"/../../nvidia/*/lib; do
    [[ -d $d ]] && torch_lib+=":$(cd "$d" && pwd)"
  done
  say "peer torch $(sed -n 3p <<<"$info") at $torch_lib"
else
  say "WARNING: $python cannot import torch: the peer will fail ($(tail -1 "$out/logs/python-torch.err"))"
fi

find_binary() {  # DIR NAME: the first of DIR/NAME, DIR/bin/NAME, DIR/{bench/training,worker,tests/worker}/NAME
  local d
  for d in "$1" "$1/bin" "$1/bench/training" "$1/worker" "$1/tests/worker"; do
    [[ -x "$d/$2" && -f "$d/$2" ]] && { echo "$d/$2"; return 0; }
  done
  return 1
}

bench="" train="" note="" ours_lib_path=""
if [[ -n $prebuilt ]]; then
  prebuilt=$(cd "$prebuilt" 2>/dev/null && pwd) || { echo "run.sh: --prebuilt: no such directory" >&2; exit 2; }
  bench=$(find_binary "$prebuilt" throughput_bench) || say "WARNING: no throughput_bench in $prebuilt"
  train=$(find_binary "$prebuilt" moe4-train) || say "WARNING: no moe4-train in $prebuilt"
  # RPATHs name the build machine's torch; where that path does not exist the loader falls through
  # to LD_LIBRARY_PATH: the bundled non-torch libraries first, then the peer's torch.
  # Only our processes get it (gpu_bench.py --ours-lib-path): the peer keeps its own libstdc++.
  ours_lib_path="$prebuilt/lib${torch_lib:+:$torch_lib}"
  note="prebuilt $prebuilt"
  [[ -f $prebuilt/PACK_INFO ]] && note+=" ($(tr '\n' ' ' <"$prebuilt/PACK_INFO"))"
  for b in $bench $train; do
    if ! LD_LIBRARY_PATH=$ours_lib_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ldd "$b" >"$out/logs/ldd-$(basename "$b").txt" 2>&1 || grep -q 'not found' "$out/logs/ldd-$(basename "$b").txt"; then
      say "WARNING: $(basename "$b") misses libraries: $(grep 'not found' "$out/logs/ldd-$(basename "$b").txt" | tr -s ' \t' ' ' | head -5)"
    fi
  done
else
  say "building throughput_bench and moe4-train into $build_dir (up to $build_timeout s; log logs/build.log)"
  cuda_args=()
  nvcc=$(command -v nvcc || true)
  for c in "${MOE4_CUDA_HOME:-}" "${CUDA_HOME:-}" /usr/local/cuda; do
    [[ -z $nvcc && -n $c && -x $c/bin/nvcc ]] && nvcc=$c/bin/nvcc
  done
  if [[ -n $nvcc ]]; then
    cuda_home=$(dirname "$(dirname "$nvcc")")
    cuda_args=(-DCMAKE_CUDA_COMPILER="$nvcc" -DCUDAToolkit_ROOT="$cuda_home" -DCUDA_TOOLKIT_ROOT_DIR="$cuda_home")
  fi
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  build_start=$(date +%s)
  if [[ -z $torch_prefix ]]; then
    say "FAILED: no torch to build against"
  elif ! TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} timeout "$build_timeout" \
         cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
         -DCMAKE_PREFIX_PATH="$torch_prefix" -DTorch_DIR:PATH="$torch_prefix/Torch" \
         -DCaffe2_DIR:PATH="$torch_prefix/Caffe2" "${cuda_args[@]}" \
         -DMOE4_WITH_WORKER=ON -DMOE4_BUILD_TESTS=OFF -DMOE4_BUILD_BENCH=ON >"$out/logs/build.log" 2>&1; then
    say "FAILED: cmake configure (missing build dependencies? use --prebuilt): $(grep -m3 -iE 'error|not found|could not' "$out/logs/build.log" | tr '\n' ' ')"
  else
    left=$((build_timeout - ($(date +%s) - build_start)))
    if ((left > 0)) && timeout "$left" cmake --build "$build_dir" -j "$threads" --target throughput_bench moe4-train \
         >>"$out/logs/build.log" 2>&1; then
      bench=$(find_binary "$build_dir" throughput_bench) train=$(find_binary "$build_dir" moe4-train)
    else
      say "FAILED: build (see logs/build.log): $(grep -m3 -E 'error|FAILED' "$out/logs/build.log" | tr '\n' ' ')"
    fi
  fi
  note="built on this box in $build_dir in $(($(date +%s) - build_start)) s against ${torch_prefix:-no torch}"
fi
say "ours: ${bench:-none} / ${train:-none} ($note)"

# The measurements; a failure of one is recorded and the next runs.
"$python" "$here/gpu_bench.py" --out "$out" --device "$device" --bench "$bench" --train "$train" \
  --python "$python" --threads "$threads" --budget-s "$budget" --only "$only" --build-note "$note" \
  --ours-lib-path "$ours_lib_path" "${quick[@]}" ||
  say "gpu_bench.py exited $? (see above); whatever it saved is in $out"
# The worker tests that only run where a GPU is (they skip, visibly, elsewhere):
# a device-resident dataset gives the host's batches, precision on CUDA, ...
tests_bin=""
[[ -n $prebuilt ]] && tests_bin=$(find_binary "$prebuilt" moe4_worker_tests || true)
if [[ -n $tests_bin && $device == cuda* ]]; then
  say "worker tests that need a GPU (logs/gpu-tests.txt)"
  if LD_LIBRARY_PATH=$ours_lib_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} timeout 120 "$tests_bin" \
       --gtest_filter='*Gpu*:*Cuda*:*OnTheGpu*:Precision*' >"$out/logs/gpu-tests.txt" 2>&1; then
    say "GPU worker tests: $(grep -E '^\[  PASSED  \]' "$out/logs/gpu-tests.txt" | head -1)"
  else
    say "GPU worker tests FAILED: $(grep -E '^\[  FAILED  \]' "$out/logs/gpu-tests.txt" | head -5 | tr '\n' ' ')"
  fi
fi
if [[ -f $out/results.md ]]; then
  cat "$out/results.md"
fi
say "done in $(($(date +%s) - t0)) s: $out/results.json, $out/results.md"
exit 0
