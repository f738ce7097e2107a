#!/usr/bin/env bash
# Runs the whole suite. pytest's exit code 5 (no tests collected) is a failure here:
# a suite that silently collects nothing must never pass CI.
set -uo pipefail
cd "$(dirname "$0")/.."
# The LLM tests' real model server: build it once here (the first time ~12 minutes), never under
# a pytest timeout and never raced by xdist workers. A failed build fails the run.
if ! bash scripts/local_llm.sh >/dev/null; then
  echo "ERROR: scripts/local_llm.sh failed (the local model server for the LLM tests)" >&2
  exit 1
fi
# The container stand-ins (podman's Docker API, a local registry, offline base images): set up
# once here too, outside any test timeout. 77 = podman cannot run on this machine at all: the
# docker plugin's tests then skip and say why; any other failure fails the run.
bash scripts/standins/podman.sh >/dev/null
podman_rc=$?
if [ "$podman_rc" -ne 0 ] && [ "$podman_rc" -ne 77 ]; then
  echo "ERROR: scripts/standins/podman.sh failed (exit $podman_rc)" >&2
  exit 1
fi
# The Kubernetes stand-in (a real single-node cluster built from Debian's source package: ~8 min
# the first time, cached under ~/.cache/kitaru/k8s; ~15 s to start; at once when running): here
# too, outside any test timeout. 77 = this machine cannot run it: kitaru-kubernetes's cluster
# tests then skip and say why; any other failure fails the run.
bash scripts/standins/k8s.sh >/dev/null
k8s_rc=$?
if [ "$k8s_rc" -ne 0 ] && [ "$k8s_rc" -ne 77 ]; then
  echo "ERROR: scripts/standins/k8s.sh failed (exit $k8s_rc)" >&2
  exit 1
fi
# The dashboard tests' browser: Debian's chromium (apt; ~30 s the first time). 77 = it cannot be
# installed here: tests/dashboard's browser tests then skip and say why; anything else fails.
bash scripts/standins/chromium.sh >/dev/null
chromium_rc=$?
if [ "$chromium_rc" -ne 0 ] && [ "$chromium_rc" -ne 77 ]; then
  echo "ERROR: scripts/standins/chromium.sh failed (exit $chromium_rc)" >&2
  exit 1
fi
# Azurite, the kitaru-azure tests' Blob Storage (npm; ~1.5 min the first time, cached under
# ~/.cache/kitaru): installed here, outside any test timeout. 77 = it cannot be installed here
# (no npm / Node.js 18+): those tests then skip and say why; anything else fails the run.
bash scripts/standins/azurite.sh >/dev/null
azurite_rc=$?
if [ "$azurite_rc" -ne 0 ] && [ "$azurite_rc" -ne 77 ]; then
  echo "ERROR: scripts/standins/azurite.sh failed (exit $azurite_rc)" >&2
  exit 1
fi
.venv/bin/python -m pytest -q -n 2 --dist loadgroup "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "ERROR: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
