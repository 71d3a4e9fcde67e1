# One image for every role: web (unprivileged), worker (root, privileged) and beat.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends \
        util-linux fdisk e2fsprogs btrfs-progs xfsprogs kmod procps \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY backends backends
COPY swapadmin swapadmin
COPY templates templates
COPY static static
COPY manage.py ./
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home /app swapadmin \
    && mkdir -p /data && chown swapadmin /data
ENV SWAPADMIN_DATA_DIR=/data PYTHONUNBUFFERED=1
RUN SECRET_KEY=build python manage.py collectstatic --noinput
EXPOSE 8000
