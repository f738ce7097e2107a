#!/usr/bin/env bash
# Wheels to install Kitaru and its plugins in a container image without any package index
# (used by the plugins' tests to build an image on the offline Debian base of podman.sh):
#   OUT/deps/*.whl, OUT/deps/requirements.txt  third-party wheels pinned by uv.lock, for
#                                                CPython 3.11 on glibc Linux (Debian bookworm);
#                                                downloaded once per set of pins, then cached
#   OUT/kitaru/*.whl                            kitaru and the PACKAGEs built from this checkout
#   OUT/Dockerfile                              a runtime image from OUT: podman.sh's offline
#                                                Debian + python3, everything in /opt/kitaru
# Usage: bash scripts/standins/kitaru_wheelhouse.sh OUT [PACKAGE...]   (default: kitaru-docker;
#        prints OUT)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:?usage: kitaru_wheelhouse.sh OUT_DIR [PACKAGE...]}"
shift
PACKAGES=("$@")
[ ${#PACKAGES[@]} -gt 0 ] || PACKAGES=(kitaru-docker)
CACHE="${KITARU_CACHE:-$HOME/.cache/kitaru}"
UV="${UV:-$CACHE/bootstrap/bin/uv}"
PYVER=3.11   # the python3 of Debian bookworm (the image's base)
export UV_PYTHON_DOWNLOADS=never

say() { echo "kitaru_wheelhouse.sh: $*" >&2; }
[ -x "$UV" ] || { say "no uv at $UV (run \`make setup\` first)"; exit 1; }
if [ -x "$CACHE/bootstrap/bin/pip" ]; then PIP=("$CACHE/bootstrap/bin/pip"); else PIP=(python3 -m pip); fi

req="$(for package in "${PACKAGES[@]}"; do
  "$UV" export --project "$ROOT" --package "$package" --frozen --no-dev --no-hashes \
    --no-emit-workspace --no-header --no-annotate
done | sort -u)"
key="$(printf '%s\n%s' "$PYVER" "$req" | sha256sum | cut -c1-16)"
deps="$CACHE/docker-wheelhouse/$key"
mkdir -p "$CACHE/docker-wheelhouse"
exec 9>"$CACHE/docker-wheelhouse/.lock"
flock 9
if [ ! -f "$deps/.complete" ]; then
  say "downloading the pinned dependencies into $deps (once)"
  rm -rf "$deps.tmp"; mkdir -p "$deps.tmp"
  printf '%s\n' "$req" >"$deps.tmp/requirements.txt"
  arch="$(uname -m)"
  platforms=(--platform "manylinux2014_$arch")
  for v in 17 24 27 28 31 34 35 36; do platforms+=(--platform "manylinux_2_${v}_$arch"); done
  "${PIP[@]}" download -q --no-deps --only-binary=:all: --python-version "$PYVER" \
    --implementation cp --abi "cp${PYVER/./}" "${platforms[@]}" \
    -r "$deps.tmp/requirements.txt" -d "$deps.tmp" >&2
  touch "$deps.tmp/.complete"
  rm -rf "$deps" && mv "$deps.tmp" "$deps"
fi
flock -u 9

rm -rf "$OUT/deps" "$OUT/kitaru"
mkdir -p "$OUT/kitaru"
cp -a "$deps" "$OUT/deps" && rm -f "$OUT/deps/.complete"
for package in kitaru "${PACKAGES[@]}"; do
  "$UV" build -q --project "$ROOT" --package "$package" --wheel --out-dir "$OUT/kitaru" >&2
done
rm -f "$OUT/kitaru/.gitignore"
cat >"$OUT/Dockerfile" <<'D'
FROM localhost/kitaru/debian-python:bookworm
# third-party wheels first: this layer is rebuilt only when uv.lock's pins change
COPY deps /wheels/deps
RUN python3 -m venv /opt/kitaru \
 && /opt/kitaru/bin/pip install -q --no-index --no-deps -r /wheels/deps/requirements.txt \
      --find-links /wheels/deps
COPY kitaru /wheels/kitaru
RUN /opt/kitaru/bin/pip install -q --no-index --no-deps /wheels/kitaru/*.whl
ENV PATH=/opt/kitaru/bin:$PATH PYTHONUNBUFFERED=1
D
echo "$OUT"
