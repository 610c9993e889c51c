# moe4-worker (and moe4-train) for NVIDIA GPUs, built against PyPI's torch
# wheel (LibTorch 2.x with CUDA) exactly as CI builds and tests it:
# deploy/torch2.sh puts the pinned wheel with its CUDA libraries into a venv,
# `MOE4_TORCH_FLAVOUR=torch2 deploy/build.sh` builds the worker against it
# (CMAKE_PREFIX_PATH = torch.utils.cmake_prefix_path). Debian's libtorch-dev
# is CPU-only, hence this second image.
#
# Build (on any x86_64 host with Docker; no GPU needed to build):
#   docker build -f deploy/docker/worker-cuda.Dockerfile -t moe4/worker-cuda .
# TORCH_VERSION picks the wheel (default 2.11.0, the one CI tests); CUDA_VERSION
# must be the CUDA that wheel was built for (2.11.0 on PyPI: 13.0), as its
# CMake package checks nvcc against the CUDA headers it finds. The build
# downloads ~3.5 GB of wheels from PyPI (a pip mirror: --build-arg
# PIP_INDEX_URL=...) and NVIDIA's CUDA toolkit from NVIDIA's Debian 12
# repository.
#
# Run: the host needs the NVIDIA driver (>= the minimum of CUDA_VERSION; 13.0:
# driver 580 or newer) and the NVIDIA Container Toolkit; the GPU comes from
# `--gpus device=N` or the compose file's device reservation, and appears
# inside as cuda:0.
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
ARG CUDA_VERSION=13.0
ENV CCACHE_DISABLE=1 DEBIAN_FRONTEND=noninteractive
# Torch's CMake package needs the CUDA toolkit itself (nvcc, the headers,
# cudart) even though moe4 compiles no CUDA code; at run time only the
# wheel's own CUDA libraries are used. The toolkit stays in this stage.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends ca-certificates curl \
 && curl -fsSLo /tmp/cuda-keyring.deb \
      https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb \
 && dpkg -i /tmp/cuda-keyring.deb && rm /tmp/cuda-keyring.deb \
 && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends "cuda-toolkit-$(echo "$CUDA_VERSION" | tr . -)" \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/local/cuda/bin:$PATH MOE4_CUDA_HOME=/usr/local/cuda
# Everything else from Debian, as on a developer machine, minus libtorch-dev
# (the worker must see one Torch only), plus Debian's Python to make the venv.
COPY deploy/install-deps.sh deploy/torch2.sh /src/deploy/
RUN MOE4_NO_WORKER=1 /src/deploy/install-deps.sh \
 && apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
# The wheel in its own layer: rebuilding after a source change reuses it.
ARG TORCH_VERSION=2.11.0
ARG PIP_INDEX_URL=
ENV MOE4_TORCH2_VERSION=${TORCH_VERSION} MOE4_TORCH2_HOME=/opt/moe4/torch
RUN PIP_INDEX_URL="${PIP_INDEX_URL:-https://pypi.org/simple}" /src/deploy/torch2.sh
COPY . /src
# TORCH_CUDA_ARCH_LIST (set by build.sh) only silences the GPU probe of Torch's
# CMake package; the kernels are the wheel's own and cover every recent GPU.
ARG MOE4_BUILD_JOBS=0
RUN MOE4_TORCH_FLAVOUR=torch2 MOE4_BUILD_DIR=/build MOE4_BUILD_TYPE=Release \
      MOE4_BUILD_JOBS="$( [ "$MOE4_BUILD_JOBS" -gt 0 ] && echo "$MOE4_BUILD_JOBS" || nproc )" \
      /src/deploy/build.sh -DMOE4_BUILD_TESTS=OFF \
 && mkdir -p /out/bin \
 && install -s -m 0755 /build/worker/moe4-worker /build/worker/moe4-train /out/bin/ \
 && site=$(/opt/moe4/torch/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
 && MOE4_BUNDLED_LIB_DIRS="$site" /src/deploy/docker/runtime-packages.sh /out/bin/* > /out/runtime-packages \
 && mkdir -p "/out/torch$site/torch" \
 && cp -a "$site/torch/lib" "/out/torch$site/torch/" \
 && cp -a "$site/nvidia" "/out/torch$site/" \
 && rm -rf "/out/torch$site/torch/lib/libtorch_python.so" "/out/torch$site"/nvidia/*/include \
 && find "/out/torch$site" -name '*.a' -delete

FROM ${DEBIAN_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=build /out/runtime-packages /tmp/runtime-packages
RUN apt-get update -qq \
 && xargs -a /tmp/runtime-packages apt-get install -y -qq --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin moe4 \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/moe4 /var/lib/moe4/checkpoints \
 && install -d -m 0755 /data
# The wheel's libraries (torch/lib) and the CUDA runtime, cuBLAS, cuDNN, NCCL,
# ... it depends on (site-packages/nvidia): the bulk of the image, several GB.
# Same paths as in the build stage: the binaries' RUNPATH names torch/lib, and
# torch/lib finds nvidia/*/lib through its own $ORIGIN-relative RPATH. cuDNN
# loads parts of itself with dlopen, so whole directories come along, not
# only what ldd lists. No Python in this stage.
COPY --from=build /out/torch/ /
COPY --from=build /out/bin/ /usr/local/bin/
# The container toolkit mounts the driver's compute libraries only when asked.
# NVIDIA_VISIBLE_DEVICES is deliberately unset: the GPU must come from an
# explicit reservation (--gpus, compose, the k8s device plugin), never "all".
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001:10001
CMD ["moe4-worker", "--device", "cuda:0", "--checkpoint-dir", "/var/lib/moe4/checkpoints", "--data-root", "/data"]
