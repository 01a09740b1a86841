# OpenRoom application image: Python server + front-end dependencies.
FROM python:3.11-slim-bookworm

# Node.js and npm from Debian, only to install the front-end packages (web/package.json).
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The project (see .dockerignore for what stays out), then the package and front-end deps.
# Installed in place (-e) so the server finds web/node_modules next to its code.
COPY . .
RUN pip install -e . \
    && npm ci --prefix web \
    && npm cache clean --force

# Run unprivileged; var/ is the default data_dir (generated token secret, small files).
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin openroom \
    && mkdir -p /app/var \
    && chown openroom:openroom /app/var
USER openroom

EXPOSE 8080
CMD ["openroom", "serve", "--host", "0.0.0.0", "--port", "8080"]
