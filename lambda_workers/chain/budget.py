"""How long a link may keep working: a safety margin learned from what it observes.

A fixed "stop at 14 minutes" either wastes minutes or dies in the last page. Instead the link
keeps going while the time left exceeds the slowest page seen so far (with headroom) plus the
slowest commit seen, both carried over from earlier links through the cursor record.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["TimeBudget"]

PAGE_HEADROOM = 1.5
COMMIT_HEADROOM = 2.0
FLOOR_MS = 100.0


class TimeBudget:
    def __init__(self, remaining_ms: Callable[[], int], page_ms: float = 0.0, commit_ms: float = 0.0):
        self._remaining_ms = remaining_ms
        self.page_ms = page_ms
        self.commit_ms = commit_ms
        self.pages_this_link = 0

    @property
    def margin_ms(self) -> float:
        return PAGE_HEADROOM * self.page_ms + COMMIT_HEADROOM * self.commit_ms + FLOOR_MS

    def can_afford_page(self) -> bool:
        """True while one more page and the commit fit in the time left.

        A link's first page is always tried, whatever was learned before: a margin learned
        when the source was slow (pages longer than a whole link) would otherwise stop every
        later link before its first page, and the chain would spin without progress. The
        deadline kill is the backstop, and the page's time is learned afresh.
        """
        if self.pages_this_link == 0:
            return self._remaining_ms() > FLOOR_MS
        return self._remaining_ms() > self.margin_ms

    def observe_page(self, elapsed_ms: float) -> None:
        """Remember the slowest page, decaying slowly so one outlier does not rule forever."""
        self.pages_this_link += 1
        self.page_ms = max(elapsed_ms, 0.9 * self.page_ms)

    def observe_commit(self, elapsed_ms: float) -> None:
        self.commit_ms = max(elapsed_ms, 0.9 * self.commit_ms)
