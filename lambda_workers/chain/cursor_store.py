"""Where a chain's cursor record lives: an abstract store, and Parameter Store behind it.

The record is the single source of truth for where a chain stands. Parameter Store keeps its
last 100 versions, so with one commit per link the parameter history is the chain's history.
The halt flag is a parameter of its own: a link committing its record can then never overwrite
a halt that arrived while it worked, and one `GetParameters` call still reads both.

A record carries the version of its schema. Reading one migrates it from any older version, so
a chain committed by earlier workers resumes unchanged; one from a newer version than this code
knows is refused by name, since rewriting it would drop what the newer workers recorded.
"""

from __future__ import annotations

import contextlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lambda_workers.chain.status import RECORD_STATUSES, ChainMode, ChainStatus, Refresh
from lambda_workers.events import ChainAddress
from lambda_workers.exceptions import CursorRecordError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

__all__ = [
    "RECORD_LIMIT_BYTES",
    "RECORD_VERSION",
    "CursorRecord",
    "CursorStore",
    "SsmCursorStore",
    "halt_parameter_name",
    "parameter_name",
]

RECORD_LIMIT_BYTES = 4096  # a standard parameter's value
RECORD_VERSION = 4  # 4 adds refresh; a version-2 or -3 record reads with the defaults of what it lacks
"""The record schema this code writes.

1 (a record without `version`): `mode`, `memory_mb` and `last_request_id` in an `extra` object.
2: those three as fields of their own, and `version`.
"""
_VERSION_1_EXTRA = ("mode", "memory_mb", "last_request_id")


def chains_path(deployment: str) -> str:
    return f"/baton/{deployment}/chains"


def parameter_name(deployment: str, chain: ChainAddress) -> str:
    """`/baton/<env>/chains/<asset>/<partition>[/<shard>]`."""
    return f"{chains_path(deployment)}/{chain.path()}"


def halt_parameter_name(deployment: str, chain: ChainAddress) -> str:
    return f"/baton/{deployment}/halts/{chain.path()}"


@dataclass
class CursorRecord:
    """Where one chain stands. `cursor` is the source's own position, opaque to the runner."""

    chain_id: str
    status: ChainStatus
    cursor: dict[str, Any]
    link: int = 0
    rows: int = 0
    bytes: int = 0
    chunks: int = 0
    quarantined: int = 0
    started_at: str = ""
    updated_at: str = ""
    last_error: str | None = None
    window_closed: bool = False
    total: int | None = None
    billed_ms: int = 0
    page_ms: float = 0.0
    commit_ms: float = 0.0
    prefix: str = ""
    mode: ChainMode | None = None  # set by every link: a relay chain is watched by a sensor, a driven one by its caller
    memory_mb: int | None = None  # the function's memory in the last link: with billed_ms, the chain's cost
    last_request_id: str | None = None  # the last link's invocation, to find its log
    restarts: int = 0  # times the watchdog resumed the chain after a link died; bounded
    previous_chain_id: str | None = None  # a pending chain's predecessor, whose cursor an incremental start resumes
    refresh: Refresh | None = None  # set when the chain starts; None in a record written before version 4
    version: int = field(default=RECORD_VERSION, init=False)  # always this code's: reading migrates older records

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, parameter: str, text: str) -> CursorRecord:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CursorRecordError(parameter, f"is not JSON ({exc.msg} at character {exc.pos})") from exc
        if not isinstance(raw, dict):
            raise CursorRecordError(parameter, "is not a JSON object")
        version = raw.pop("version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise CursorRecordError(parameter, f"has version {version!r}, not a schema version (an integer from 1)")
        if version > RECORD_VERSION:
            raise CursorRecordError(
                parameter,
                f"has version {version}, newer than version {RECORD_VERSION}, the newest this code reads",
                remedy="it was written by newer workers: run the newer code rather than rewriting the record",
            )
        if version == 1:
            raw = _from_version_1(parameter, raw)
        known = {f.name for f in fields(cls) if f.init}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise CursorRecordError(parameter, f"has unknown fields {unknown}")
        for required in ("chain_id", "status", "cursor"):
            if required not in raw:
                raise CursorRecordError(parameter, f"lacks the field {required!r}")
        if raw["status"] not in RECORD_STATUSES:
            raise CursorRecordError(parameter, f"has status {raw['status']!r}, not one of {', '.join(RECORD_STATUSES)}")
        if raw.get("mode") is not None and raw["mode"] not in tuple(ChainMode):
            raise CursorRecordError(parameter, f"has mode {raw['mode']!r}, not one of {', '.join(ChainMode)}")
        if not isinstance(raw["cursor"], dict):
            raise CursorRecordError(parameter, "has a cursor that is not a JSON object")
        for stamp in ("started_at", "updated_at"):
            if raw.get(stamp):
                try:
                    datetime.fromisoformat(raw[stamp])
                except (TypeError, ValueError):
                    raise CursorRecordError(
                        parameter, f"has {stamp} {raw[stamp]!r}, not an ISO 8601 timestamp"
                    ) from None
        raw["status"] = ChainStatus(raw["status"])
        raw["mode"] = ChainMode(raw["mode"]) if raw.get("mode") is not None else None
        if raw.get("refresh") is not None and raw["refresh"] not in tuple(Refresh):
            raise CursorRecordError(parameter, f"has refresh {raw['refresh']!r}, not one of {', '.join(Refresh)}")
        raw["refresh"] = Refresh(raw["refresh"]) if raw.get("refresh") is not None else None
        try:
            return cls(**raw)
        except TypeError as exc:
            raise CursorRecordError(parameter, str(exc)) from exc


def _from_version_1(parameter: str, raw: dict[str, Any]) -> dict[str, Any]:
    """A version-1 record in version 2's shape: what its `extra` object held becomes fields."""
    promoted = sorted(set(raw) & set(_VERSION_1_EXTRA))
    if promoted:
        raise CursorRecordError(parameter, f"has no version but the version-{RECORD_VERSION} fields {promoted}")
    extra = raw.pop("extra", {})
    if not isinstance(extra, dict):
        raise CursorRecordError(parameter, "has an extra that is not a JSON object")
    unknown = sorted(set(extra) - set(_VERSION_1_EXTRA))
    if unknown:
        raise CursorRecordError(parameter, f"has unknown extra fields {unknown}")
    return {**raw, **extra}


class CursorStore(ABC):
    """Load and commit cursor records and read halt flags; the logic is written once, here."""

    def load(self, deployment: str, chain: ChainAddress) -> tuple[CursorRecord | None, bool]:
        """The chain's record (None if it never ran) and whether it is flagged to halt."""
        name = parameter_name(deployment, chain)
        values = self._get_values([name, halt_parameter_name(deployment, chain)])
        text = values.get(name)
        record = CursorRecord.from_json(name, text) if text is not None else None
        return record, values.get(halt_parameter_name(deployment, chain)) == "halt"

    def commit(self, deployment: str, chain: ChainAddress, record: CursorRecord) -> None:
        name = parameter_name(deployment, chain)
        text = record.to_json()
        size = len(text.encode())
        if size > RECORD_LIMIT_BYTES:
            raise CursorRecordError(
                name,
                f"would be {size} bytes, over the {RECORD_LIMIT_BYTES}-byte limit",
                remedy="nothing was written, the stored record is as it was: the source's cursor is too large",
            )
        self._put_value(name, text)

    def set_halt(self, deployment: str, chain: ChainAddress, halt: bool) -> None:
        """Flag (or unflag) a chain to stop; the next link to start sees it and stops."""
        name = halt_parameter_name(deployment, chain)
        if halt:
            self._put_value(name, "halt")
        else:
            self._delete_value(name)

    def mark_halted(self, deployment: str, chain: ChainAddress, reason: str, now: str) -> None:
        """Record a running chain as halted; only for a caller that knows no link is in flight."""
        record, _ = self.load(deployment, chain)
        if record is not None and record.status == ChainStatus.RUNNING:
            record.status, record.last_error, record.updated_at = ChainStatus.HALTED, reason, now
            self.commit(deployment, chain, record)

    def halt_requested(self, deployment: str, chain: ChainAddress) -> bool:
        name = halt_parameter_name(deployment, chain)
        return self._get_values([name]).get(name) == "halt"

    def history(self, deployment: str, chain: ChainAddress) -> list[CursorRecord]:
        """Committed records, oldest first: one per link, as far back as the store keeps them."""
        name = parameter_name(deployment, chain)
        return [CursorRecord.from_json(name, text) for text in self._history_values(name)]

    def records(self, deployment: str, asset: str | None = None) -> Iterator[tuple[ChainAddress, CursorRecord]]:
        """Every chain of the deployment (or of one asset) with its record; a record that does not parse raises.

        An asset's chains are listed under the asset's own path, so the store is not paged
        through every other asset's chains too.
        """
        base = chains_path(deployment)
        for name, text in self._values_under(base if asset is None else f"{base}/{asset}"):
            yield ChainAddress.from_path(name.removeprefix(base)), CursorRecord.from_json(name, text)

    @abstractmethod
    def _get_values(self, names: list[str]) -> dict[str, str]: ...

    @abstractmethod
    def _values_under(self, path: str) -> Iterator[tuple[str, str]]: ...

    @abstractmethod
    def _put_value(self, name: str, value: str) -> None: ...

    @abstractmethod
    def _delete_value(self, name: str) -> None: ...

    @abstractmethod
    def _history_values(self, name: str) -> list[str]: ...


class SsmCursorStore(CursorStore):
    """Cursor records as standard String parameters in SSM Parameter Store."""

    def __init__(self, client: SSMClient):
        self._client = client

    def _get_values(self, names: list[str]) -> dict[str, str]:
        response = self._client.get_parameters(Names=names)
        return {p["Name"]: p["Value"] for p in response["Parameters"]}

    def _values_under(self, path: str) -> Iterator[tuple[str, str]]:
        for page in self._client.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True):
            for parameter in page["Parameters"]:
                yield parameter["Name"], parameter["Value"]

    def _put_value(self, name: str, value: str) -> None:
        self._client.put_parameter(Name=name, Value=value, Type="String", Tier="Standard", Overwrite=True)

    def _delete_value(self, name: str) -> None:
        with contextlib.suppress(self._client.exceptions.ParameterNotFound):
            self._client.delete_parameter(Name=name)

    def _history_values(self, name: str) -> list[str]:
        values: list[str] = []
        for page in self._client.get_paginator("get_parameter_history").paginate(Name=name):
            values.extend(p["Value"] for p in page["Parameters"])
        return values
