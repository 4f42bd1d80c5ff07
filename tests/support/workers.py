"""Which gunicorn worker holds which connection, read from /proc (Linux): the workers' socket
inodes matched against the kernel's TCP table. Used to check connection balancing with a real
`cdshooks serve`; nothing of ours is asked."""

from __future__ import annotations

import os
import time
from pathlib import Path

ESTABLISHED = "01"  # /proc/net/tcp state column


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn master's child processes (its workers), sorted."""
    pids: list[int] = []
    for task in Path(f"/proc/{master_pid}/task").glob("*/children"):
        try:
            pids += [int(p) for p in task.read_text().split()]
        except FileNotFoundError:  # a thread of the master ended between the listing and the read
            continue
    return sorted(pids)


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_idle(pids: list[int], timeout: float = 60, quiet_for: float = 0.5) -> None:
    """Until no worker used CPU for `quiet_for` seconds: every worker has booted (built the app)
    and sits in its accept loop, so none can miss a connection by still starting up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = [cpu_ticks(p) for p in pids]
        time.sleep(quiet_for)
        if [cpu_ticks(p) for p in pids] == before:
            return
    raise AssertionError(f"workers {pids} never went idle")


def connections_held(pids: list[int], port: int, clients: set[int] | None = None) -> list[int]:
    """How many established TCP connections to local `port` each worker holds (IPv4 loopback),
    counting only those from the client ports `clients` when given."""
    owner: dict[str, int] = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except FileNotFoundError:  # the process is gone: it holds nothing
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:  # closed meanwhile
                continue
            if link.startswith("socket:["):
                owner[link[len("socket:["):-1]] = pid
    # A socket is counted once by its inode: /proc/net/tcp is not read as one snapshot, and a
    # socket can be listed twice while other connections come and go (a 2+3 "split" of 4 clients).
    held: dict[int, set[str]] = {pid: set() for pid in pids}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, remote_port = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
        state, inode = fields[3], fields[9]
        if local_port == port and state == ESTABLISHED and inode in owner and (clients is None or remote_port in clients):
            held[owner[inode]].add(inode)
    return [len(held[p]) for p in pids]
