#!/usr/bin/env bash
# The second LibTorch flavour: PyPI's torch wheel (LibTorch 2.x with CUDA) in
# a Python venv owned by moe4's scripts, outside the clone so that CI re-uses
# it across fresh clones. Idempotent: when the pinned version is installed and
# complete nothing is downloaded. Prints the CMake prefix path of its Torch
# package (torch.utils.cmake_prefix_path) on stdout, progress on stderr:
#
#   prefix=$(deploy/torch2.sh)    # .../site-packages/torch/share/cmake
#   deploy/build-torch2.sh        # builds the worker against it into build-torch2/
#
# Settings (environment):
#   MOE4_TORCH2_VERSION  torch version (default 2.11.0, built for CUDA 13.0)
#   MOE4_TORCH2_HOME     the venv (default /opt/moe4/torch-<version> as root,
#                        ~/.cache/moe4/torch-<version> otherwise)
#   MOE4_PYTHON          interpreter the venv is made from (default python3;
#                        the wheel exists for CPython 3.10-3.14)
#
# Why the wheel *with* its nvidia-* dependencies, not `--no-deps` plus the
# system CUDA toolkit: the wheel's libraries need CUDA libraries that a CUDA
# toolkit does not contain (libtorch_cuda.so: libcusparseLt.so.0,
# libnvshmem_host.so.3, libcufile.so.0; even libtorch_cpu.so needs
# libcupti.so.13 and libcudart.so.13), and their RPATH
# ($ORIGIN/../../nvidia/{cu13,cudnn,nccl,cusparselt,nvshmem}/lib) finds
# exactly the versions torch was built and tested with in the same
# site-packages. So the binaries run without LD_LIBRARY_PATH and without a
# CUDA installation at run time; the toolkit (nvcc + headers) is needed only
# to configure and build (Torch's CMake package runs find_package(CUDAToolkit)).
# Cost: ~3.5 GB of downloads and ~7 GB on disk, once per machine.
set -euo pipefail

version=${MOE4_TORCH2_VERSION:-2.11.0}
if [[ -n "${MOE4_TORCH2_HOME:-}" ]]; then
  home=$MOE4_TORCH2_HOME
elif [[ $(id -u) -eq 0 ]]; then
  home=/opt/moe4/torch-$version
else
  home=${XDG_CACHE_HOME:-$HOME/.cache}/moe4/torch-$version
fi
stamp=$home/.moe4-torch-ok   # written last: holds the version, then the prefix path
say() { echo "torch2: $*" >&2; }

installed() {
  [[ -f "$stamp" && "$(sed -n 1p "$stamp")" == "$version" ]] || return 1
  local prefix
  prefix=$(sed -n 2p "$stamp")
  [[ -f "$prefix/Torch/TorchConfig.cmake" ]]
}

if installed; then
  say "torch $version already in $home"
  sed -n 2p "$stamp"
  exit 0
fi

mkdir -p "$(dirname "$home")"
# Two CI runs on one machine: the second waits for the first's install.
exec 9>"$home.lock"
flock 9
if installed; then
  say "torch $version already in $home"
  sed -n 2p "$stamp"
  exit 0
fi

python=${MOE4_PYTHON:-python3}
command -v "$python" >/dev/null || { say "no $python (set MOE4_PYTHON)"; exit 1; }
"$python" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' \
  || { say "$python must be CPython >= 3.10 with the venv module (Debian: python3-venv)"; exit 1; }

start=$(date +%s)
rm -rf "$home"   # a half-finished earlier attempt
say "installing torch==$version with its CUDA libraries into $home (~3.5 GB download)"
"$python" -m venv "$home"
# --no-cache-dir: the venv is the cache; a copy of the wheels in ~/.cache/pip
# would double the disk use.
"$home/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check \
  "torch==$version" >&2
# Importing torch checks that every library it needs loads (no GPU needed).
prefix=$("$home/bin/python" -c 'import torch, torch.utils; print(torch.utils.cmake_prefix_path)')
[[ -f "$prefix/Torch/TorchConfig.cmake" ]] || { say "no TorchConfig.cmake under $prefix"; exit 1; }
printf '%s\n%s\n' "$version" "$prefix" > "$stamp.tmp"
mv "$stamp.tmp" "$stamp"
say "torch $version installed in $(( $(date +%s) - start )) s ($(du -sh "$home" | cut -f1))"
echo "$prefix"
