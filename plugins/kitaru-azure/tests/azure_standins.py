"""The Azure stand-ins these tests start and stop themselves, on free ports of 127.0.0.1:

- Azurite's blob service (``azurite-blob --inMemoryPersistence --skipApiVersionCheck``),
  installed from the npm registry on first use into ``~/.cache/kitaru/azurite-VERSION``
  (``npm install``, about a minute and a half, once; later runs reuse it);
- ``fake_azure`` (the product's :mod:`kitaru_azure.smoke.fake`): Key Vault's and AzureML's
  REST operations, Entra ID's token endpoints and an AzureML compute's managed-identity
  endpoint (no emulator exists for them).

``--skipApiVersionCheck``: azure-storage-blob 12.31 sends an API version Azurite 3.37 does not
know yet and would refuse (InvalidHeaderValue). Starting Azurite is the product's
(:mod:`kitaru_azure.smoke.azurite`, which ``kitaru smoke`` uses too); installing it is the
tests'. A module of its own so tests import it by a name no other test directory uses."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from kitaru_azure.smoke.azurite import (  # noqa: F401 (re-exported)
    ACCOUNT,
    ACCOUNT_KEY,
    AZURITE_VERSION,
    Azurite,
    cache_dir,
    cached_azurite,
    running_azurite,
)

#: wall-clock numbers the tests record, printed at the end of the session
TIMINGS: dict[str, float] = {}


def azurite_blob() -> Path:
    """``azurite-blob`` of the cached npm install; installs it on first use (under a lock:
    parallel workers wait for one install). Skips when there is no npm."""
    script = cached_azurite()
    if script.exists():
        return script
    home = script.parents[2]
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("no npm to install Azurite with")
    home.mkdir(parents=True, exist_ok=True)
    with (home.parent / f".azurite-{AZURITE_VERSION}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not script.exists():
            started = time.monotonic()
            done = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(home),
                 f"azurite@{AZURITE_VERSION}"], capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            if done.returncode != 0:
                pytest.fail(f"npm install azurite failed: {(done.stderr or done.stdout)[-2000:]}")
            TIMINGS["azurite npm install (s)"] = round(time.monotonic() - started, 1)
    return script
