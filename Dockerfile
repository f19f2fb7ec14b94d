# clomo-sync as a container: `docker build -t clomo-sync .`
# Default command: the scheduler. One-off runs: `docker run ... clomo-sync sync --all`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Installed as the README says, into /opt/clomo-sync/.venv, then the `ldap-c` extra: python-ldap
# builds against libldap's headers, which are removed again; the libraries it links stay.
WORKDIR /opt/clomo-sync
COPY pyproject.toml README.md ./
COPY sync ./sync
COPY config ./config
RUN python3 -m venv .venv && .venv/bin/pip install -q .
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libldap2-dev libsasl2-dev \
    && .venv/bin/pip install -q ".[ldap-c]" \
    && apt-get purge -y --auto-remove gcc libc6-dev libldap2-dev libsasl2-dev \
    && apt-get install -y --no-install-recommends libldap-2.5-0 libsasl2-2 \
    && rm -rf /var/lib/apt/lists/* \
    && .venv/bin/clomo-sync --version | grep -q "LDAP read: libldap"

# A user without privileges, working in a volume. Relative paths in the configuration are
# relative to the file's folder (/etc/clomo-sync, read-only): give a SQLite file or an outbox
# folder as an absolute path in the volume (sqlite:////var/lib/clomo-sync/clomo-sync.db).
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/clomo-sync --create-home clomo
USER 10001:10001
WORKDIR /var/lib/clomo-sync
VOLUME ["/var/lib/clomo-sync"]
ENV PATH=/opt/clomo-sync/.venv/bin:$PATH \
    CLOMO_SYNC_CONFIG=/etc/clomo-sync/clomo-sync.toml

# The store answers with the current schema (on a fleet: and its queue can be read).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["clomo-sync", "health"]

# SIGTERM (docker stop) lets a run in progress finish within scheduler.stop_timeout_seconds
# (fleet.stop_timeout_seconds for `worker`);
# give `docker stop -t` a little more than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["clomo-sync"]
CMD ["scheduler"]
