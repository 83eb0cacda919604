"""Resident memory of a runtime's process tree, read from /proc as cheaply as possible.

Lambda enforces MemorySize on the whole sandbox. Reading the runtime's own `statm` costs ~20 µs,
so it is read at every poll; finding the runtime's descendants needs a scan of /proc (~2 ms),
so it runs only every few polls, and handlers that spawn processes are caught a little later.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = ["TreeMemory"]

_PAGE = os.sysconf("SC_PAGE_SIZE")
_SCAN_EVERY = 10


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def peak_rss_bytes(pid: int) -> int:
    """The process's high-water mark (VmHWM): what Lambda reports as Max Memory Used for the sandbox."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, frontier = [], [root]
    while frontier:
        children = parents.get(frontier.pop(), [])
        found.extend(children)
        frontier.extend(children)
    return found


@dataclass
class TreeMemory:
    """Polls one process tree; `sample()` returns its current resident bytes and tracks the peak."""

    root: int
    peak: int = 0
    _polls: int = 0
    _children: list[int] = field(default_factory=list)

    def sample(self) -> int:
        if self._polls % _SCAN_EVERY == _SCAN_EVERY - 1:
            self._children = _descendants(self.root)
        self._polls += 1
        total = _rss_bytes(self.root) + sum(_rss_bytes(pid) for pid in self._children)
        self.peak = max(self.peak, total)
        return total

    def descendants(self) -> list[int]:
        return _descendants(self.root)
