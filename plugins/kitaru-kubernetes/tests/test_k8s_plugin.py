"""The distribution as Kitaru sees it: found through its entry point, listed by
``kitaru flavor list``, and light: neither ``import kitaru`` nor listing flavors (nor building
the config) imports the ``kubernetes`` client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_import_kitaru_and_listing_flavors_import_no_kubernetes_module() -> None:
    code = (
        "import sys, kitaru\n"
        "from kitaru.plugins.manager import plugin_manager\n"
        "flavor = plugin_manager().flavor('secret_store', 'kubernetes')\n"
        "assert flavor.provider == 'kitaru-kubernetes', flavor.provider\n"
        "from kitaru.imports import import_object\n"
        "config = import_object(flavor.config_class)(namespace='kitaru')\n"
        "import kitaru_kubernetes.client, kitaru_kubernetes.names\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'urllib3')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_kitaru_flavor_list_shows_the_flavor(tmp_path: Path) -> None:
    env = {**os.environ, "KITARU_HOME": str(tmp_path)}
    env.pop("KITARU_PLUGINS", None)
    proc = subprocess.run([sys.executable, "-m", "kitaru.cli", "flavor", "list"], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()]
    assert any(row[:3] == ["kubernetes", "secret_store", "kitaru-kubernetes"] for row in rows), (
        proc.stdout
    )
