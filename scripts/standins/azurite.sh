#!/usr/bin/env bash
# Azurite (Microsoft's Azure Storage emulator, an npm package) for the kitaru-azure tests and
# `kitaru smoke`: `npm install azurite@VERSION` once into ~/.cache/kitaru/azurite-VERSION
# ($KITARU_CACHE/azurite-VERSION), where kitaru_azure.smoke.azurite looks for it. The tests start
# it themselves; this only installs it (about a minute and a half, once), outside any test timeout.
# Idempotent: a second run only checks the install (well under a second).
# Prints, on stdout, the variable to use:  eval "$(bash scripts/standins/azurite.sh)"
#   export KITARU_AZURITE=/root/.cache/kitaru/azurite-3.37.0/node_modules/.bin/azurite-blob
# Exit 77: it cannot be installed on this machine at all (no npm, or a Node.js too old; the
# message says why); any other non-zero exit is a failure of the setup.
set -euo pipefail
# the version kitaru-azure is tested with: kitaru_azure.smoke.azurite.AZURITE_VERSION (a test
# holds the two equal)
VERSION=3.37.0
NODE_MAJOR_MIN=18
CACHE="${KITARU_CACHE:-$HOME/.cache/kitaru}"
HOME_DIR="$CACHE/azurite-$VERSION"
BIN="$HOME_DIR/node_modules/.bin/azurite-blob"

say() { echo "azurite.sh: $*" >&2; }
cannot() { say "Azurite cannot be installed here: $*"; exit 77; }

if [ ! -x "$BIN" ]; then
  command -v npm >/dev/null || cannot "no npm (install Node.js ${NODE_MAJOR_MIN}+ with npm)"
  command -v node >/dev/null || cannot "no node (install Node.js ${NODE_MAJOR_MIN}+)"
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge "$NODE_MAJOR_MIN" ] || cannot "Node.js $(node --version) is older than ${NODE_MAJOR_MIN}"
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.azurite-$VERSION.lock"
  flock 9   # concurrent test workers wait for one install
  if [ ! -x "$BIN" ]; then
    say "installing azurite@$VERSION with npm into $HOME_DIR (about a minute and a half, once)"
    # into a scratch folder first: an interrupted install never looks installed
    tmp="$CACHE/.azurite-$VERSION.partial"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    npm install --no-audit --no-fund --no-save --prefix "$tmp" "azurite@$VERSION" \
      >"$CACHE/.azurite-$VERSION-npm.log" 2>&1 \
      || { tail -n 20 "$CACHE/.azurite-$VERSION-npm.log" >&2; rm -rf "$tmp"; exit 1; }
    [ -x "$tmp/node_modules/.bin/azurite-blob" ] \
      || { say "npm installed azurite but no node_modules/.bin/azurite-blob"; rm -rf "$tmp"; exit 1; }
    rm -rf "$HOME_DIR"
    mv "$tmp" "$HOME_DIR"
  fi
fi
echo "export KITARU_AZURITE=$BIN"
