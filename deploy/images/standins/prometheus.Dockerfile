# STAND-IN for `prom/prometheus:v2.42.0`, used only where no image registry answers (scripts/images.sh builds it
# when `docker pull` fails): Debian bookworm's `prometheus` package (2.42.0, the version the shipped config and
# rules are tested with) with the upstream image's entry point, user, data folder and busybox-style `wget` for the
# compose healthcheck.
ARG DEBIAN_BASE=genrm-standin/debian:bookworm
FROM ${DEBIAN_BASE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus wget \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /prometheus /etc/prometheus && chown nobody:nogroup /prometheus
LABEL org.genrm.standin="prom/prometheus:v2.42.0 (Debian bookworm prometheus, built by scripts/images.sh)"
USER nobody
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
