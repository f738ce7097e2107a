"""A lease owner names its host with the PID namespace: containers on the host network share
the host name but not their pids, and a live runner in another container must not look dead
because its pid means nothing here (its current checkpoint would run twice)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from kitaru.store.records import lease_is_live, this_host


def exited_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(proc.stdout)


def test_only_a_process_of_this_pid_namespace_is_judged_by_its_pid() -> None:
    now, later = time.time(), time.time() + 60
    pid = exited_pid()
    assert this_host().startswith(socket.gethostname().replace(":", "-"))
    assert not lease_is_live(f"{this_host()}:{pid}:t", later, now)  # ours, gone: dead at once
    # the same host name from another container (another PID namespace): live until it expires
    other = f"{socket.gethostname()}~1:{pid}:t"
    assert other.split(":")[0] != this_host()
    assert lease_is_live(other, later, now)
    assert not lease_is_live(other, now - 1, now)


def test_new_leases_name_this_host() -> None:
    from kitaru.runtime.leases import LeaseKeeper

    assert LeaseKeeper().owner.startswith(this_host() + ":")
