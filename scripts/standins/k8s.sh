#!/usr/bin/env bash
# A real single-node Kubernetes (v1.20.2) for the kitaru-kubernetes tests, built on this machine
# from Debian bookworm's `kubernetes` source package (no binary of kube-apiserver or kubelet is
# packaged anywhere reachable offline), with etcd, containerd, runc and the CNI plugins from
# Debian packages. RBAC is on (--authorization-mode Node,RBAC).
#
#   bash scripts/standins/k8s.sh [start]   build (cached) and start; prints the kubeconfig path
#   bash scripts/standins/k8s.sh stop      stop what this script started (by pid) and clean up pods
#   bash scripts/standins/k8s.sh status
#   bash scripts/standins/k8s.sh build     only build (packages, binaries, images)
#
# Cold: ~8 min (apt-get, the Debian source, one `go build` of the four binaries on 2 cores); the
# binaries and images are cached under ~/.cache/kitaru/k8s, so later starts take ~15 s. Already
# running: exits 0 at once. The kubeconfig (admin, system:masters; CA embedded) is written to
# ~/.cache/kitaru/k8s/kubeconfig and printed as the last line of stdout.
#
# Images: pods pull from the local registry of scripts/standins/podman.sh (127.0.0.1:5001, plain
# HTTP): `image: 127.0.0.1:5001/kitaru/x:tag` works with any imagePullPolicy. containerd is given a
# hosts.toml for `127.0.0.1:5001` and `localhost:5001`; KITARU_K8S_REGISTRIES adds others
# ("host:port" or "name=host:port"). `busybox:1.35` (made from busybox-static) is preloaded.
# Network: pods get 10.244.0.x on the bridge k8stest0, whose address 10.244.0.1 is this host: a
# pod reaches a server of this host listening on 0.0.0.0 (or 10.244.0.1) there. A pod with
# hostNetwork: true shares the host's network, 127.0.0.1 included. There is no kube-proxy (no
# Service IPs, so no `kubernetes.default` from pods) and no cluster DNS (pods use the host's
# resolv.conf).
#
# Environment: KITARU_CACHE (~/.cache/kitaru), KITARU_K8S_RUN (/tmp/kitaru-k8s: pki, etcd,
# containerd state, logs, pids), KITARU_K8S_API_PORT (6443), KITARU_K8S_ETCD_PORT (2379 and +1),
# KITARU_K8S_KUBELET_PORT (10250), KITARU_K8S_REGISTRIES, KITARU_K8S_KEEP_GOCACHE=1 (keep the
# ~2 GB Go build cache).
# Exit 77: this machine cannot run the cluster at all (the reason is on stderr); any other
# non-zero exit is a failure of the setup.
set -euo pipefail
CACHE="${KITARU_CACHE:-$HOME/.cache/kitaru}/k8s"
RUN="${KITARU_K8S_RUN:-/tmp/kitaru-k8s}"
API_PORT="${KITARU_K8S_API_PORT:-6443}"
ETCD_PORT="${KITARU_K8S_ETCD_PORT:-2379}"
KUBELET_PORT="${KITARU_K8S_KUBELET_PORT:-10250}"
REGISTRIES="127.0.0.1:5001 localhost:5001 ${KITARU_K8S_REGISTRIES:-}"
K8S_VERSION=1.20.2
PKI_RECIPE=2
# the node's name: "localhost" resolves to 127.0.0.1, so apiserver -> kubelet (logs, exec)
# stays on loopback
NODE=localhost
BIN="$CACHE/bin"
KUBECONFIG_OUT="$CACHE/kubeconfig"
TOKEN_FILE="$RUN/pki/tokens.csv"
SOCK="$RUN/containerd/containerd.sock"
DAEMONS="etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet"
BINARIES="kube-apiserver kube-controller-manager kube-scheduler kubelet"
PACKAGES="golang-go etcd-server openssl curl gcc libc6-dev dpkg-dev binutils
  golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev
  containerd runc containernetworking-plugins busybox-static iptables iproute2 mount python3"

say() { echo "k8s.sh: [$(date +%T)] $*" >&2; }
cannot() { echo "k8s.sh: this machine cannot run the Kubernetes stand-in: $*" >&2; exit 77; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
alive() { [ -f "$RUN/pids/$1" ] && kill -0 "$(cat "$RUN/pids/$1")" 2>/dev/null; }
token() { cut -d, -f1 "$TOKEN_FILE"; }
api_ok() {
  curl -sf --max-time 2 --cacert "$RUN/pki/ca.crt" -H "Authorization: Bearer $(token)" \
    "https://127.0.0.1:$API_PORT$1" >/dev/null 2>&1
}
running() { [ -f "$KUBECONFIG_OUT" ] && [ -f "$TOKEN_FILE" ] && alive kube-apiserver && alive kubelet && api_ok /readyz; }

# -- can this machine run it at all? --------------------------------------------------------------
preflight() {
  [ "$(uname -s)" = Linux ] || cannot "not Linux ($(uname -s))"
  [ "$(id -u)" = 0 ] || cannot "needs root for containerd, the kubelet and apt-get (running as uid $(id -u))"
  command -v apt-get >/dev/null || cannot "no apt-get (the recipe builds from Debian packages)"
  local codename
  codename="$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")"
  [ "$codename" = bookworm ] ||
    cannot "the recipe builds Kubernetes $K8S_VERSION from Debian 12 (bookworm)'s source package; this is '${codename:-unknown}'"
  [ -d /sys/fs/cgroup ] || cannot "no cgroup filesystem at /sys/fs/cgroup (the kubelet needs one)"
  [ -e /dev/net/tun ] || [ -d /proc/sys/net/ipv4 ] || cannot "no network namespaces"
}

# -- packages -------------------------------------------------------------------------------------
ensure_packages() {
  local missing="" p
  # dpkg-query, not `dpkg -s | grep -q`: with pipefail, grep's early exit can SIGPIPE dpkg
  for p in $PACKAGES; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  say "apt-get install:$missing"
  mkdir -p "$RUN"
  # the packaged etcd and containerd must not be started by their postinst: we run our own
  local rcd=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; rcd=1
  fi
  # shellcheck disable=SC2086
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; } \
    >"$RUN/apt.log" 2>&1 || { [ -n "$rcd" ] && rm -f /usr/sbin/policy-rc.d; tail -n 20 "$RUN/apt.log" >&2; exit 1; }
  [ -n "$rcd" ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

# -- build (cached) -------------------------------------------------------------------------------
fetch_source() {
  local srcdir=$1
  [ -d "$srcdir/vendor" ] && return 0
  say "fetching Debian's source package 'kubernetes' (1.20.5+really1.20.2, ~34 MB)"
  # `apt-get source` needs a deb-src entry: one made from the configured deb entries
  if ! grep -rqs "deb-src" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    local f tmp=/etc/apt/sources.list.d/kitaru-src.sources.tmp
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] && { sed "s/^Types: deb$/Types: deb-src/" "$f"; echo; }
    done >"$tmp"
    if [ -f /etc/apt/sources.list ]; then
      grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' >/etc/apt/sources.list.d/kitaru-src.list || true
    fi
    mv "$tmp" /etc/apt/sources.list.d/kitaru-src.sources
    apt-get update -qq >&2
  fi
  rm -rf "$CACHE/src"; mkdir -p "$CACHE/src"
  (cd "$CACHE/src" && apt-get source -qq --download-only kubernetes >&2 && tar xzf kubernetes_*.orig.tar.gz) ||
    { say "could not fetch or unpack Debian's kubernetes source package"; exit 1; }
  [ -d "$srcdir/vendor" ] || { say "the source package did not unpack to $srcdir"; exit 1; }
}

build() {
  local need="" b
  for b in $BINARIES; do [ -x "$BIN/$b" ] || need="$need k8s.io/kubernetes/cmd/$b"; done
  if [ -n "$need" ]; then
    local t0 srcdir="$CACHE/src/kubernetes-$K8S_VERSION"
    t0=$(now)
    mkdir -p "$BIN"
    fetch_source "$srcdir"
    # GOPATH mode, as upstream 1.20's hack/ scripts: module mode with Debian's Go 1.19 fails with
    # "go: updates to go.mod needed, disabled by -mod=vendor"
    mkdir -p "$CACHE/gopath/src/k8s.io"
    ln -sfn "$srcdir" "$CACHE/gopath/src/k8s.io/kubernetes"
    export GOPATH="$CACHE/gopath" GOCACHE="$CACHE/gocache" GO111MODULE=off GOFLAGS=
    # Go >= 1.18 crashes binaries vendoring modern-go/reflect2 1.0.1 (kube-apiserver segfaults
    # in json-iterator seconds after start): Debian's reflect2 1.0.2 + json-iterator 1.1.12 instead
    if [ ! -f "$srcdir/.reflect2-fixed" ]; then
      local pair f
      for pair in modern-go/reflect2 json-iterator/go; do
        rm -f "$srcdir/vendor/github.com/$pair/"*.go "$srcdir/vendor/github.com/$pair/"*.s
        for f in /usr/share/gocode/src/github.com/$pair/*.go /usr/share/gocode/src/github.com/$pair/*.s; do
          case $f in *_test.go) ;; *) [ -f "$f" ] && cp "$f" "$srcdir/vendor/github.com/$pair/" ;; esac
        done
      done
      touch "$srcdir/.reflect2-fixed"
    fi
    # the tarball lacks pkg/generated/openapi (made by `make generated_files`), without which
    # kube-apiserver fails with "undefined: openapi.GetOpenAPIDefinitions"
    if [ ! -f "$srcdir/pkg/generated/openapi/zz_generated.openapi.go" ]; then
      say "generating pkg/generated/openapi with openapi-gen"
      (cd "$CACHE/gopath/src/k8s.io/kubernetes" &&
        go build -o "$CACHE/openapi-gen" k8s.io/kubernetes/vendor/k8s.io/kube-openapi/cmd/openapi-gen &&
        dirs=$(find -H . \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune -o -type f -name '*.go' -print |
          sed 's|^./staging/src|vendor|; s|^\./||' | xargs grep -l '^// *+k8s:' | xargs grep -l '+k8s:openapi-gen=' |
          grep -v -E '^vendor/k8s.io/(code-generator|sample-apiserver)/' | xargs -n1 dirname | LC_ALL=C sort -u |
          sed 's|^|k8s.io/kubernetes/|' | paste -sd, -) &&
        "$CACHE/openapi-gen" -i "$dirs" -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
          -h hack/boilerplate/boilerplate.generatego.txt -r "$CACHE/openapi-violations.txt" >&2)
    fi
    # version stamps: the aggregator serves /version from client-go's version package, the
    # binaries' --version from component-base's
    local ld="-s -w" V
    for V in k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version k8s.io/kubernetes/vendor/k8s.io/component-base/version; do
      ld="$ld -X $V.gitVersion=v$K8S_VERSION -X $V.gitMajor=1 -X $V.gitMinor=20 -X $V.gitTreeState=clean -X $V.buildDate=2021-01-13T13:15:20Z"
    done
    say "building:$need (one go build; cold ~5-11 min on 2 cores)"
    # shellcheck disable=SC2086
    (cd "$CACHE/gopath/src/k8s.io/kubernetes" && nice -n 10 go build -ldflags "$ld" -o "$BIN/" $need >"$CACHE/build.log" 2>&1) ||
      { tail -n 30 "$CACHE/build.log" >&2; say "go build failed (log: $CACHE/build.log)"; exit 1; }
    [ "${KITARU_K8S_KEEP_GOCACHE:-0}" = 1 ] || rm -rf "$CACHE/gocache"
    say "build done in $(since "$t0")s"
  fi
  [ -f "$CACHE/images/busybox.tar" ] && [ -f "$CACHE/images/pause.tar" ] || build_images
}

# Two tiny images, no registry needed: a static `pause` compiled from the kubernetes source
# (the sandbox image) and busybox from busybox-static, written as docker-save tarballs.
build_images() {
  local arch
  arch="$(dpkg --print-architecture)"
  mkdir -p "$CACHE/images"
  gcc -Os -static -DVERSION=3.2 -o "$CACHE/images/pause" "$CACHE/src/kubernetes-$K8S_VERSION/build/pause/linux/pause.c"
  strip "$CACHE/images/pause"
  python3 - "$CACHE/images" "$arch" <<'PY'
import hashlib, io, json, sys, tarfile
out, arch = sys.argv[1], sys.argv[2]

def image(path, tag, entry, cmd, files, links):
    lb = io.BytesIO()
    with tarfile.open(fileobj=lb, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "var", "var/run", "root"):
            ti = tarfile.TarInfo(d); ti.type = tarfile.DIRTYPE; ti.mode = 0o1777 if d == "tmp" else 0o755
            t.addfile(ti)
        for src, dest in files:
            ti = t.gettarinfo(src, dest); ti.uid = ti.gid = 0; ti.uname = ti.gname = ""; ti.mtime = 0
            with open(src, "rb") as f:
                t.addfile(ti, f)
        for name, target in links:
            ti = tarfile.TarInfo(name); ti.type = tarfile.SYMTYPE; ti.linkname = target; t.addfile(ti)
        for name, data in (("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"),
                           ("etc/group", b"root:x:0:\nnogroup:x:65534:\n")):
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644; t.addfile(ti, io.BytesIO(data))
    layer = lb.getvalue(); lsha = hashlib.sha256(layer).hexdigest()
    cfg = json.dumps({"architecture": arch, "os": "linux", "created": "1970-01-01T00:00:00Z",
                      "config": {"Entrypoint": entry, "Cmd": cmd, "WorkingDir": "/",
                                 "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
                      "rootfs": {"type": "layers", "diff_ids": ["sha256:" + lsha]}}).encode()
    csha = hashlib.sha256(cfg).hexdigest()
    man = json.dumps([{"Config": csha + ".json", "RepoTags": [tag], "Layers": [lsha + "/layer.tar"]}]).encode()
    with tarfile.open(path + ".tmp", "w") as t:
        for name, data in ((lsha + "/layer.tar", layer), (csha + ".json", cfg), ("manifest.json", man)):
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644; t.addfile(ti, io.BytesIO(data))
    import os; os.replace(path + ".tmp", path)

image(f"{out}/pause.tar", "localhost/pause:3.2", ["/pause"], None, [(f"{out}/pause", "pause")], [])
applets = ("sh ash echo cat ls env sleep true false printf date id hostname wc grep sed awk head tail mkdir rm "
           "cp mv test [ uname ps kill touch chmod base64 sort uniq tr cut seq wget nc ip").split()
# stored under the normalized name of "busybox:1.35", so pod specs may say image: busybox:1.35
image(f"{out}/busybox.tar", "docker.io/library/busybox:1.35", None, ["sh"], [("/bin/busybox", "bin/busybox")],
      [("bin/" + a, "busybox") for a in applets])
PY
}

# -- pki and kubeconfig ---------------------------------------------------------------------------
pki() {
  local d="$RUN/pki"
  # bump PKI_RECIPE when the certificates change: an older pki is made anew
  if [ "$(cat "$d/done" 2>/dev/null)" != "$PKI_RECIPE" ]; then
    rm -rf "$d"; mkdir -p "$d"
    (
      cd "$d"
      # basicConstraints critical: Python 3.13's default x509 strict verification requires it
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj /CN=kitaru-k8s-ca \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
      printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" "authorityKeyIdentifier=keyid" \
        "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,IP:10.244.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" >ext.cnf
      openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 \
        -extfile ext.cnf 2>/dev/null
      openssl genrsa -out sa.key 2048 2>/dev/null
      openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
      tok=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
      echo "$tok,admin,admin,\"system:masters\"" >tokens.csv
      chmod 600 ca.key apiserver.key sa.key tokens.csv
      echo "$PKI_RECIPE" >done
    )
  fi
  # one kubeconfig for the client, the controller-manager, the scheduler and the kubelet; the CA
  # is embedded so the file stands alone
  mkdir -p "$CACHE"
  local tmp="$KUBECONFIG_OUT.tmp"
  (umask 077; cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kitaru
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 "$d/ca.crt")
users:
- name: admin
  user:
    token: $(token)
contexts:
- name: kitaru
  context: {cluster: kitaru, user: admin, namespace: default}
current-context: kitaru
EOF
  )
  mv "$tmp" "$KUBECONFIG_OUT"
}

# -- daemons --------------------------------------------------------------------------------------
start_bg() {  # name, command...: its own session (a test's timeout or Ctrl-C never reaches it)
  local name=$1; shift
  alive "$name" && return 0
  # from the run folder: a caller's working directory (a CI checkout) may be deleted while the
  # daemon and what it starts (shims, conmon) live on
  pushd "$RUN" >/dev/null
  setsid nohup "$@" >"$RUN/logs/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN/pids/$name"
  popd >/dev/null
}

wait_for() {  # description, seconds, command...: fails early if a started daemon died
  local desc=$1 secs=$2 t0 c; shift 2; t0=$(now)
  until "$@" >/dev/null 2>&1; do
    for c in $DAEMONS; do
      if [ -f "$RUN/pids/$c" ] && ! alive "$c"; then
        say "$c died while waiting for $desc; the end of $RUN/logs/$c.log:"; tail -n 20 "$RUN/logs/$c.log" >&2
        return 1
      fi
    done
    if awk -v a="$t0" -v b="$(now)" -v t="$secs" 'BEGIN{exit !(b-a>t)}'; then say "timed out waiting for $desc"; return 1; fi
    sleep 0.2
  done
  say "$desc after $(since "$t0")s"
}

overlay_works() {
  local d; d="$(mktemp -d)"; mkdir -p "$d"/{l,u,w,m}
  if mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m" 2>/dev/null; then
    umount "$d/m"; rm -rf "$d"; return 0
  fi
  rm -rf "$d"; return 1
}

write_containerd_and_cni_config() {
  local snapshotter=native r
  overlay_works && snapshotter=overlayfs
  mkdir -p "$RUN/cni/net.d" "$RUN/containerd"
  cat >"$RUN/containerd.toml" <<EOF
version = 2
root = "$RUN/containerd/root"
state = "$RUN/containerd/state"
[grpc]
  address = "$SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:3.2"
  # root here may lack CAP_SYS_RESOURCE: runc then cannot lower oom_score_adj for the pause
  # container and every sandbox fails ("can't get final child's PID from pipe: EOF")
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$snapshotter"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN/cni/net.d"
  # one hosts.toml per plain-HTTP registry pods pull from (read at pull time)
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$RUN/containerd/certs.d"
EOF
  rm -rf "$RUN/containerd/certs.d"
  for r in $REGISTRIES; do  # "host:port" or "name=host:port"
    mkdir -p "$RUN/containerd/certs.d/${r%%=*}"
    printf 'server = "http://%s"\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' "${r#*=}" "${r#*=}" \
      >"$RUN/containerd/certs.d/${r%%=*}/hosts.toml"
  done
  # pods on a local bridge (10.244.0.0/16, the host is 10.244.0.1; not 10.88/16, podman's own
  # network, whose route would swallow the replies); nothing routed off the machine (no masquerade)
  cat >"$RUN/cni/net.d/10-kitaru.conflist" <<'EOF'
{"cniVersion": "0.4.0", "name": "kitaru-k8s",
 "plugins": [
  {"type": "bridge", "bridge": "k8stest0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}
 ]}
EOF
}

node_ready() {
  curl -sf --max-time 2 --cacert "$RUN/pki/ca.crt" -H "Authorization: Bearer $(token)" \
    "https://127.0.0.1:$API_PORT/api/v1/nodes/$NODE" 2>/dev/null |
    python3 -c 'import json,sys; c=json.load(sys.stdin)["status"]["conditions"]; sys.exit(0 if any(x["type"]=="Ready" and x["status"]=="True" for x in c) else 1)'
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  local t0 t1 p
  t0=$(now)
  if running; then say "cluster already running"; echo "$KUBECONFIG_OUT"; return 0; fi
  stop >/dev/null 2>&1 || true
  for p in "$API_PORT" "$ETCD_PORT" "$((ETCD_PORT + 1))" "$KUBELET_PORT"; do
    port_free "$p" || { say "port $p on 127.0.0.1 is taken by another process (another cluster?); stop it or set KITARU_K8S_*_PORT"; exit 1; }
  done
  ensure_packages
  build
  t1=$(now)
  rm -rf "$RUN/etcd" "$RUN/logs" "$RUN/kubelet"
  mkdir -p "$RUN/pids" "$RUN/logs"
  pki
  local P="$RUN/pki"

  start_bg etcd etcd --name kitaru --data-dir "$RUN/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster "kitaru=http://127.0.0.1:$((ETCD_PORT + 1))" --unsafe-no-fsync --quota-backend-bytes 1073741824

  ls /var/run/netns 2>/dev/null >"$RUN/netns.before" || true
  write_containerd_and_cni_config
  start_bg containerd containerd --config "$RUN/containerd.toml"

  start_bg kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --secure-port "$API_PORT" --insecure-port 0 --cert-dir "$P" \
    --tls-cert-file "$P/apiserver.crt" --tls-private-key-file "$P/apiserver.key" --client-ca-file "$P/ca.crt" \
    --token-auth-file "$TOKEN_FILE" --authorization-mode Node,RBAC \
    --service-account-key-file "$P/sa.pub" --service-account-signing-key-file "$P/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range 10.0.0.0/24 --allow-privileged=true \
    --kubelet-preferred-address-types Hostname,InternalIP --profiling=false

  wait_for containerd 30 ctr -a "$SOCK" version
  ctr -a "$SOCK" -n k8s.io images import "$CACHE/images/pause.tar" >/dev/null
  ctr -a "$SOCK" -n k8s.io images import "$CACHE/images/busybox.tar" >/dev/null
  wait_for "kube-apiserver /readyz" 120 api_ok /readyz

  # the token controller needs the service-account key, or pods fail for want of a token
  start_bg kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$KUBECONFIG_OUT" \
    --leader-elect=false --port 0 --secure-port 0 \
    --service-account-private-key-file "$P/sa.key" --root-ca-file "$P/ca.crt"
  start_bg kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$KUBECONFIG_OUT" \
    --leader-elect=false --port 0 --secure-port 0

  mkdir -p "$RUN/kubelet"
  start_bg kubelet "$BIN/kubelet" --kubeconfig "$KUBECONFIG_OUT" --hostname-override "$NODE" \
    --container-runtime remote --container-runtime-endpoint "unix://$SOCK" --runtime-request-timeout 2m \
    --root-dir "$RUN/kubelet" --cert-dir "$RUN/kubelet/pki" --cgroup-driver cgroupfs --fail-swap-on=false \
    --address 127.0.0.1 --port "$KUBELET_PORT" --healthz-port 0 --read-only-port 0 \
    --pod-infra-container-image localhost/pause:3.2 --make-iptables-util-chains=false \
    --image-gc-high-threshold 100 --image-gc-low-threshold 99 \
    --eviction-hard 'memory.available<100Mi,nodefs.available<1%,imagefs.available<1%' \
    --node-status-update-frequency 2s --sync-frequency 10s --v 1
  wait_for "node $NODE Ready" 180 node_ready
  say "started in $(since "$t1")s (with packages and build: $(since "$t0")s); logs in $RUN/logs"
  echo "$KUBECONFIG_OUT"
}

stop() {
  [ -d "$RUN/pids" ] || return 0
  local c t p
  # the kubelet first, then the pods' containers through containerd, then the rest
  for c in kubelet kube-scheduler kube-controller-manager; do
    alive "$c" && kill "$(cat "$RUN/pids/$c")"
  done
  if alive containerd; then
    for t in $(ctr -a "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do ctr -a "$SOCK" -n k8s.io tasks kill -s SIGKILL "$t" 2>/dev/null || true; done
    sleep 1
    for t in $(ctr -a "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do ctr -a "$SOCK" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1 || true; done
    for c in $(ctr -a "$SOCK" -n k8s.io containers ls -q 2>/dev/null); do ctr -a "$SOCK" -n k8s.io containers delete "$c" >/dev/null 2>&1 || true; done
  fi
  for c in kube-apiserver containerd etcd; do
    alive "$c" && kill "$(cat "$RUN/pids/$c")"
  done
  for c in $DAEMONS; do
    if [ -f "$RUN/pids/$c" ]; then
      p=$(cat "$RUN/pids/$c")
      for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
      rm -f "$RUN/pids/$c"
    fi
  done
  # leftovers: pod mounts under $RUN, the pods' network namespaces (cni-*), the bridge, IPAM state
  grep -oE " $RUN/[^ ]+" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  if [ -f "$RUN/netns.before" ]; then
    for p in $(ls /var/run/netns 2>/dev/null | grep '^cni-' || true); do
      grep -qx "$p" "$RUN/netns.before" || ip netns del "$p" 2>/dev/null || true
    done
  fi
  ip link del k8stest0 2>/dev/null || true
  rm -rf /var/lib/cni/networks/kitaru-k8s
  say "stopped"
}

status() {
  local c
  for c in $DAEMONS; do
    if alive "$c"; then echo "$c running (pid $(cat "$RUN/pids/$c"))"; else echo "$c not running"; fi
  done
  running && echo "kubeconfig: $KUBECONFIG_OUT"
  return 0
}

preflight
mkdir -p "$RUN"
exec 9>"$RUN/setup.lock"
flock 9  # concurrent callers (test workers, run_tests.sh) wait for one setup

case ${1:-start} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  build) ensure_packages; build ;;
  *) echo "usage: $0 [start|stop|status|build]" >&2; exit 2 ;;
esac
