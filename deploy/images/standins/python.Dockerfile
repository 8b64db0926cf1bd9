# STAND-IN for `python:3.11-slim-bookworm`, used only where no image registry answers (scripts/images.sh builds it
# when `docker pull` fails). It is Debian bookworm's own Python 3.11 (3.11.2, /usr/bin/python3.11) on a minbase
# root file system made by mmdebstrap from the host's Debian mirror, not the upstream image (which builds 3.11.x
# from source into /usr/local). The project's images need only `python3.11 -m venv` and pip from it.
ARG DEBIAN_BASE=genrm-standin/debian:bookworm
FROM ${DEBIAN_BASE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
       ca-certificates \
    && ln -s /usr/bin/python3 /usr/local/bin/python \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
LABEL org.genrm.standin="python:3.11-slim-bookworm (Debian bookworm python3, built by scripts/images.sh)"
ENV LANG=C.UTF-8
CMD ["python3"]
