"""A bad event is rejected with an error naming the field, before any side effect."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lambda_workers.chain.link_context import ShortLinkContext
from lambda_workers.events import parse_event
from lambda_workers.exceptions import EventError
from lambda_workers.handler import lambda_handler
from tests.lambda_workers.conftest import DeadlineContext


def good_event(deployment: str, bucket: str) -> dict[str, Any]:
    return {
        "version": 1,
        "action": "start",
        "deployment": deployment,
        "chain": {"asset": "prices", "partition": "2024-01-02"},
        "mode": "driven",
        "max_links": 10,
        "source": {"kind": "s3_feed", "bucket": bucket, "prefix": "landing/", "format": "csv"},
        "sink": {"bucket": bucket, "prefix": "raw/vendor/prices/2024-01-02"},
        "quarantine_prefix": "quarantine/vendor/prices/2024-01-02",
    }


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("version",), 2, "version"),
        (("action",), "resume", "action"),
        (("chain", "asset"), "prices/../x", "chain.asset"),
        (("chain", "partition"), "", "chain.partition"),
        (("mode",), "fast", "mode"),
        (("max_links",), 0, "max_links"),
        (("max_links",), True, "max_links"),
        (("sink", "prefix"), "/abs", "sink.prefix"),
        (("sink", "prefix"), "raw/../secrets", "sink.prefix"),
        (("source", "kind"), "ftp", "source.kind"),
        (("source", "format"), "parquet", "source.format"),
        (("full_refresh",), "yes", "full_refresh"),
        (("validation",), {"types": {"close": "decimal"}}, "validation.types.close"),
        (("link_seconds",), 0, "link_seconds"),
        (("link_seconds",), 901, "link_seconds"),
    ],
)
def test_each_bad_field_is_named(
    path: tuple[str, ...], value: Any, field: str, deployment: str, bucket: str, ssm: Any, s3: Any
) -> None:
    event = good_event(deployment, bucket)
    target = event
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(EventError) as raised:
        lambda_handler(event, DeadlineContext(5000))
    assert raised.value.field == field
    assert field in str(raised.value)
    assert ssm.get_parameters_by_path(Path=f"/baton/{deployment}", Recursive=True)["Parameters"] == []
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_continue_needs_chain_id_and_link() -> None:
    event = good_event("prod", "lake")
    event["action"] = "continue"
    with pytest.raises(EventError, match="'chain_id'"):
        parse_event(event)
    event["chain_id"] = "abc"
    with pytest.raises(EventError, match="'link'"):
        parse_event(event)


def test_round_trip_through_to_dict() -> None:
    event = good_event("prod", "lake")
    event["chain"]["shard"] = "s01-of-04"
    parsed = parse_event(copy.deepcopy(event))
    assert parse_event(parsed.to_dict()) == parsed
    follow_on = parse_event(parsed.continuation("c1", 2))
    assert (follow_on.action, follow_on.chain_id, follow_on.link) == ("continue", "c1", 2)
    short = parse_event({**event, "link_seconds": 2})
    assert short.link_seconds == 2.0 and parse_event(short.continuation("c1", 2)).link_seconds == 2.0
    assert parsed.link_seconds is None and "link_seconds" not in parsed.to_dict()


def test_a_short_link_has_the_earlier_of_its_own_deadline_and_the_functions() -> None:
    now = [100.0]
    context = ShortLinkContext(DeadlineContext(60_000), 2.0, clock=lambda: now[0])
    assert context.get_remaining_time_in_millis() == 2000
    now[0] += 1.5
    assert context.get_remaining_time_in_millis() == 500
    now[0] += 1.0
    assert context.get_remaining_time_in_millis() == 0
    assert context.aws_request_id and context.memory_limit_in_mb == 256, "the rest is the function's context"
    early = ShortLinkContext(DeadlineContext(1000), 60.0, clock=lambda: now[0])
    assert early.get_remaining_time_in_millis() <= 1000, "the function's own deadline still rules"
