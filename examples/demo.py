"""`make demo`: run the seed's review_flow end to end on the embedded default, offline.

1. starts ``python examples/review_flow.py`` (it runs the flow and blocks on the approval wait),
2. shows that the execution is waiting (``kitaru executions show``),
3. approves it from a second process (``kitaru executions input ID --value true``),
4. prints the flow's result and ``kitaru executions show`` of the finished execution, with the
   tokens and cost of each checkpoint's ``kitaru.llm()`` call.

The local stack answers ``model="fast"`` with the offline gateway (deterministic text, realistic
token counts and prices), so the demo needs no network and no API key.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
KITARU = [sys.executable, "-m", "kitaru.cli"]


def kitaru(*args: str) -> str:
    out = subprocess.run([*KITARU, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"demo: `kitaru {' '.join(args)}` failed:\n{out.stderr}")
    return out.stdout


def step(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def main() -> None:
    started = time.time()
    step("starting examples/review_flow.py (it blocks on the approval wait)")
    flow_proc = subprocess.Popen([sys.executable, str(HERE / "review_flow.py")],
                                 stdout=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.time() + 60
    waiting = None
    while waiting is None:
        if time.time() > deadline or flow_proc.poll() is not None:
            sys.exit("demo: the flow never reached its approval wait")
        items = json.loads(kitaru("executions", "list", "--flow", "review_flow",
                                  "--status", "waiting", "-o", "json"))["items"]  # fmt: skip
        mine = [i for i in items  # JSON times are ISO-8601 UTC
                if datetime.fromisoformat(i["created_at"]).timestamp() >= started]  # fmt: skip
        waiting = mine[0]["id"] if mine else None
        time.sleep(0.1)
    print(kitaru("executions", "show", waiting))

    step(f"approving from a second process: kitaru executions input {waiting} --value true")
    t0 = time.time()
    print(kitaru("executions", "input", waiting, "--value", "true").strip())
    flow_proc.communicate(timeout=60)
    print(f"the waiting process finished {time.time() - t0:.2f}s after the input")

    step("the flow's result")
    from kitaru import KitaruClient

    print(KitaruClient().executions.handle(waiting).wait(timeout=10))
    step(f"kitaru executions show {waiting}")
    print(kitaru("executions", "show", waiting))
    step("tokens and cost per checkpoint")
    info = KitaruClient().executions.get(waiting)
    for c in info.checkpoints:
        if c.usage is not None:
            print(f"{c.call_id:<10} {c.usage.tokens_in:>5} tokens in {c.usage.tokens_out:>5} out"
                  f"   ${c.usage.cost_usd:.6f}")  # fmt: skip
    if info.usage is not None:
        print(f"{'total':<10} {info.usage.tokens_in:>5} tokens in {info.usage.tokens_out:>5} out"
              f"   ${info.usage.cost_usd:.6f}")  # fmt: skip
    if flow_proc.returncode != 0:
        sys.exit(f"demo: review_flow.py exited with {flow_proc.returncode}")


if __name__ == "__main__":
    main()
