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
COPY setup.py manage.py ./
# The benchmark's C loop (backends/_aioloop.c) is compiled by the install, in place (-e):
# the processes run from /app, whose backends/ must be the one holding it. The compiler goes
# again in the same layer.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir -e . \
    && apt-get purge -y --auto-remove gcc libc6-dev && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /app swapadmin \
    && mkdir -p /data && chown swapadmin /data
ENV SWAPADMIN_DATA_DIR=/data PYTHONUNBUFFERED=1
RUN SECRET_KEY=build python manage.py collectstatic --noinput
EXPOSE 8000
