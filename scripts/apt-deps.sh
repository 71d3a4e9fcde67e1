#!/usr/bin/env bash
# Installs the Debian packages swapadmin's tools and tests need, only when one is missing.
set -euo pipefail
packages=(
  python3 python3-venv python3-dev # Debian's Python for the venv: runnable by make run's account
  redis-server postgresql          # the real services the suite talks to
  chromium                         # browser tests (Playwright drives /usr/bin/chromium)
  fio                              # benchmarks: the reference for page I/O
  e2fsprogs xfsprogs btrfs-progs   # swap files on ext4, xfs and btrfs images
  util-linux fdisk kmod            # mkswap, swapon, blkid, losetup, sfdisk, modprobe
  strace                           # a fault test delays one real fallocate to fill the disk meanwhile
  faketime                         # a worker whose clock is 60 s behind the database, for real
  fuse3 libfuse3-dev               # a FUSE file that returns EIO on chosen pages (fault tests)
  gcc libc6-dev                    # the install compiles the benchmark's C loop (backends/_aioloop.c)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "apt-deps: missing ${missing[*]}; run 'make deps' as root" >&2
    exit 1
  fi
  echo "apt-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
