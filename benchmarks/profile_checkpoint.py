"""Where the per-checkpoint overhead goes: ``python -m benchmarks.profile_checkpoint [N]``.

Profiles, with cProfile, the body of a flow making N trivial checkpoint calls (the profiler is
enabled inside the flow body, which runs in the execution's thread), then prints the top functions
by own time and by cumulative time. Also profiles N sequential 1-checkpoint flows (``f(x)``), the
path behind "flows per second". Uses a throwaway ``KITARU_HOME``.
"""

from __future__ import annotations

import atexit
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time

os.environ["KITARU_HOME"] = tempfile.mkdtemp(prefix="kitaru-profile-")
atexit.register(shutil.rmtree, os.environ["KITARU_HOME"], True)

from kitaru import checkpoint, flow  # noqa: E402  (KITARU_HOME first)

_prof = cProfile.Profile()


@checkpoint
def inc(i: int) -> int:
    return i + 1


@flow
def profiled_flow(n: int) -> int:
    x = 0
    _prof.enable()
    for _ in range(n):
        x = inc(x)
    _prof.disable()
    return x


@flow
def one_cp_flow(x: int) -> int:
    return inc(x)


def _print(prof: cProfile.Profile, title: str, limit: int) -> None:
    for key in ("tottime", "cumulative"):
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf)
        stats.strip_dirs().sort_stats(key).print_stats(limit)
        total = stats.total_tt  # type: ignore[attr-defined]
        print(f"== {title}: by {key} (total {total * 1000:.1f} ms in profile)")
        print("\n".join(buf.getvalue().splitlines()[6:]))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    profiled_flow(50)  # warm up (imports, first pages)
    global _prof
    _prof = cProfile.Profile()
    t0 = time.perf_counter()
    profiled_flow(n)
    print(f"{n} checkpoints under the profiler: {(time.perf_counter() - t0) * 1000:.1f} ms\n")
    _print(_prof, f"{n} checkpoint calls inside one flow", 20)

    # Sequential flows. cProfile sees only this thread: whatever the runtime does in other
    # threads (if ``f(x)`` hands the body to one) shows up as time spent waiting here.
    for i in range(20):
        one_cp_flow(i)
    prof = cProfile.Profile()
    prof.enable()
    for i in range(n // 2):
        one_cp_flow(i)
    prof.disable()
    _print(prof, f"{n // 2} sequential one_cp_flow(x) calls", 20)


if __name__ == "__main__":
    main()
