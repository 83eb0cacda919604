"""Auth, pagination and rate limits a declaration can ask for, against another vendor's API on loopback."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

import pytest

from lambda_workers.chain.status import ChainStatus
from tests.lambda_workers.test_sources import run_chain
from tests.raw_zone import raw_records
from tests.trades_api import running_trades_api, trades_of

DAY = "2025-06-02"


@pytest.fixture
def secret(ssm: Any) -> tuple[str, str]:
    """A vendor token as `baton secrets set` stores it: an SSM SecureString."""
    name, value = f"/baton/t/secrets/trades-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    ssm.put_parameter(Name=name, Value=value, Type="SecureString")
    return name, value


def source(url: str, auth: dict[str, Any], style: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "json_rest",
        "base_url": url,
        "path": "/trades",
        "params": {"day": DAY},
        "records": "" if style == "link" else "data",
        "pagination": {"style": style, "limit": 70},
        "auth": auth,
        **extra,
    }


AUTHS = {
    "header": {"type": "header", "header": "Authorization", "prefix": "token "},
    "bearer": {"type": "header", "header": "Authorization", "prefix": "Bearer "},
    "basic": {"type": "basic"},
    "query": {"type": "query", "param": "api_key"},
}


@pytest.mark.parametrize(
    ("auth", "style"), [("header", "link"), ("bearer", "next_url"), ("basic", "link"), ("query", "next_url")]
)
def test_every_trade_arrives_once_whatever_the_auth_and_pagination(
    auth: str, style: str, secret: tuple[str, str], bucket: str, deployment: str, s3: Any
) -> None:
    parameter, token = secret
    with running_trades_api(token, trades=500, auth=auth, style=style) as api:
        results = run_chain(source(api.url, {**AUTHS[auth], "secret_parameter": parameter}, style), bucket, deployment)
    assert results[-1].status == ChainStatus.DONE, results[-1].last_error
    assert sorted(raw_records(s3, bucket), key=lambda r: r["trade_id"]) == trades_of(DAY, 500)
    pages = -(-500 // 70)
    assert len(api.requests) > pages, "the third request answers 500, so at least one page was asked twice"
    assert token not in json.dumps([r.to_payload() for r in results]), "the secret is in no result"


@pytest.mark.parametrize("auth", ["header", "query"])
def test_a_wrong_token_is_refused_naming_where_it_comes_from_and_never_showing_it(
    auth: str, secret: tuple[str, str], bucket: str, deployment: str, s3: Any
) -> None:
    parameter, token = secret
    with running_trades_api("the-right-token", auth=auth, faults=False) as api:
        results = run_chain(source(api.url, {**AUTHS[auth], "secret_parameter": parameter}, "link"), bucket, deployment)
    failed = results[-1]
    assert failed.status == ChainStatus.FAILED
    assert "answered 401" in (failed.last_error or "") and f"the SSM parameter {parameter}" in (failed.last_error or "")
    assert token not in json.dumps(failed.to_payload()), "a query-parameter secret stays out of the URL it names"
    assert raw_records(s3, bucket) == []


def test_a_rate_limit_spaces_the_requests_out(secret: tuple[str, str], bucket: str, deployment: str, s3: Any) -> None:
    """5 pages at 5 requests a second: the client waits 0.2 s between sends, so the last is 0.8 s after the first.

    The server's arrival times carry loopback jitter, so the bound allows 0.2 s of it; a client that
    did not pace would send the five pages in a few milliseconds, however slow the machine.
    """
    parameter, token = secret
    with running_trades_api(token, trades=300, faults=False) as api:
        config = source(api.url, {**AUTHS["header"], "secret_parameter": parameter}, "link")
        results = run_chain({**config, "rate_limit": {"requests_per_second": 5}}, bucket, deployment)
    assert results[-1].status == ChainStatus.DONE
    times = [at for at, _ in api.requests]
    assert len(times) == 5, "300 trades in pages of 70"
    assert times[-1] - times[0] >= 0.6, "at most 5 requests a second"


@pytest.mark.parametrize("faults", [False, True], ids=["clean", "a 500 or 429 now and then"])
def test_offset_pages_are_asked_for_while_the_last_is_parsed_and_each_is_used_once(
    faults: bool, secret: tuple[str, str], bucket: str, deployment: str, s3: Any
) -> None:
    """Each page's request goes out before the page before it is parsed; a failed head start is made again."""
    parameter, token = secret
    auth = {**AUTHS["header"], "secret_parameter": parameter}
    with running_trades_api(token, trades=500, style="offset", faults=faults) as api:
        results = run_chain(source(api.url, auth, "offset", records="data"), bucket, deployment)
    assert results[-1].status == ChainStatus.DONE, results[-1].last_error
    assert sorted(raw_records(s3, bucket), key=lambda r: r["trade_id"]) == trades_of(DAY, 500)
    offsets = [int(path.split("offset=")[1].split("&")[0]) for _, path in api.requests]
    pages = list(range(0, 500, 70))
    assert set(offsets) == {*pages, 490 + 70}, "every page, and one head start past the last"
    if not faults:
        assert sorted(offsets) == [*pages, 560], "each prefetched page was used, none asked for twice"
