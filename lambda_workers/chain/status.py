"""The words of the chain protocol: where a chain stands, how a link ended, who drives the chain.

StrEnums, so that a cursor record and a link's result stay plain JSON (a member serialises as its
value and compares equal to it), while the code on both sides of the wire (the worker in Lambda,
the driver in Dagster) spells each word once, here, and a typo is an AttributeError, not a chain
that silently never matches.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RECORD_STATUSES", "ChainMode", "ChainStatus", "LinkOutcome", "Refresh"]


class ChainStatus(StrEnum):
    """Where a chain stands, as its cursor record (or, for `ABSENT`, the lack of one) says."""

    PENDING = "pending"
    """Registered by its driver before the first link is invoked; no link has committed yet.

    The record holds the new chain's id, so a first link that dies before its first commit
    leaves a chain that `baton chains list` shows and the watchdog can start again."""
    RUNNING = "running"
    DONE = "done"
    HALTED = "halted"
    FAILED = "failed"
    ABSENT = "absent"
    """No record: the chain never ran. Only a link's result says this; a record never does."""


RECORD_STATUSES = (ChainStatus.PENDING, ChainStatus.RUNNING, ChainStatus.DONE, ChainStatus.HALTED, ChainStatus.FAILED)
"""The statuses a committed cursor record may have."""


class LinkOutcome(StrEnum):
    """How one link ended: why it did nothing, or why it stopped working."""

    EXHAUSTED = "exhausted"
    """The source has nothing more: the chain is done."""
    BUDGET_SPENT = "budget spent"
    """The time left no longer covers a page and the commit: the next link goes on."""
    RETRY_LATER = "retry later"
    """The source asked to wait longer than the link had left (the result's `detail` says why)."""
    FAILED = "failed"
    """The source failed in a way retrying will not fix; the record's `last_error` says how."""
    MAX_LINKS = "max_links"
    """The runaway guard: the chain used its `max_links` with the source not exhausted."""
    SKIPPED = "skipped"
    """A start for a chain done with a closed window: nothing can have changed."""
    DUPLICATE = "duplicate"
    """A continue for a link already committed (a retried delivery)."""
    SUPERSEDED = "superseded"
    """A continue for a chain that is no longer the partition's chain."""
    HALTED = "halted"
    """The halt flag was set: nothing ran, and a running chain was recorded as halted."""
    FINISHED = "finished"
    """A continue for a chain that is no longer running."""


class ChainMode(StrEnum):
    """Who hands the baton on, and so who watches the chain."""

    DRIVEN = "driven"
    """The caller (a Dagster run) invokes link after link and sees each result."""
    RELAY = "relay"
    """Each link invokes the next; the relay sensor follows the cursor records."""


class Refresh(StrEnum):
    """What a chain's rows are: the partition's whole state, or what came after its predecessor."""

    FULL = "full"
    """From the source's start: the chains before it under the partition are superseded."""
    INCREMENTAL = "incremental"
    """Past the previous chain's high-water mark: it adds to the chains before it."""
