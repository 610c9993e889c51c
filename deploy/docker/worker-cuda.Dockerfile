# moe4-worker (and moe4-train) for NVIDIA GPUs, built against an official
# CUDA LibTorch. Debian's libtorch-dev is CPU-only, hence this second image.
#
# Build (on any x86_64 host with Docker; no GPU needed to build):
#   1. Pick the LibTorch zip on pytorch.org (Get Started > LibTorch > Linux >
#      C++/Java > your CUDA): take the "cxx11 ABI", shared-with-deps one.
#      Debian's g++ and every library moe4 links (gRPC, protobuf, yaml-cpp)
#      use the C++11 ABI; the pre-cxx11 zip fails to link against them.
#   2. Set CUDA_VERSION to the CUDA of that zip (cu124 -> 12.4): LibTorch's
#      CMake package refuses an nvcc of another version.
#   3. docker build -f deploy/docker/worker-cuda.Dockerfile -t moe4/worker-cuda \
#        --build-arg CUDA_VERSION=12.4 \
#        --build-arg LIBTORCH_URL=https://download.pytorch.org/libtorch/cu124/libtorch-cxx11-abi-shared-with-deps-2.5.1%2Bcu124.zip \
#        --build-arg LIBTORCH_SHA256=<sha256 of that zip> .
#   Air-gapped: serve the zip from any local HTTP server and point
#   LIBTORCH_URL at it (with --network host if it listens on loopback).
#
# Run: the host needs the NVIDIA driver (>= the minimum of CUDA_VERSION) and
# the NVIDIA Container Toolkit; the GPU comes from `--gpus device=N` or the
# compose file's device reservation, and appears inside as cuda:0.
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
ARG CUDA_VERSION=12.4
ENV CCACHE_DISABLE=1 DEBIAN_FRONTEND=noninteractive
# LibTorch's CMake config needs the CUDA toolkit itself (nvcc, cudart, nvtx,
# the math libraries' headers) even though moe4 compiles no CUDA code. NVIDIA's
# Debian 12 repository provides it; the whole toolkit stays in this stage.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends ca-certificates curl unzip \
 && curl -fsSLo /tmp/cuda-keyring.deb \
      https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb \
 && dpkg -i /tmp/cuda-keyring.deb && rm /tmp/cuda-keyring.deb \
 && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends "cuda-toolkit-$(echo "$CUDA_VERSION" | tr . -)" \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/local/cuda/bin:$PATH
# Everything else from Debian, as on a developer machine, minus libtorch-dev
# (two Torch packages on one CMake path would be a lottery).
COPY deploy/install-deps.sh /src/deploy/install-deps.sh
RUN MOE4_NO_WORKER=1 /src/deploy/install-deps.sh && rm -rf /var/lib/apt/lists/*
ARG LIBTORCH_URL=
ARG LIBTORCH_SHA256=
RUN test -n "$LIBTORCH_URL" \
      || { echo "worker-cuda: pass --build-arg LIBTORCH_URL=... (see the top of this file)" >&2; exit 1; } \
 && curl -fsSL "$LIBTORCH_URL" -o /tmp/libtorch.zip \
 && if [ -n "$LIBTORCH_SHA256" ]; then echo "$LIBTORCH_SHA256  /tmp/libtorch.zip" | sha256sum -c -; \
    else echo "worker-cuda: WARNING: no LIBTORCH_SHA256, download not verified" >&2; fi \
 && unzip -q /tmp/libtorch.zip -d /opt && rm /tmp/libtorch.zip \
 && test -f /opt/libtorch/share/cmake/Torch/TorchConfig.cmake
COPY . /src
# TORCH_CUDA_ARCH_LIST only silences LibTorch's GPU probe (there is no GPU in
# a build); the kernels are LibTorch's own and cover every recent NVIDIA GPU.
ARG MOE4_BUILD_JOBS=0
RUN TORCH_CUDA_ARCH_LIST="7.5;8.0;8.6;8.9;9.0" cmake -S /src -B /build -G Ninja \
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=/opt/libtorch \
      -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc \
      -DMOE4_WITH_WORKER=ON -DMOE4_BUILD_TESTS=OFF -DMOE4_BUILD_BENCH=OFF \
 && cmake --build /build --target moe4-worker moe4-train -j "$( [ "$MOE4_BUILD_JOBS" -gt 0 ] && echo "$MOE4_BUILD_JOBS" || nproc )" \
 && mkdir -p /out/bin \
 && install -s -m 0755 /build/worker/moe4-worker /build/worker/moe4-train /out/bin/ \
 && MOE4_BUNDLED_LIB_DIRS=/opt/libtorch/lib /src/deploy/docker/runtime-packages.sh /out/bin/* > /out/runtime-packages

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
# LibTorch's libraries with the CUDA runtime, cuBLAS and cuDNN it bundles (the
# bulk of the image: several GB). Same path as in the build stage, where the
# binaries' RUNPATH points. cuDNN loads parts of itself with dlopen, so the
# whole directory comes along, not only what ldd lists.
COPY --from=build /opt/libtorch/lib/ /opt/libtorch/lib/
COPY --from=build /out/bin/ /usr/local/bin/
# The container toolkit mounts the driver's compute libraries only when asked.
# NVIDIA_VISIBLE_DEVICES is deliberately unset: the GPU must come from an
# explicit reservation (--gpus, compose, the k8s device plugin), never "all".
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001:10001
CMD ["moe4-worker", "--device", "cuda:0", "--checkpoint-dir", "/var/lib/moe4/checkpoints", "--data-root", "/data"]
