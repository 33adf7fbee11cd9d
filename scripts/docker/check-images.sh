#!/usr/bin/env bash
# Builds the image of every service of the catalog (catalog/services.json) from
# services/Dockerfile on the local base image and proves them on a private Docker network,
# failing loudly on the first broken promise:
#   (a) the gateway, the only published container, serves /users (Alice and Bob) and the
#       /users/:id/orders aggregate through the other containers;
#   (b) no container runs as root, and the service user reads the image's compile cache;
#   (c) every container's HEALTHCHECK turns healthy within a bound;
#   (d) `docker stop` of one of two user-service instances during a stream of requests through
#       the gateway drops none, exits 0 and logs its drain;
#   (e) the image sizes;
#   (f) capacity: the images at the CPU and memory limits the stacks declare, 60 s of saturation
#       through the gateway (scripts/docker/check-capacity.ts): no OOM kill, no restart, no
#       failed request, and the req/s per gateway replica printed.
# Starts dockerd (installing docker.io first) when no engine answers, and stops it again at the
# end if it started it (KEEP_DOCKERD=1 keeps it). Removes its containers and network on exit.
# All traffic stays on 127.0.0.1 and the private network; every loop is bounded.
#
# Usage: scripts/docker/check-images.sh        (as root, from anywhere in the repository)
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
docker=/usr/bin/docker # Debian's client: the preinstalled /usr/local/bin/docker has no buildx
export DOCKER_BUILDKIT=1
base_image="${BASE_IMAGE:-platform/node:24}"
# The catalog, one line per service in start order: name, port, kind, callees (comma separated).
declare -A port=() calls=()
services=()
edge=""
while read -r name service_port kind callees; do
  services+=("$name")
  port[$name]=$service_port
  calls[$name]=$callees
  if [ "$kind" = edge ]; then edge=$name; fi
done < <(node -e '
  for (const s of require(process.argv[1])) console.log(s.name, s.port, s.kind, s.calls.join(",") || "-")
' "$repo/catalog/services.json")
[ ${#services[@]} -gt 0 ] && [ -n "$edge" ] || { echo "catalog/services.json lists no services or no edge service" >&2; exit 1; }
# Check (d) stops one of two instances of the service behind the edge's /users.
victim_service=user-service
run_id="platform-check-$$"
net="$run_id"
logs="$(mktemp -d "/tmp/$run_id.XXXXXX")"
containers=()
started_dockerd=""
load_pids=()

say() { printf '\n== %s\n' "$*"; }

cleanup() {
  local status=$?
  for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ ${#containers[@]} -gt 0 ]; then "$docker" rm -f "${containers[@]}" >/dev/null 2>&1 || true; fi
  "$docker" network rm "$net" >/dev/null 2>&1 || true
  if [ -n "$started_dockerd" ] && [ "${KEEP_DOCKERD:-0}" != 1 ]; then
    kill "$started_dockerd" 2>/dev/null || true
    # dockerd stops its containerd on the way out; give it the time it needs.
    for _ in $(seq 30); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 1; done
  fi
  rm -rf "$logs"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Prints the message and the tail of every container's log, then exits non-zero.
fail() {
  echo "FAILED: $*" >&2
  for c in "${containers[@]}"; do
    echo "--- last lines of $c" >&2
    "$docker" logs --tail 15 "$c" 2>&1 | cut -c1-400 >&2 || true
  done
  exit 1
}

# --- the engine ---------------------------------------------------------------------------
say "docker engine"
if [ ! -x /usr/bin/docker ] || ! command -v dockerd >/dev/null 2>&1; then
  echo "installing docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! "$docker" info >/dev/null 2>&1; then
  dockerd_log="/tmp/platform-dockerd.log"
  echo "starting dockerd (log: $dockerd_log)"
  dockerd >"$dockerd_log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 60); do "$docker" info >/dev/null 2>&1 && break; sleep 1; done
  "$docker" info >/dev/null 2>&1 || { tail -20 "$dockerd_log" >&2; fail "dockerd did not answer within 60 s"; }
fi
echo "engine $("$docker" version --format '{{.Server.Version}}'), client $("$docker" version --format '{{.Client.Version}}')"

# --- images -------------------------------------------------------------------------------
say "base image"
started=$SECONDS
bash scripts/docker/build-base-image.sh
echo "base image step: $((SECONDS - started)) s"

# The tag names the content: the build inputs as they are in the working tree (what `git`
# tracks plus new files it does not ignore, tests excluded like in .dockerignore) and the base
# image. A clean checkout of a commit always gets the same tag; never `latest`.
content_hash() {
  {
    git ls-files -z --cached --others --exclude-standard -- \
      package.json package-lock.json .dockerignore infra/package.json services |
      tr '\0' '\n' | grep -v -E '(^|/)(test|node_modules)/|\.test\.ts$' | sort |
      while IFS= read -r file; do if [ -f "$file" ]; then sha256sum "$file"; fi; done
    "$docker" image inspect --format '{{.Id}}' "$base_image"
  } | sha256sum | cut -c1-12
}
tag="$(content_hash)"

# npm ci inside the build trusts the CAs this machine trusts (a TLS-intercepting proxy's
# included), handed in as a BuildKit secret so no layer keeps it.
ca_file="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
ca_secret=()
if [ -s "$ca_file" ]; then ca_secret=(--secret "id=ca,src=$ca_file"); fi
for svc in "${services[@]}"; do
  say "build platform/$svc:$tag"
  started=$SECONDS
  "$docker" build --progress=plain -f services/Dockerfile \
    --build-arg "SERVICE=$svc" --build-arg "PORT=${port[$svc]}" --build-arg "NODE_IMAGE=$base_image" \
    "${ca_secret[@]}" -t "platform/$svc:$tag" . >"$logs/build-$svc.log" 2>&1 ||
    { tail -40 "$logs/build-$svc.log" >&2; fail "building platform/$svc:$tag"; }
  echo "built platform/$svc:$tag in $((SECONDS - started)) s"
done

# --- run them -----------------------------------------------------------------------------
say "run on network $net"
"$docker" network create "$net" >/dev/null
# run NAME SERVICE [docker run options...]: a container reachable on the network as NAME.
run() {
  local name=$1 svc=$2
  shift 2
  containers+=("$run_id-$name")
  "$docker" run -d --name "$run_id-$name" --network "$net" --network-alias "$name" \
    -e DRAIN_DELAY_MS=1000 -e LOG_LEVEL=info "$@" "platform/$svc:$tag" >/dev/null
}
# Each service once, in catalog order, with a static instance list (`<CALLEE>_URLS`) of every
# service it calls; only the edge service publishes its port. Two instances of $victim_service,
# so the gateway can fail over while one drains (check d). Each data service has its own
# embedded PGlite database (no DATABASE_URL) seeded with the same sample rows.
urls_of() { # the static instance list of a service, as its callers get it
  local svc=$1 list="http://$1:${port[$1]}"
  if [ "$svc" = "$victim_service" ]; then list="$list,http://$svc-2:${port[$svc]}"; fi
  printf '%s' "$list"
}
for svc in "${services[@]}"; do
  options=()
  if [ "${calls[$svc]}" != - ]; then
    IFS=, read -r -a callees <<<"${calls[$svc]}"
    for callee in "${callees[@]}"; do
      options+=(-e "$(tr 'a-z-' 'A-Z_' <<<"$callee")_URLS=$(urls_of "$callee")")
    done
  fi
  if [ "$svc" = "$edge" ]; then options+=(-p "127.0.0.1::${port[$svc]}"); fi
  run "$svc" "$svc" "${options[@]}"
  if [ "$svc" = "$victim_service" ]; then run "$svc-2" "$svc" "${options[@]}"; fi
done
gateway_url="http://$("$docker" port "$run_id-$edge" "${port[$edge]}/tcp" | head -1)"
echo "containers: ${containers[*]}"
echo "$edge published at $gateway_url"
for c in "${containers[@]}"; do
  [ "$c" = "$run_id-$edge" ] && continue
  [ -z "$("$docker" port "$c")" ] || fail "$c publishes a port; only $edge should"
done

# (c) health: the HEALTHCHECK probes /health/ready every 5 s.
say "(c) health checks"
started=$SECONDS
health_bound="${HEALTH_TIMEOUT_S:-90}"
for c in "${containers[@]}"; do
  while :; do
    status="$("$docker" inspect --format '{{.State.Status}} {{.State.Health.Status}}' "$c")"
    [ "$status" = "running healthy" ] && break
    case "$status" in running*) ;; *) fail "$c is $status before turning healthy" ;; esac
    [ $((SECONDS - started)) -lt "$health_bound" ] || fail "$c not healthy within $health_bound s ($status)"
    sleep 1
  done
  echo "$c: healthy after $((SECONDS - started)) s"
done

# (a) requests through the gateway only.
say "(a) requests through the gateway"
users="$(curl -fsS --max-time 10 "$gateway_url/users")" || fail "GET /users through the gateway"
echo "GET /users -> $users"
{ grep -q '"Alice"' <<<"$users" && grep -q '"Bob"' <<<"$users"; } || fail "GET /users did not list Alice and Bob"
orders="$(curl -fsS --max-time 10 "$gateway_url/users/1/orders")" || fail "GET /users/1/orders through the gateway"
echo "GET /users/1/orders -> $orders"
{ grep -q '"Alice"' <<<"$orders" && grep -q '"orders"' <<<"$orders"; } || fail "GET /users/1/orders did not aggregate Alice's orders"

# (b) every process runs as a non-root user, and node itself is PID 1 (it gets the SIGTERM).
say "(b) non-root user, node as PID 1"
for c in "${containers[@]}"; do
  uid="$("$docker" exec "$c" id -u)"
  [ "$uid" != 0 ] || fail "$c runs as root"
  pid1="$("$docker" exec "$c" cat /proc/1/cmdline | tr '\0' ' ')"
  [[ "$pid1" == "node "* ]] || fail "$c: PID 1 is '$pid1', not node"
  echo "$c: uid $uid, PID 1: $pid1"
  # The image's compile cache is per user id: the service's user must find its entries there.
  accepted="$("$docker" exec --env NODE_DEBUG_NATIVE=COMPILE_CACHE "$c" node --input-type=module -e "await import('./dist/app.js')" 2>&1 |
    grep -c 'was accepted' || true)"
  [ "$accepted" -gt 0 ] || fail "$c: the service user reads nothing from the image's compile cache (NODE_COMPILE_CACHE)"
  echo "$c: $accepted modules from the image's compile cache"
done

# (d) graceful stop under load. Workers request /users through the gateway (which balances over
# both user-service instances) until told to stop, at most $max_per_worker requests and
# $load_bound s each, with a pause between requests: a slow stream, far below the gateway's
# rate limit. Every status code is recorded; curl writes 000 when it gets no response.
say "(d) docker stop of $victim_service-2 under load"
victim="$run_id-$victim_service-2"
workers=4 max_per_worker=400 load_bound=60
load_worker() {
  local out=$1 deadline=$((SECONDS + load_bound)) n=0
  while [ ! -e "$logs/stop-load" ] && [ $n -lt $max_per_worker ] && [ $SECONDS -lt $deadline ]; do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "$gateway_url/users" >>"$out" || true
    n=$((n + 1))
    sleep 0.05
  done
}
for i in $(seq "$workers"); do
  load_worker "$logs/load-$i.codes" &
  load_pids+=($!)
done
sleep 2 # the stream is flowing to both instances before the signal
started=$SECONDS
"$docker" stop -t 30 "$victim" >/dev/null
stop_seconds=$((SECONDS - started))
sleep 3 # and keeps flowing after the instance is gone, to the one left
touch "$logs/stop-load"
for pid in "${load_pids[@]}"; do wait "$pid"; done
load_pids=()

total="$(cat "$logs"/load-*.codes | wc -l)"
failed="$(cat "$logs"/load-*.codes | grep -c -v '^2' || true)"
exit_code="$("$docker" inspect --format '{{.State.ExitCode}}' "$victim")"
victim_log="$("$docker" logs "$victim" 2>&1)"
# Requests the instance still completed after it got the signal: proof the stream reached it.
during_drain="$(sed -n '/"message":"draining"/,$p' <<<"$victim_log" | grep -c '"message":"request completed"' || true)"
echo "docker stop took $stop_seconds s; exit code $exit_code"
echo "requests: $total, not 2xx: $failed ($(cat "$logs"/load-*.codes | sort | uniq -c | tr -s ' ' | tr '\n' ' '))"
echo "requests user-service-2 completed after SIGTERM: $during_drain"
grep '"message":"draining"\|"message":"stopped"' <<<"$victim_log" | cut -c1-300
[ "$total" -ge 50 ] || fail "only $total requests ran during the stop; the check proves nothing"
[ "$failed" -eq 0 ] || fail "$failed of $total requests failed while user-service-2 stopped"
[ "$exit_code" -eq 0 ] || fail "user-service-2 exited with $exit_code, not 0 (killed instead of draining?)"
grep -q '"message":"draining"' <<<"$victim_log" || fail "user-service-2 did not log draining"
grep -q '"message":"stopped"' <<<"$victim_log" || fail "user-service-2 did not log stopped"
# The survivors are unaffected.
for c in "${containers[@]}"; do
  [ "$c" = "$victim" ] && continue
  [ "$("$docker" inspect --format '{{.State.Health.Status}}' "$c")" = healthy ] || fail "$c is no longer healthy"
done

# (e) sizes.
say "(e) images"
"$docker" image ls --format 'table {{.Repository}}:{{.Tag}}\t{{.Size}}' |
  grep -E "^(REPOSITORY|$base_image|platform/($(IFS='|'; echo "${services[*]}")):$tag)"
# (f) capacity, last: the containers above are gone first, so the run has the machine to itself.
say "(f) capacity at the declared limits"
"$docker" rm -f "${containers[@]}" >/dev/null
containers=()
# Node 24 from the repository (npm ci brings it): the script is TypeScript.
node_bin="$repo/node_modules/.bin/node"
[ -x "$node_bin" ] || node_bin=node
"$node_bin" scripts/docker/check-capacity.ts --tag "$tag" || fail "capacity at the declared limits"

echo
echo "images: $(for svc in "${services[@]}"; do printf 'platform/%s:%s ' "$svc" "$tag"; done)"
echo "check-images: all checks passed"
