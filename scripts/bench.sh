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
    args=()
    # The live fleet at 1,000 hosts, which these 2 CPUs can simulate at the real rate; 5,000
    # saturate them with the simulated hosts' own CPU (docs/BENCHMARKS-control-plane.md, "The
    # live fleet"); `make bench-live` runs the 5,000.
    [ "$script" = bench/bench_fleet_live.py ] && args=(--hosts 1000 --seconds 40)
    "$PY" "$script" "${args[@]}"
done
