#!/usr/bin/env bash
# make bench: every bench/bench_*.py with the venv's python, one after the other (they
# share the disk, so running them together would measure each other). Benchmarks are not
# tests: they print tables for docs/BENCHMARKS.md and fail only if a tool fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${VENV:-.venv}/bin/python"
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
     "kernel $(uname -r), /var/tmp on $(df --output=fstype /var/tmp | tail -1), $(date -u +%F)"
for script in bench/bench_*.py; do
    echo
    echo "== $script"
    "$PY" "$script"
done
