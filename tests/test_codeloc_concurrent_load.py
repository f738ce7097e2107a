"""A worker's threads taking executions of the same flow at the same moment load its module
once: none finds it half-executed (``… no longer defines work_flow``), which left executions
pending for a lease TTL on a queue worker's cold start (found by the benchmarks' workers
curve)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any


def test_threads_loading_one_module_at_once_all_get_the_flow(tmp_path: Path) -> None:
    from kitaru.runtime.codeloc import CodeLocation, load

    name = f"slow_flows_{uuid.uuid4().hex[:8]}"
    source = tmp_path / f"{name}.py"
    # the module takes a while to execute, as one importing a framework does
    source.write_text("import time\ntime.sleep(0.5)\n\n\ndef work_flow():\n    return 1\n")
    loc = CodeLocation(name, "work_flow", str(source), str(tmp_path))
    barrier = threading.Barrier(4)
    results: list[Any] = [None] * 4

    def take(i: int) -> None:
        barrier.wait()
        try:
            results[i] = load(loc)()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=take, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [1, 1, 1, 1], results
