# syntax=docker/dockerfile:1
#
# ALL CDS (CDS Hooks 2.0) service image.
#
#   docker build -t all-cds .
#   docker run -p 8080:8080 \
#       -v /srv/all-cds/trusted-issuers.json:/etc/cdshooks/trusted-issuers.json:ro \
#       -v all-cds-data:/var/lib/cdshooks \
#       all-cds
#
# Authentication is REQUIRED (CDSHOOKS_AUTH=required) and cannot be switched off in this image:
# `cdshooks serve` refuses to disable auth on a non-loopback bind, and we bind 0.0.0.0.
# The trusted issuers file (CDSHOOKS_TRUSTED_ISSUERS: JSON list of {iss, jwks | jwks_url,
# fhir_servers}) MUST be mounted at /etc/cdshooks/trusted-issuers.json (or the variable pointed
# elsewhere); without it the service exits at start with a one-line reason instead of running
# a service that answers every call 401.
# Put TLS in front (reverse proxy) and set CDSHOOKS_PUBLIC_BASE_URL to the external https URL so
# the JWT `aud` check matches what the EHR signs. CDSHOOKS_CORS_ORIGINS lists browser origins.

############################
# build stage: dependencies in their own layer (pinned by constraints.txt), then the package
############################
FROM python:3.11.14-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
RUN python -m venv /opt/venv
# Layer 1 - dependencies only: rebuilt when pyproject.toml or constraints.txt change, not when the
# code does. The requirement list (runtime + the `postgres` extra) is read from pyproject.toml.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['postgres']))" > requirements.txt \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt -r requirements.txt
# Layer 2 - the package itself, without touching the dependency layer
COPY README.md ./
COPY cdshooks ./cdshooks
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps -c constraints.txt .

############################
# runtime stage
############################
FROM python:3.11.14-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CDSHOOKS_AUTH=required \
    CDSHOOKS_PORT=8080 \
    CDSHOOKS_DATA_DIR=/var/lib/cdshooks \
    CDSHOOKS_TRUSTED_ISSUERS=/etc/cdshooks/trusted-issuers.json

# A fixed, unprivileged uid/gid so volume ownership is predictable across rebuilds.
RUN groupadd --system --gid 10001 cdshooks \
    && useradd --system --uid 10001 --gid cdshooks --home-dir /var/lib/cdshooks \
       --no-create-home --shell /usr/sbin/nologin cdshooks \
    && mkdir -p /var/lib/cdshooks /etc/cdshooks \
    && chown cdshooks:cdshooks /var/lib/cdshooks

COPY --from=build /opt/venv /opt/venv

USER 10001:10001
WORKDIR /var/lib/cdshooks

# SQLite store (replay cache, card audit, feedback), audit key, Prometheus multiprocess dir.
VOLUME ["/var/lib/cdshooks"]
EXPOSE 8080

# slim has no curl: ask /health with the Python that is already there (non-2xx raises -> exit 1),
# on the port the service was configured with (CDSHOOKS_PORT, which `cdshooks serve --port` reads).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('CDSHOOKS_PORT', '8080'), timeout=4); sys.exit(0 if r.status == 200 else 1)"]

# Exec form: gunicorn's master (started by `cdshooks serve`) is PID 1 and receives SIGTERM.
# The port comes from CDSHOOKS_PORT (`docker run -e CDSHOOKS_PORT=9090 -p 9090:9090 ...`);
# extra flags (e.g. `--workers 4`) can be appended as the container command.
ENTRYPOINT ["cdshooks", "serve", "--host", "0.0.0.0"]
