"""The Azure stand-ins these tests start and stop themselves, on free ports of 127.0.0.1:

- Azurite's blob service (``azurite-blob --inMemoryPersistence --skipApiVersionCheck``),
  installed by ``scripts/standins/azurite.sh`` (``npm install`` into
  ``~/.cache/kitaru/azurite-VERSION`` once, about a minute and a half; ``scripts/run_tests.sh``
  runs it before pytest, outside any test timeout; later runs reuse it), and a second one over
  HTTPS that accepts Entra ID bearer tokens (``--oauth basic``) for the tests of the
  ``DefaultAzureCredential`` path;
- ``fake_azure`` (the product's :mod:`kitaru_azure.smoke.fake`): Key Vault's and AzureML's
  REST operations, Entra ID's token endpoints and an AzureML compute's managed-identity
  endpoint (no emulator exists for them).

``--skipApiVersionCheck``: azure-storage-blob 12.31 sends an API version Azurite 3.37 does not
know yet and would refuse (InvalidHeaderValue). Starting Azurite is the product's
(:mod:`kitaru_azure.smoke.azurite`, which ``kitaru smoke`` uses too); installing it is
``azurite.sh``'s. A module of its own so tests import it by a name no other test directory uses."""

from __future__ import annotations

import re
import subprocess
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

#: the script that installs Azurite (exit 77: it cannot be installed on this machine)
INSTALL = Path(__file__).resolve().parents[3] / "scripts" / "standins" / "azurite.sh"
#: wall-clock numbers the tests record, printed at the end of the session
TIMINGS: dict[str, float] = {}


def azurite_blob() -> Path:
    """``azurite-blob`` of ``scripts/standins/azurite.sh``'s install (which installs it the
    first time, under a lock: parallel workers wait for one install). Skips, saying why, where
    it cannot be installed (no npm, an old Node.js: exit 77)."""
    done = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=1200)
    if done.returncode == 77:
        pytest.skip(done.stderr.strip().splitlines()[-1])
    assert done.returncode == 0, f"{INSTALL} failed: {done.stderr[-2000:]}"
    found = re.search(r"^export KITARU_AZURITE=(\S+)$", done.stdout, re.M)
    assert found, done.stdout
    return Path(found.group(1))
