# HAProxy from Debian's package (the version tests/serving/test_shards.py runs), with deploy/haproxy.cfg; the
# shards' addresses come from MOCKFABRIC_SHARD_1, _2 (docker-compose.yml's `sharded` profile sets them).
# Build (from the repository root): docker build -f deploy/haproxy.Dockerfile -t mockfabric-haproxy .
FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/haproxy.cfg /etc/haproxy/haproxy.cfg
USER haproxy
ENV MOCKFABRIC_HAPROXY_BIND=:8080
EXPOSE 8080
# -db: in the foreground; docker stop's SIGTERM stops it at once (streams are cut, as a stopping shard cuts them)
ENTRYPOINT ["haproxy", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
