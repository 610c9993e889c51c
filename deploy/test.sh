#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, builds,
# starts a throwaway PostgreSQL, runs every ctest suite against it, and stops
# it again. `.ci/run` calls exactly this. Extra arguments go to ctest
# (e.g. `deploy/test.sh -L unit` or `-R Spec`).
#
# Then the worker's second LibTorch flavour (MOE4_TORCH2): PyPI's torch 2.x
# wheel with CUDA (deploy/torch2.sh, once per machine), the worker built
# against it into ./build-torch2, and `ctest -L worker` there.
#   MOE4_TORCH2=auto (default)  when no ctest arguments are given, the CUDA
#                               toolkit (nvcc) is installed and the debian
#                               flavour took at most MOE4_TORCH2_BUDGET_S
#                               (default 2100 s, so that a cold run ends within
#                               an hour); skipped, saying so, otherwise (what
#                               each flavour costs: docs/deploy.md, "What CI
#                               builds")
#   MOE4_TORCH2=0               never
#   MOE4_TORCH2=1               always (fails without nvcc)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$(date +%s)
deploy/install-deps.sh
deploy/build.sh

eval "$(deploy/pg-throwaway.sh start)"
trap 'deploy/pg-throwaway.sh stop "$MOE4_PG_DIR"' EXIT
export MOE4_PG_URL MOE4_PG_DIR MOE4_PG_PORT
echo "test: throwaway PostgreSQL on 127.0.0.1:$MOE4_PG_PORT"

# OpenBLAS/OpenMP threads fight ctest's own parallelism on 2 cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
ctest --test-dir build --output-on-failure --timeout 900 -j "${MOE4_TEST_JOBS:-2}" "$@"
echo "test: debian flavour done in $(( $(date +%s) - start )) s"

torch2=${MOE4_TORCH2:-auto}
budget_s=${MOE4_TORCH2_BUDGET_S:-2100}
nvcc=${MOE4_CUDA_HOME:-${CUDA_HOME:-/usr/local/cuda}}/bin/nvcc
if [[ $torch2 == auto ]]; then
  if (($#)); then
    torch2=0
  elif [[ ! -x $nvcc ]]; then
    torch2=0
    echo "test: skipping the torch2 flavour: no CUDA toolkit ($nvcc); MOE4_TORCH2=1 requires it"
  elif (( $(date +%s) - start > budget_s )); then
    # CI stops a run at 90 minutes and a cold run should end within 60: the
    # second flavour costs up to ~25 min cold (docs/deploy.md), so it starts
    # only while that fits. MOE4_TORCH2=1 runs it regardless.
    torch2=0
    echo "test: SKIPPING the torch2 flavour: the debian flavour took $(( $(date +%s) - start )) s," \
         "more than MOE4_TORCH2_BUDGET_S=$budget_s; MOE4_TORCH2=1 runs it regardless"
  else
    torch2=1
  fi
fi
if [[ $torch2 == 1 ]]; then
  t0=$(date +%s)
  deploy/torch2.sh >/dev/null
  t1=$(date +%s)
  MOE4_TORCH_FLAVOUR=torch2 deploy/build.sh
  t2=$(date +%s)
  ctest --test-dir build-torch2 --output-on-failure --timeout 900 -j "${MOE4_TEST_JOBS:-2}" -L worker "$@"
  t3=$(date +%s)
  echo "test: torch2 flavour: torch install $((t1 - t0)) s, build $((t2 - t1)) s, worker tests $((t3 - t2)) s"
fi
echo "test: all done in $(( $(date +%s) - start )) s"
