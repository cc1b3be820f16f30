# Drover's programs in one image: drover-producer (the CLI and `serve`, the
# control plane), drover-worker, drover-aggregator, and drover-broker (the
# embedded broker, for demos only).  The Helm chart picks the program with
# the container's command.
#
# The build stage runs the README's own steps (scripts/install-deps.sh, then
# make build), so the image builds exactly as a developer's machine does,
# with --build: without the test tools (a browser, Helm, promtool).
# The runtime stage is Debian 12 slim with only scripts/runtime-packages.txt
# and runs as an unprivileged user; the cache and the local targets root are
# the only places it writes (mount volumes there with a read-only root).

FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/
RUN scripts/install-deps.sh --build
COPY . .
RUN rm -rf build && make build DEPS=--build && \
    mkdir -p /out && cp build/drover-producer build/drover-worker build/drover-aggregator build/drover-broker /out/

FROM debian:12-slim
COPY scripts/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update && \
    grep -v '^#' /tmp/runtime-packages.txt | xargs apt-get install -y --no-install-recommends && \
    rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/drover --create-home drover && \
    mkdir -p /var/cache/drover /var/lib/drover/targets && \
    chown -R drover:drover /var/cache/drover /var/lib/drover
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
VOLUME ["/var/cache/drover"]
# Workers serve /healthz and /metrics here; so do the aggregator and the control plane.
EXPOSE 8080
ENV DROVER_HTTP=0.0.0.0:8080
ENTRYPOINT ["/usr/local/bin/drover-worker"]
CMD ["run"]
