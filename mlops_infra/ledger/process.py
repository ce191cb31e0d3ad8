"""Is a lock holder's process still alive? Only answerable on the holder's own machine.

A lease records the holder's host name, the kernel's boot id, its PID namespace and its
process start time. Another run that sees the same host, boot and namespace can tell for
sure that the holder is gone when its pid is no longer running that process (the pid
was reused, or nothing runs under it); then the lease is taken over at once instead of
after it expires. Anywhere else (another machine, another container sharing a host
name) nothing is concluded and the lease holds until it expires.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any


def process_identity(pid: int | None = None) -> dict[str, Any]:
    """The fields a lease records to recognise this process later."""
    pid = os.getpid() if pid is None else pid
    identity: dict[str, Any] = {}
    boot, namespace, started = _boot_id(), _pid_namespace(), _start_ticks(pid)
    if boot and namespace and started is not None:
        identity.update(bootId=boot, pidNamespace=namespace, processStart=started)
    return identity


def holder_is_dead(holder: dict[str, Any]) -> bool:
    """True only when ``holder`` ran here (same host, boot, namespace) and its process is gone."""
    if not holder.get("bootId") or holder.get("host") != socket.gethostname():
        return False
    if holder.get("bootId") != _boot_id() or holder.get("pidNamespace") != _pid_namespace():
        return False
    pid = holder.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    return _start_ticks(pid) != holder.get("processStart")


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[19])
