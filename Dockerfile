# syntax=docker/dockerfile:1
# leadrouter service image.
#   docker build -t leadrouter .
#   docker run --rm -e LEADROUTER_DATABASE_URL=... leadrouter migrate
#   docker run -p 8000:8000 -e LEADROUTER_DATABASE_URL=... leadrouter
# The local stack (Kafka, PostgreSQL, Prometheus) is deploy/docker-compose.yml.

# --- builder: build the wheel and install it with its runtime dependencies into /opt/venv ---
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src

# README.md* : the readme is optional for the build (metadata only), so a glob keeps COPY from failing.
COPY pyproject.toml README.md* ./
COPY router/ router/
COPY schemas/ schemas/
COPY services/ services/
COPY migrations/ migrations/

# Every runtime dependency ships manylinux wheels for CPython 3.11, so no compiler or apt is needed.
RUN python -m venv /opt/venv \
    && python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-cache-dir /wheels/leadrouter-*.whl \
    && /opt/venv/bin/leadrouter --help > /dev/null

# --- runtime: the venv, the example agreements, nothing else ---
FROM python:3.11-slim-bookworm AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    LEADROUTER_DATABASE_URL=sqlite+aiosqlite:////app/data/leadrouter.db

RUN groupadd --system --gid 10001 leadrouter \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin leadrouter \
    && mkdir -p /app/data \
    && chown 10001:10001 /app/data

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# Settings.agreement_path defaults to deploy/agreements/example.yaml, relative to WORKDIR.
COPY deploy/agreements/ /app/deploy/agreements/

USER 10001:10001

EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

ENTRYPOINT ["leadrouter"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
