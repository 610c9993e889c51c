#!/usr/bin/env bash
# Bundles throughput_bench and moe4-train, built against PyPI's torch wheel
# (the torch2 flavour, deploy/build.sh), for a GPU box that has the same torch
# but none of moe4's build dependencies: DIR/bin holds the two binaries, DIR/lib
# every shared library they load that is neither the C library's nor the torch
# wheel's (gRPC, protobuf, abseil, yaml-cpp, spdlog, fmt, libstdc++, ...), and
# DIR/PACK_INFO what was built. bench/gpu/run.sh --prebuilt DIR puts DIR/lib and
# the box's torch/lib on LD_LIBRARY_PATH. Meant to travel as one carried path
# (the device tool carries 64 MiB in all): the script fails above 60 MiB.
#
#   bench/gpu/pack.sh [--build-dir DIR] [--no-build] [PACK_DIR]   (default PACK_DIR: ./build-gpu-pack)
#
# Without --no-build it runs MOE4_TORCH_FLAVOUR=torch2 MOE4_TORCH2_BENCH=1 deploy/build.sh first
# (into --build-dir, default ./build-torch2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build_dir=$root/build-torch2 build=1
while (($#)); do
  case "$1" in
    --build-dir) build_dir=${2:?}; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '11,14p' "$0" | sed 's/^# \{0,3\}//' >&2; exit 2 ;;
    -*) echo "pack.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
pack=${1:-$root/build-gpu-pack}
if ((build)); then
  MOE4_TORCH_FLAVOUR=torch2 MOE4_TORCH2_BENCH=1 MOE4_BUILD_DIR=$build_dir "$root/deploy/build.sh"
fi
rm -rf "$pack"
mkdir -p "$pack/bin" "$pack/lib"
for b in bench/training/throughput_bench worker/moe4-train; do
  [[ -x $build_dir/$b ]] || { echo "pack.sh: no $build_dir/$b (build it: see deploy/build.sh)" >&2; exit 1; }
  cp "$build_dir/$b" "$pack/bin/"
  strip --strip-unneeded "$pack/bin/$(basename "$b")"
done
# The worker tests too, for the ones that need a GPU (run.sh runs those there).
if [[ -x $build_dir/tests/worker/moe4_worker_tests ]]; then
  cp "$build_dir/tests/worker/moe4_worker_tests" "$pack/bin/"
  strip --strip-unneeded "$pack/bin/moe4_worker_tests"
fi
# Left to the box: the C library's own (every Linux has them, and they must match its loader), the
# GPU driver's, and the torch wheel's (libtorch*, libc10*, its bundled libgomp and the nvidia-*
# wheels' CUDA libraries), which come from the box's torch at run time.
skip='^(ld-linux.*|libc|libm|libdl|librt|libpthread|libresolv|libutil|libcuda|libnvidia-.*)\.so'
for b in "$pack"/bin/*; do
  ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r soname path; do
  if [[ $soname =~ $skip || $path == */site-packages/* || $path == */dist-packages/* || $path == /opt/moe4/torch* ||
        $soname =~ ^lib(torch|c10|caffe2|shm|gomp|cu|nv|cudnn|nccl) ]]; then
    continue
  fi
  cp -L "$path" "$pack/lib/$soname"
done
{
  echo "commit $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- 2>/dev/null || echo +uncommitted)"
  echo "built $(date -u +%Y-%m-%dT%H:%MZ) on $(hostname) against $(grep -m1 '^Torch_DIR' "$build_dir/CMakeCache.txt" 2>/dev/null | cut -d= -f2)"
} >"$pack/PACK_INFO"
size=$(du -sm "$pack" | cut -f1)
echo "pack.sh: $pack: $(ls "$pack/bin" | tr '\n' ' ')+ $(ls "$pack/lib" | wc -l) libraries, ${size} MiB"
((size <= 60)) || { echo "pack.sh: $pack is ${size} MiB, over the 60 MiB a carried path may take" >&2; exit 1; }
