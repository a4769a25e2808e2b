# syntax=docker/dockerfile:1
#
# talkstats in a container: `talkstats serve` on the embedded SQLite store, run by an
# unprivileged user, with the database in the volume /data.
#
#   docker build -t talkstats .
#   docker run --rm -it -v talkstats-data:/data talkstats talkstats account create ...
#   docker run -d -p 127.0.0.1:8080:8080 -v talkstats-data:/data talkstats
#
# compose.yaml runs the demo with this image; deploy/compose.production.yaml runs it on
# PostgreSQL and Redis behind Caddy (docs/operations.md, "Production deployment").
# Settings come from TALKSTATS_* variables (`docker run -e TALKSTATS_DEFAULT_ACCOUNT=acme
# ...`) or flags after the command.

ARG PYTHON_VERSION=3.12

# --- build: install talkstats and its dependencies into a virtual environment -----------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/talkstats
COPY pyproject.toml README.md /build/
COPY src /build/src
# with the extras a production deployment needs: the PostgreSQL store and Redis rate limits
RUN /opt/talkstats/bin/pip install '/build[postgres,redis]'

# --- run: the same base, the environment, no build leftovers ----------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm
ENV PATH=/opt/talkstats/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TALKSTATS_DATABASE_URL=sqlite:////data/talkstats.db \
    TALKSTATS_HOST=0.0.0.0 \
    TALKSTATS_PORT=8080
RUN groupadd --system --gid 10001 talkstats \
    && useradd --system --uid 10001 --gid talkstats --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin talkstats \
    && mkdir /data \
    && chown talkstats:talkstats /data
COPY --from=build /opt/talkstats /opt/talkstats
USER talkstats
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# /healthz answers 200 while the process serves; the image has no curl, Python asks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TALKSTATS_PORT', '8080'), timeout=4)" || exit 1
CMD ["talkstats", "serve"]
