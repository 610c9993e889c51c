# moe4-coordinator and moe4ctl on Debian 12; no LibTorch.
#
#   docker build -f deploy/docker/coordinator.Dockerfile -t moe4/coordinator .
#
# The context is the repository root. Runs as uid 10001; the entry point turns
# MOE4_DB_PASSWORD_FILE into libpq's PGPASSWORD (see entrypoint.sh).
# Only classic-builder Dockerfile syntax, so it builds with or without BuildKit.
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
# A ccache inside a throwaway layer only costs time and space.
ENV CCACHE_DISABLE=1 DEBIAN_FRONTEND=noninteractive
# Same package list as every developer machine and CI, so the image builds
# with what the tests ran against. Copied alone first: the layer survives
# source edits.
COPY deploy/install-deps.sh /src/deploy/install-deps.sh
RUN MOE4_NO_WORKER=1 /src/deploy/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DMOE4_WITH_WORKER=OFF -DMOE4_BUILD_TESTS=OFF -DMOE4_BUILD_BENCH=OFF \
 && cmake --build /build --target moe4-coordinator moe4ctl \
 && mkdir -p /out/bin \
 && install -s -m 0755 /build/coordinator/moe4-coordinator /build/ctl/moe4ctl /out/bin/ \
 && /src/deploy/docker/runtime-packages.sh /out/bin/* > /out/runtime-packages

FROM ${DEBIAN_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=build /out/runtime-packages /tmp/runtime-packages
# Shared libraries only (ldd of the binaries, see runtime-packages.sh): no
# compiler, no headers, no PostgreSQL server.
RUN apt-get update -qq \
 && xargs -a /tmp/runtime-packages apt-get install -y -qq --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin moe4
COPY --from=build /out/bin/ /usr/local/bin/
COPY deploy/docker/entrypoint.sh /usr/local/bin/moe4-entrypoint
# Numeric, so Kubernetes' runAsNonRoot can check it without /etc/passwd.
USER 10001:10001
EXPOSE 50051 9464
ENTRYPOINT ["moe4-entrypoint"]
CMD ["moe4-coordinator", "--listen", "0.0.0.0:50051", "--http-listen", "0.0.0.0:9464"]
