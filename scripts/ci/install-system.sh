#!/usr/bin/env bash
# Installs the real servers the test suites run against, from Debian's packages:
# PostgreSQL, Prometheus (with promtool) and Consul; and wrk, the load generator of the
# capacity check (scripts/docker/check-capacity.ts). Consul is not in Debian 12, so the
# bullseye suite is added with a low pin priority and used for that one package.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
need=()
command -v /usr/lib/postgresql/15/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v wrk >/dev/null 2>&1 || need+=(wrk)

if ! command -v consul >/dev/null 2>&1; then
  if [ ! -f /etc/apt/sources.list.d/bullseye.list ]; then
    echo "deb http://deb.debian.org/debian bullseye main" > /etc/apt/sources.list.d/bullseye.list
    printf 'Package: *\nPin: release n=bullseye\nPin-Priority: 100\n' > /etc/apt/preferences.d/bullseye
  fi
  apt-get update -qq
  apt-get install -y -qq -t bullseye consul >/dev/null
fi

if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The packages start their own daemons on default ports; the tests start private ones.
for svc in postgresql prometheus; do
  (service "$svc" stop >/dev/null 2>&1 || true)
done
echo "system packages: $(consul version | head -1), $(promtool --version 2>&1 | head -1), $(/usr/lib/postgresql/15/bin/postgres --version)"
