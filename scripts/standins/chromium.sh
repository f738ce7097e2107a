#!/usr/bin/env bash
# The browser of the dashboard tests: Debian's `chromium` package, driven by Playwright through
# its executable (Playwright's own browser download cannot work offline and is never used).
# Idempotent: a second run only checks the package (well under a second).
# Prints, on stdout, the variable to use:  eval "$(bash scripts/standins/chromium.sh)"
#   export KITARU_CHROMIUM=/usr/bin/chromium
# Exit 77: chromium cannot be installed on this machine at all (the message says why); any other
# non-zero exit is a failure of the setup.
set -euo pipefail
RUN="${KITARU_STANDINS_RUN:-/tmp/kitaru-standins}"

say() { echo "chromium.sh: $*" >&2; }
cannot() { say "chromium cannot be set up here: $*"; exit 77; }

find_chromium() { command -v chromium || { [ -x /usr/lib/chromium/chromium ] && echo /usr/lib/chromium/chromium; }; }

if ! exe="$(find_chromium)"; then
  [ "$(uname -s)" = Linux ] || cannot "not Linux ($(uname -s))"
  [ "$(id -u)" = 0 ] || cannot "installing Debian's chromium needs root (running as uid $(id -u))"
  command -v apt-get >/dev/null || cannot "no apt-get (the recipe is for Debian)"
  mkdir -p "$RUN"
  exec 9>"$RUN/chromium.lock"
  flock 9   # concurrent test workers wait for one install
  if ! exe="$(find_chromium)"; then
    say "installing Debian's chromium (about 30 s)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } \
      >"$RUN/chromium-apt.log" 2>&1 || { tail -n 20 "$RUN/chromium-apt.log" >&2; exit 1; }
    exe="$(find_chromium)" || { say "chromium installed but not found on PATH"; exit 1; }
  fi
fi
echo "export KITARU_CHROMIUM=$exe"
