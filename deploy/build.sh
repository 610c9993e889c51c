#!/usr/bin/env bash
# Configures and builds moe4 into ./build (Ninja, ccache, RelWithDebInfo;
# MOE4_BUILD_DIR, MOE4_BUILD_TYPE, MOE4_BUILD_JOBS to change).
# Extra arguments go to the CMake configure step, e.g. -DMOE4_WITH_WORKER=OFF.
#
# MOE4_TORCH_FLAVOUR picks the LibTorch the worker is built against:
#   debian (default)  Debian's libtorch-dev 1.13 (CPU), every target, ./build
#   torch2            PyPI's torch wheel (LibTorch 2.x with CUDA) installed by
#                     deploy/torch2.sh; only the worker binaries and the worker
#                     tests, Release, into ./build-torch2 (needs the CUDA
#                     toolkit, nvcc, to configure: MOE4_CUDA_HOME, default
#                     $CUDA_HOME or /usr/local/cuda; no GPU needed);
#                     MOE4_TORCH2_BENCH=1 adds the training-step benchmark
#                     throughput_bench (bench/gpu/pack.sh bundles it with
#                     moe4-train for a GPU box: bench/gpu/README.md)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
flavour=${MOE4_TORCH_FLAVOUR:-debian}
# ccache keyed on paths relative to the checkout, so a fresh clone elsewhere
# (CI) reuses what an earlier build compiled.
export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=true
# Precompiled headers (the LibTorch targets) are only cacheable with these.
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
# Both flavours fit in ccache's default 5 GB together: compressed, ./build
# (RelWithDebInfo) takes ~0.6 GB and ./build-torch2 (Release) ~0.25 GB, of
# which the two precompiled headers are most (measured 2026-12-04).
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

configure=()
targets=()
case "$flavour" in
  debian)
    build=${MOE4_BUILD_DIR:-$root/build}
    build_type=${MOE4_BUILD_TYPE:-RelWithDebInfo}
    ;;
  torch2)
    build=${MOE4_BUILD_DIR:-$root/build-torch2}
    # No debug info: LibTorch 2.x translation units compile faster without it,
    # and the objects take a fraction of the ccache space.
    build_type=${MOE4_BUILD_TYPE:-Release}
    prefix=$("$root/deploy/torch2.sh")
    cuda=${MOE4_CUDA_HOME:-${CUDA_HOME:-/usr/local/cuda}}
    [[ -x "$cuda/bin/nvcc" ]] || { echo "build: no $cuda/bin/nvcc: the torch2 flavour needs the CUDA toolkit (set MOE4_CUDA_HOME)" >&2; exit 1; }
    # Torch_DIR/Caffe2_DIR name the wheel's packages outright: Debian's
    # /usr/lib/x86_64-linux-gnu/cmake/Torch must never be picked for this dir.
    # The toolkit is only for Torch's CMake package (enable_language(CUDA),
    # find_package(CUDAToolkit)); moe4 compiles no CUDA code, and at run time
    # the wheel's own CUDA libraries load through its RPATH.
    configure=(-DCMAKE_PREFIX_PATH="$prefix" -DTorch_DIR:PATH="$prefix/Torch" -DCaffe2_DIR:PATH="$prefix/Caffe2"
               -DCMAKE_CUDA_COMPILER="$cuda/bin/nvcc" -DCUDAToolkit_ROOT="$cuda" -DCUDA_TOOLKIT_ROOT_DIR="$cuda"
               -DMOE4_WITH_WORKER=ON -DMOE4_BUILD_TESTS=ON)
    # Only used at configure time, for nvcc flags; without it Torch's package
    # probes for a GPU and warns.
    export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-7.5;8.0;8.6;8.9;9.0;10.0;12.0}
    # The worker binaries and every test binary `ctest -L worker` runs.
    targets=(moe4-worker moe4-train moe4_worker_tests moe4_lemur_tests moe4_worker_metrics_tests)
    if [[ ${MOE4_TORCH2_BENCH:-0} == 1 ]]; then
      configure+=(-DMOE4_BUILD_BENCH=ON)
      targets+=(throughput_bench)
    else
      configure+=(-DMOE4_BUILD_BENCH=OFF)
    fi
    # A build dir configured against another Torch is reconfigured from scratch.
    if [[ -f "$build/CMakeCache.txt" ]] && ! grep -q "^Torch_DIR:[A-Z]*=$prefix/Torch\$" "$build/CMakeCache.txt"; then
      rm -f "$build/CMakeCache.txt"
    fi
    ;;
  *) echo "build: MOE4_TORCH_FLAVOUR must be debian or torch2, not '$flavour'" >&2; exit 2 ;;
esac

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE="$build_type" \
    "${configure[@]}" "$@" >/dev/null
elif (($#)); then
  cmake "$build" "$@" >/dev/null
fi
if [[ "$flavour" == torch2 && ${MOE4_TORCH2_BENCH:-0} == 1 ]] && ! grep -q '^MOE4_BUILD_BENCH:BOOL=ON' "$build/CMakeCache.txt"; then
  cmake "$build" -DMOE4_BUILD_BENCH=ON >/dev/null  # a dir configured without the benchmarks
fi
if [[ "$flavour" == torch2 ]]; then
  grep -q '^MOE4_WITH_WORKER:BOOL=ON' "$build/CMakeCache.txt" \
    || { echo "build: Torch not found in $build (see $build/CMakeFiles/CMakeOutput.log)" >&2; exit 1; }
  # Targets that this checkout does not define are skipped.
  help=$(cmake --build "$build" --target help 2>/dev/null || true)
  present=()
  for t in "${targets[@]}"; do
    if grep -qE "^(\.\.\. )?$t(:|\$)" <<<"$help"; then present+=("$t"); fi
  done
  ((${#present[@]})) || { echo "build: $build defines none of ${targets[*]}" >&2; exit 1; }
  # Any other program of this build that a worker test runs (a script test
  # gets it as an argument, e.g. moe4-make-images): ctest -L worker there
  # must not meet a binary this build skipped.
  while IFS= read -r t; do
    if [[ -n $t && " ${present[*]} " != *" $t "* ]] && grep -qE "^(\.\.\. )?$t(:|\$)" <<<"$help"; then
      present+=("$t")
    fi
  done < <(ctest --test-dir "$build" -N -L worker --show-only=json-v1 2>/dev/null | python3 -c '
import json, os, sys
build = os.path.realpath(sys.argv[1]) + "/"
for test in json.load(sys.stdin).get("tests", []):
    for arg in test.get("command", []):
        if os.path.realpath(arg).startswith(build):
            print(os.path.basename(arg))' "$build" | sort -u)
  targets=("${present[@]}")
fi
# LibTorch translation units need ~1.5 GB each to compile: never more jobs than cores.
jobs=${MOE4_BUILD_JOBS:-$(nproc)}
start=$(date +%s)
cmake --build "$build" -j "$jobs" ${targets[@]:+--target "${targets[@]}"}
if [[ "$flavour" == torch2 ]]; then
  # ctest names no program for a test whose executable does not exist: a
  # worker test that runs a binary this flavour skipped fails here, naming
  # it, rather than in CI's test stage.
  missing=$(ctest --test-dir "$build" -N -L worker --show-only=json-v1 2>/dev/null | python3 -c '
import json, sys
print(" ".join(t["name"] for t in json.load(sys.stdin).get("tests", []) if not t.get("command")))')
  if [[ -n $missing ]]; then
    echo "build: $build lacks the program of worker test(s): $missing (add its target to the torch2 list in deploy/build.sh)" >&2
    exit 1
  fi
fi
if [[ "$flavour" == torch2 && -f "$build/build.ninja" ]]; then
  # Nothing of Debian's LibTorch on any link line (cmake/TorchFixups.cmake).
  leaked=$(grep -oE '/usr/lib/x86_64-linux-gnu/lib(torch|c10|caffe2)[a-z_]*\.so' "$build/build.ninja" | sort -u || true)
  if [[ -n "$leaked" ]]; then
    echo "build: $build links Debian's LibTorch: $leaked" >&2
    exit 1
  fi
  # /usr/include is on every compile line (gRPC, spdlog, ...): a header the
  # wheel lacks would silently come from Debian's libtorch-dev there.
  leaked=$(cd "$build" && ninja -t deps | grep -E '^ +/usr/include/(torch|ATen|c10|caffe2)/' | sort -u | head -5 || true)
  if [[ -n "$leaked" ]]; then
    echo "build: $build compiled against Debian's LibTorch headers:" >&2
    echo "$leaked" >&2
    exit 1
  fi
fi
echo "build: done in $(( $(date +%s) - start )) s ($build)"
