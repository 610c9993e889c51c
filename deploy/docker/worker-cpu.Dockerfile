# moe4-worker (and moe4-train) on Debian 12 with Debian's LibTorch, CPU only:
# for laptops, CPU boxes and CI-sized demos. GPUs: worker-cuda.Dockerfile.
#
#   docker build -f deploy/docker/worker-cpu.Dockerfile -t moe4/worker-cpu .
#
# The context is the repository root. Runs as uid 10001; /var/lib/moe4 is the
# checkpoint volume, datasets are mounted (read-only) at /data.
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
ENV CCACHE_DISABLE=1 DEBIAN_FRONTEND=noninteractive
COPY deploy/install-deps.sh /src/deploy/install-deps.sh
RUN /src/deploy/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
# A LibTorch translation unit needs ~1.5 GB to compile: MOE4_BUILD_JOBS caps
# the parallelism on small builders (docker build --build-arg MOE4_BUILD_JOBS=2).
ARG MOE4_BUILD_JOBS=0
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DMOE4_WITH_WORKER=ON -DMOE4_BUILD_TESTS=OFF -DMOE4_BUILD_BENCH=OFF \
 && cmake --build /build --target moe4-worker moe4-train -j "$( [ "$MOE4_BUILD_JOBS" -gt 0 ] && echo "$MOE4_BUILD_JOBS" || nproc )" \
 && mkdir -p /out/bin \
 && install -s -m 0755 /build/worker/moe4-worker /build/worker/moe4-train /out/bin/ \
 && /src/deploy/docker/runtime-packages.sh /out/bin/* > /out/runtime-packages

FROM ${DEBIAN_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=build /out/runtime-packages /tmp/runtime-packages
# The list already names the OpenBLAS the builder resolved libblas.so.3 to
# (install-deps.sh picks the OpenMP one: Debian's reference BLAS is ~30x
# slower); installing it here makes it the libblas.so.3 alternative again.
# A new named volume mounted on /var/lib/moe4/checkpoints takes this
# directory's owner, so the non-root worker can write without a chown step.
RUN apt-get update -qq \
 && xargs -a /tmp/runtime-packages apt-get install -y -qq --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin moe4 \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/moe4 /var/lib/moe4/checkpoints \
 && install -d -m 0755 /data
COPY --from=build /out/bin/ /usr/local/bin/
USER 10001:10001
CMD ["moe4-worker", "--device", "cpu", "--checkpoint-dir", "/var/lib/moe4/checkpoints", "--data-root", "/data"]
