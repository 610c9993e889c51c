#!/usr/bin/env bash
# Installs, from Debian 12's archive only, every package moe4 builds, tests and
# runs with. Idempotent: packages already installed are skipped, and apt is not
# touched at all when nothing is missing. Works as root or with sudo.
#
#   deploy/install-deps.sh            # build + test + quickstart dependencies
#   MOE4_NO_WORKER=1 deploy/install-deps.sh   # coordinator/moe4ctl only (no LibTorch)
#   MOE4_BENCH=1 deploy/install-deps.sh       # also the peers bench/run.sh compares with
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # the include-layering check that runs as a build step (cmake/check_layering.py)
  python3
  # wire contract
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # coordinator
  libpqxx-dev libpq-dev libboost-dev libboost-system-dev postgresql postgresql-contrib
  libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libabsl-dev
  # /metrics of the coordinator and the worker (prometheus-cpp's registry and text format)
  prometheus-cpp-dev
  # tests (chromium renders the HTML report headless)
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev chromium
  # moe4ctl's HTML report inlines Chart.js 3 from Debian's package
  libjs-chart.js
  # scripts
  procps iproute2 gzip
  # fuzzing (libFuzzer) and the TLS tests' certificates
  clang libclang-rt-14-dev openssl
  # deployment checks (docker-compose 1.29 validates a compose file without an engine)
  docker-compose python3-yaml systemd
)
if [[ "${MOE4_NO_WORKER:-0}" != 1 ]]; then
  # Debian's default BLAS is the reference one (~30x slower GEMM): OpenBLAS with
  # OpenMP is what makes LibTorch on the CPU usable.
  packages+=(libtorch-dev libopenblas0-openmp dataset-fashion-mnist)
  # folder/tinyimagenet datasets: JPEG and PNG decoding, the cache key's SHA-256
  packages+=(libjpeg62-turbo-dev libpng-dev libssl-dev)
  # deploy/torch2.sh makes a venv for PyPI's torch wheel (the second flavour)
  packages+=(python3-venv)
fi
if [[ "${MOE4_BENCH:-0}" == 1 ]]; then
  # Peers measured side by side in bench/: Optuna on the same PostgreSQL,
  # PyTorch with torchvision transforms, pgbench (postgresql-contrib), perf.
  packages+=(python3-optuna python3-psycopg2 python3-torch python3-torchvision
             python3-numpy linux-perf jq)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
