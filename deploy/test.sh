#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, builds,
# starts a throwaway PostgreSQL, runs every ctest suite against it, and stops
# it again. `.ci/run` calls exactly this. Extra arguments go to ctest
# (e.g. `deploy/test.sh -L unit` or `-R Spec`).
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
echo "test: all done in $(( $(date +%s) - start )) s"
