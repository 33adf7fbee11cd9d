#!/usr/bin/env bash
# Runs a command while a busy loop keeps one CPU core saturated, the way a second build or a load
# test would on a shared machine: the suites must not depend on a quiet CPU to pass. The loop is
# bounded (BURNER_MAX_SECONDS, default 3600) and stopped when the command ends, whatever its exit.
#
# Usage: scripts/ci/with-cpu-burner.sh <command> [args...]
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 <command> [args...]" >&2; exit 2; }

max_seconds="${BURNER_MAX_SECONDS:-3600}"
node -e "const end = Date.now() + ${max_seconds} * 1000; while (Date.now() < end) {}" &
burner=$!
trap 'kill "$burner" 2>/dev/null || true' EXIT
echo "cpu burner: pid $burner keeps one core busy while: $*"
"$@"
