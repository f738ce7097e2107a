#!/usr/bin/env bash
# A Docker engine stand-in for the kitaru-docker tests, set up from this repo
# only: rootful podman serving the Docker API on a unix socket, docker-registry on
# 127.0.0.1:5001, and two offline base images (no Docker Hub):
#   localhost/kitaru/busybox:static          busybox-static FROM scratch (~2 MB)
#   localhost/kitaru/debian-python:bookworm  debootstrap'ed Debian 12 + python3 + venv (~180 MB)
# Idempotent: each step is skipped when already done (a second run takes about a second).
# Prints, on stdout, the variables to use:  eval "$(bash scripts/standins/podman.sh)"
#   export DOCKER_HOST=unix:///tmp/kitaru-standins/podman.sock
#   export KITARU_DOCKER_REGISTRY=127.0.0.1:5001
# Exit 77: podman cannot run on this machine at all (the message says why); any other
# non-zero exit is a failure of the setup.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="${KITARU_STANDINS_RUN:-/tmp/kitaru-standins}"
CACHE="${KITARU_CACHE:-$HOME/.cache/kitaru}"
SOCK="$RUN/podman.sock"
REGISTRY=127.0.0.1:5001
BUSYBOX_IMAGE=localhost/kitaru/busybox:static
DEBIAN_IMAGE=localhost/kitaru/debian-python:bookworm
# bump when the recipe of an image changes: images with another recipe label are rebuilt
RECIPE=1
PACKAGES=(podman docker-registry debootstrap busybox-static runc curl)

say() { echo "podman.sh: $*" >&2; }
cannot() { say "podman cannot run here: $*"; exit 77; }

[ "$(uname -s)" = Linux ] || cannot "not Linux ($(uname -s))"
[ "$(id -u)" = 0 ] || cannot "needs root for rootful podman and apt-get (running as uid $(id -u))"
command -v apt-get >/dev/null || cannot "no apt-get (the recipe is for Debian/Ubuntu)"

mkdir -p "$RUN"
exec 9>"$RUN/setup.lock"
flock 9   # concurrent test workers wait for one setup

# -- packages ---------------------------------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} (about 30 s)"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >"$RUN/apt.log" 2>&1 || { tail -n 20 "$RUN/apt.log" >&2; exit 1; }
fi

# -- /etc/containers ----------------------------------------------------------------------------
# host namespaces (containers reach 127.0.0.1 services), runc with
# cgroupfs (no systemd); `cgroups = "disabled"` would break runc, so cgroups stay default.
changed=0
write_if_changed() {  # path, content on stdin
  local tmp; tmp="$(mktemp)"; cat >"$tmp"
  if ! cmp -s "$tmp" "$1"; then
    mkdir -p "$(dirname "$1")"; mv "$tmp" "$1"; chmod 644 "$1"; say "wrote $1"; changed=1
  else
    rm -f "$tmp"
  fi
}
# overlay when the kernel mounts it (a container then starts in ~0.3 s whatever the image
# size); else vfs, which copies the whole image for every container (~10 s for 250 MB).
# Each driver has its own graphroot: switching never meets a store of the other driver.
overlay_works() {
  local d; d="$(mktemp -d)"; mkdir -p "$d"/{l,u,w,m}
  if mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m" 2>/dev/null; then
    umount "$d/m"; rm -rf "$d"; return 0
  fi
  rm -rf "$d"; return 1
}
if [ -n "${KITARU_PODMAN_DRIVER:-}" ]; then driver=$KITARU_PODMAN_DRIVER
elif overlay_works; then driver=overlay
else driver=vfs; fi
graphroot=/var/lib/containers/storage runroot=/run/containers/storage
[ "$driver" = vfs ] || { graphroot="$graphroot-$driver"; runroot="$runroot-$driver"; }
write_if_changed /etc/containers/storage.conf <<C
[storage]
driver = "$driver"
runroot = "$runroot"
graphroot = "$graphroot"
C
write_if_changed /etc/containers/containers.conf <<'C'
[containers]
netns = "host"
userns = "host"
ipcns = "host"
utsns = "host"
cgroupns = "host"
log_driver = "k8s-file"
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
C
write_if_changed /etc/containers/registries.conf <<C
unqualified-search-registries = []
[[registry]]
location = "$REGISTRY"
insecure = true
# the same registry by name: podman's login API skips TLS only for localhost (kitaru-aws's ECR
# proxy test logs in with an ECR token there)
[[registry]]
location = "localhost:${REGISTRY##*:}"
insecure = true
C

# -- services -----------------------------------------------------------------------------------
start() {  # name, command...: detached from the caller (its own session, output to a log)
  local name=$1; shift
  # from the run folder: conmon inherits the service's working directory, and a caller's
  # (a CI checkout, a test's tmp dir) may be deleted while the service lives on
  pushd "$RUN" >/dev/null
  setsid nohup "$@" >"$RUN/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN/$name.pid"
  popd >/dev/null
}
wait_for() {  # description, seconds, command...
  local what=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  say "$what did not come up in ${secs}s; its log:"; tail -n 20 "$RUN/${what}.log" >&2 || true
  exit 1
}
registry_up() { curl -sf -o /dev/null "http://$REGISTRY/v2/"; }
engine_up() { curl -sf -o /dev/null --unix-socket "$SOCK" http://d/_ping; }

if ! registry_up; then
  say "starting docker-registry on $REGISTRY"
  mkdir -p "$RUN/registry-data"
  start registry /usr/bin/docker-registry serve "$HERE/registry.yml"
  wait_for registry 15 registry_up
fi
if [ "$changed" = 1 ] && [ -f "$RUN/podman.pid" ] && engine_up; then
  say "restarting the podman API service (its configuration changed)"
  kill "$(cat "$RUN/podman.pid")" 2>/dev/null || true
  for _ in $(seq 1 50); do engine_up || break; sleep 0.1; done
fi
if [ -f "$RUN/podman.pid" ] && engine_up &&
   readlink "/proc/$(cat "$RUN/podman.pid")/cwd" 2>/dev/null | grep -q ' (deleted)$'; then
  say "restarting the podman API service (its working directory was deleted: conmon fails)"
  kill "$(cat "$RUN/podman.pid")" 2>/dev/null || true
  for _ in $(seq 1 50); do engine_up || break; sleep 0.1; done
fi
if ! engine_up; then
  say "starting the podman API service on $SOCK"
  rm -f "$SOCK"
  start podman podman system service --time=0 "unix://$SOCK"
  wait_for podman 30 engine_up
fi

# -- offline base images -------------------------------------------------------------------------
current() {  # image: built by this recipe?
  podman image exists "$1" &&
    [ "$(podman image inspect -f '{{index .Labels "org.kitaru.recipe"}}' "$1" 2>/dev/null)" = "$RECIPE" ]
}

if ! current "$BUSYBOX_IMAGE"; then
  say "building $BUSYBOX_IMAGE"
  d="$(mktemp -d)"; mkdir -p "$d/bin"
  cp /bin/busybox "$d/bin/busybox"
  for a in sh ls cat echo env sleep true false test wc head tail grep sed; do ln -s busybox "$d/bin/$a"; done
  printf 'FROM scratch\nCOPY bin /bin\nLABEL org.kitaru.recipe="%s"\nCMD ["/bin/sh"]\n' "$RECIPE" >"$d/Dockerfile"
  podman build -q -t "$BUSYBOX_IMAGE" "$d" >&2
  rm -rf "$d"
fi

if ! current "$DEBIAN_IMAGE"; then
  # The rootfs tarball is cached: a wiped image store re-imports it in seconds.
  tarball="$CACHE/debian-python-bookworm-$RECIPE.tar"
  if [ ! -f "$tarball" ]; then
    # The mirror apt uses here (the `URIs:` line; the commented snapshot URL is not reachable).
    mirror="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
    mirror="${mirror:-$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)}"
    [ -n "$mirror" ] || { say "no apt mirror found in /etc/apt/sources.list.d/debian.sources"; exit 1; }
    say "making a Debian bookworm + python3 rootfs with debootstrap from $mirror (1-3 minutes)"
    root="$RUN/rootfs"
    rm -rf "$root"
    # python3-venv brings ensurepip (pip and setuptools wheels): `python3 -m venv` then
    # `pip install --no-index --find-links WHEELHOUSE kitaru` needs no package index.
    debootstrap --variant=minbase --include=python3-minimal,python3,python3-venv,ca-certificates \
      bookworm "$root" "$mirror" >"$RUN/debootstrap.log" 2>&1 ||
      { tail -n 20 "$RUN/debootstrap.log" >&2; exit 1; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    mkdir -p "$CACHE"
    tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
  fi
  say "importing $DEBIAN_IMAGE from $tarball"
  podman import -q --change 'CMD ["/usr/bin/python3"]' --change "LABEL org.kitaru.recipe=$RECIPE" \
    "$tarball" "$DEBIAN_IMAGE" >&2
fi

echo "export DOCKER_HOST=unix://$SOCK"
echo "export KITARU_DOCKER_REGISTRY=$REGISTRY"
