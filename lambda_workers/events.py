"""The invocation event of a chain link: a versioned schema, validated before any side effect.

Version 1:

    {
      "version": 1,
      "action": "start" | "continue",
      "deployment": "prod",                       # the <env> in /baton/<env>/chains/...
      "chain": {"asset": "prices", "partition": "2024-01-02", "shard": "s01-of-04"},  # shard optional
      "chain_id": "...", "link": 7,               # continue only: which chain, which link to run
      "mode": "driven" | "relay",
      "max_links": 500,                           # the runaway guard
      "full_refresh": false,                      # start only: ignore the high-water mark
      "source": {"kind": "json_rest", ...},       # see lambda_workers.sources
      "sink": {"bucket": "lake", "prefix": "raw/vendor/prices/2024-01-02"},
      "quarantine_prefix": "quarantine/vendor/prices/2024-01-02",
      "validation": {"required": ["symbol"], "types": {"close": "number"}}   # optional
    }
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambda_workers.chain.status import ChainMode
from lambda_workers.exceptions import EventError

__all__ = ["DEFAULT_CHECKPOINT_SECONDS", "SCHEMA_VERSION", "ChainAddress", "LinkEvent", "Validation", "parse_event"]

SCHEMA_VERSION = 1
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_PREFIX = re.compile(r"^[A-Za-z0-9_.=/-]{1,512}$")
_TYPES = ("string", "number", "integer", "boolean")


@dataclass(frozen=True)
class ChainAddress:
    """What a chain extracts: one asset, one partition, optionally one shard."""

    asset: str
    partition: str
    shard: str | None = None

    def path(self) -> str:
        parts = [self.asset, self.partition] + ([self.shard] if self.shard else [])
        return "/".join(parts)

    @classmethod
    def from_path(cls, path: str) -> ChainAddress:
        """The inverse of `path`: `<asset>/<partition>[/<shard>]`."""
        parts = path.strip("/").split("/")
        if len(parts) not in (2, 3) or not all(_SEGMENT.match(part) for part in parts):
            raise ValueError(f"{path!r} is not a chain path <asset>/<partition>[/<shard>]")
        return cls(*parts)


DEFAULT_CHECKPOINT_SECONDS = 30.0
"""A link commits its cursor at least this often: a kill loses at most this much work."""


@dataclass(frozen=True)
class Validation:
    """Per-record checks; a record that fails one is quarantined with the reason, not dropped."""

    required: tuple[str, ...] = ()
    types: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LinkEvent:
    action: str
    deployment: str
    chain: ChainAddress
    mode: ChainMode
    max_links: int
    full_refresh: bool
    source: Mapping[str, Any]
    bucket: str
    prefix: str
    quarantine_prefix: str
    validation: Validation
    chain_id: str | None = None
    link: int | None = None
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS
    link_seconds: float | None = None  # a link hands on after this long, though the function's timeout is later

    def continuation(self, chain_id: str, link: int) -> dict[str, Any]:
        """The event that runs link `link` of the same chain (what relay mode sends itself)."""
        return {**self.to_dict(), "action": "continue", "chain_id": chain_id, "link": link, "full_refresh": False}

    def to_dict(self) -> dict[str, Any]:
        chain: dict[str, Any] = {"asset": self.chain.asset, "partition": self.chain.partition}
        if self.chain.shard:
            chain["shard"] = self.chain.shard
        event: dict[str, Any] = {
            "version": SCHEMA_VERSION,
            "action": self.action,
            "deployment": self.deployment,
            "chain": chain,
            "mode": self.mode.value,
            "max_links": self.max_links,
            "full_refresh": self.full_refresh,
            "source": dict(self.source),
            "sink": {"bucket": self.bucket, "prefix": self.prefix},
            "quarantine_prefix": self.quarantine_prefix,
            "validation": {"required": list(self.validation.required), "types": dict(self.validation.types)},
            "checkpoint_seconds": self.checkpoint_seconds,
        }
        if self.link_seconds is not None:
            event["link_seconds"] = self.link_seconds
        if self.chain_id is not None:
            event["chain_id"] = self.chain_id
            event["link"] = self.link
        return event


def parse_event(event: Any) -> LinkEvent:
    """Validate `event` field by field; the first problem raises `EventError` naming the field."""
    if not isinstance(event, Mapping):
        raise EventError("<event>", f"must be a JSON object, got {type(event).__name__}")
    version = event.get("version")
    if version != SCHEMA_VERSION:
        raise EventError("version", f"must be {SCHEMA_VERSION}, the version this worker reads; got {version!r}")
    action = _choice(event, "action", ("start", "continue"))
    chain = _mapping(event, "chain")
    address = ChainAddress(
        asset=_segment(chain, "chain.asset", "asset"),
        partition=_segment(chain, "chain.partition", "partition"),
        shard=_segment(chain, "chain.shard", "shard") if chain.get("shard") is not None else None,
    )
    sink = _mapping(event, "sink")
    source = _mapping(event, "source")
    if not isinstance(source.get("kind"), str):
        raise EventError("source.kind", "must name a source kind")
    chain_id: str | None = None
    link: int | None = None
    if action == "continue":
        chain_id = _segment(event, "chain_id", "chain_id")
        link = _integer(event, "link", minimum=1)
    return LinkEvent(
        action=action,
        deployment=_segment(event, "deployment", "deployment"),
        chain=address,
        mode=ChainMode(_choice(event, "mode", tuple(ChainMode))),
        max_links=_integer(event, "max_links", minimum=1),
        full_refresh=_boolean(event, "full_refresh", default=False),
        source=source,
        bucket=_segment(sink, "sink.bucket", "bucket"),
        prefix=_prefix(sink, "sink.prefix", "prefix"),
        quarantine_prefix=_prefix(event, "quarantine_prefix", "quarantine_prefix"),
        validation=_validation(event.get("validation")),
        chain_id=chain_id,
        link=link,
        checkpoint_seconds=_seconds(event, "checkpoint_seconds", DEFAULT_CHECKPOINT_SECONDS),
        link_seconds=_seconds(event, "link_seconds", 0.0) if event.get("link_seconds") is not None else None,
    )


def _mapping(container: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = container.get(name)
    if not isinstance(value, Mapping):
        raise EventError(name, "is required and must be an object")
    return value


def _choice(container: Mapping[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = container.get(name)
    if value not in choices:
        raise EventError(name, f"must be one of {', '.join(choices)}; got {value!r}")
    return str(value)


def _segment(container: Mapping[str, Any], label: str, key: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not _SEGMENT.match(value):
        raise EventError(label, f"must be 1-128 characters of letters, digits, '_', '.', '-'; got {value!r}")
    return value


def _prefix(container: Mapping[str, Any], label: str, key: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not _PREFIX.match(value) or value.startswith("/") or ".." in value:
        raise EventError(label, f"must be a relative S3 prefix without '..'; got {value!r}")
    return value.rstrip("/")


def _integer(container: Mapping[str, Any], name: str, minimum: int) -> int:
    value = container.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise EventError(name, f"must be an integer >= {minimum}; got {value!r}")
    return value


def _seconds(container: Mapping[str, Any], name: str, default: float) -> float:
    value = container.get(name, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 900:
        raise EventError(name, f"must be a number of seconds above 0 and at most 900; got {value!r}")
    return float(value)


def _boolean(container: Mapping[str, Any], name: str, default: bool) -> bool:
    value = container.get(name, default)
    if not isinstance(value, bool):
        raise EventError(name, f"must be true or false; got {value!r}")
    return value


def _validation(value: Any) -> Validation:
    if value is None:
        return Validation()
    if not isinstance(value, Mapping):
        raise EventError("validation", "must be an object")
    required = value.get("required", [])
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        raise EventError("validation.required", "must be a list of field names")
    types = value.get("types", {})
    if not isinstance(types, Mapping):
        raise EventError("validation.types", "must map field names to types")
    for name, kind in types.items():
        if kind not in _TYPES:
            raise EventError(f"validation.types.{name}", f"must be one of {', '.join(_TYPES)}; got {kind!r}")
    return Validation(required=tuple(required), types=dict(types))
