#!/usr/bin/env bash
# Configures and builds moe4 into ./build (Ninja, ccache, RelWithDebInfo).
# Extra arguments go to the CMake configure step, e.g. -DMOE4_WITH_WORKER=OFF.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOE4_BUILD_DIR:-$root/build}
# ccache keyed on paths relative to the checkout, so a fresh clone elsewhere
# (CI) reuses what an earlier build compiled.
export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=true
# Precompiled headers (the LibTorch targets) are only cacheable with these.
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=${MOE4_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
elif (($#)); then
  cmake "$build" "$@" >/dev/null
fi
# LibTorch translation units need ~1.5 GB each to compile: never more jobs than cores.
jobs=${MOE4_BUILD_JOBS:-$(nproc)}
start=$(date +%s)
cmake --build "$build" -j "$jobs"
echo "build: done in $(( $(date +%s) - start )) s ($build)"
