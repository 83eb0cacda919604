"""Bad input reaching a link: each gets an error naming the input and what is wrong, and nothing is lost.

The table of these cases is docs/bad-input.md. Every test here runs the real handler on the
session's S3 and SSM and asserts two things: the error's words (the input it names, the problem
it states) and that nothing was lost or half written (no chunk of the bad page, the cursor still
before it, the cursor record not overwritten, the quarantine holding what it counted). The local
vendor serves what a vendor serves; `CannedVendor` stands in for answers it never gives (an HTML
page, a record without its key), and is a real HTTP server on loopback, not a mock.
"""

from __future__ import annotations

import gzip
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from lambda_workers.chain.cursor_store import RECORD_VERSION, SsmCursorStore, parameter_name
from lambda_workers.chain.link_result import LinkResult
from lambda_workers.chain.status import ChainStatus, LinkOutcome
from lambda_workers.events import ChainAddress
from lambda_workers.exceptions import BucketMissingError, ChainBusyError, CursorRecordError, EventError, SourceError
from lambda_workers.handler import lambda_handler
from local_stack.stack import VENDOR_SECRET_PARAMETER, LocalStack
from platform_defs.chain_clients import lambda_client
from platform_defs.datasets import DATASETS, VendorEndpoint
from platform_defs.settings import load_settings
from tests.chain_functions import deploy_test_function
from tests.lambda_workers.conftest import DeadlineContext
from tests.raw_zone import raw_records
from tests.vendor_admin import vendor_admin

CHAIN = ChainAddress("bad_input", "2025-06-02")
CORPORATE_ACTIONS = DATASETS["corporate_actions"]
HEADER = "action_id,symbol,ex_date,action_type,ratio,amount,currency\n"


# --- helpers -----------------------------------------------------------------------------------


def event(deployment: str, bucket: str, source: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A start event for `CHAIN` writing into `bucket`; `overrides` replace top-level fields."""
    base = {
        "version": 1,
        "action": "start",
        "deployment": deployment,
        "chain": {"asset": CHAIN.asset, "partition": CHAIN.partition},
        "mode": "driven",
        "max_links": 10,
        "source": source,
        "sink": {"bucket": bucket, "prefix": "raw/t"},
        "quarantine_prefix": "quarantine/t",
        "validation": {"required": ["symbol"], "types": {}},
    }
    return {**base, **overrides}


def run_link(link_event: dict[str, Any]) -> LinkResult:
    """One link with ample time (no assertion here depends on how fast the machine is), read as a driver reads it."""
    return LinkResult.from_payload(lambda_handler(link_event, DeadlineContext(60_000)))


def objects(s3: Any, bucket: str, prefix: str) -> list[str]:
    return [obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def parameters(ssm: Any, deployment: str) -> list[str]:
    """Every SSM parameter of the deployment: a link that failed before its first commit leaves none."""
    found = ssm.get_parameters_by_path(Path=f"/baton/{deployment}", Recursive=True)["Parameters"]
    return [parameter["Name"] for parameter in found]


def assert_failed_with_nothing_written(
    result: LinkResult, s3: Any, bucket: str, *words: str, cursor: dict[str, Any]
) -> None:
    """The chain failed naming `words`, wrote no chunk, and stands where it stood (a rerun starts there)."""
    assert result.status == ChainStatus.FAILED and result.outcome == LinkOutcome.FAILED
    message = result.last_error or ""
    for word in words:
        assert word in message, f"{word!r} is not in {message!r}"
    assert result.rows == 0 and result.chunks == 0
    assert objects(s3, bucket, "raw/") == [] and objects(s3, bucket, "quarantine/") == []
    assert result.cursor == cursor


# --- a vendor answering what the test sets ------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    date: str | None = None  # the Date header; None: the real time


@dataclass
class CannedVendor:
    """An HTTP server on loopback answering each path with the test's answers, in order (the last repeats)."""

    answers: dict[str, list[Answer]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def answer(self, path: str, *answers: Answer) -> None:
        self.answers[path] = list(answers)

    def next_answer(self, target: str) -> Answer:
        self.requests.append(target)
        queue = self.answers.get(urlsplit(target).path)
        if not queue:
            return Answer(404, b'{"error": "no such endpoint"}')
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def canned() -> Iterator[CannedVendor]:
    vendor = CannedVendor()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer = vendor.next_answer(self.path)
            self.send_response_only(answer.status)
            self.send_header("Date", answer.date or self.date_time_string())
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test asserts on what the worker made of the answers."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    vendor.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield vendor
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def json_source(url: str, **overrides: Any) -> dict[str, Any]:
    source = {
        "kind": "json_rest",
        "base_url": url,
        "path": "/v1/quotes",
        "records": "data",
        "pagination": {"style": "offset", "limit": 100},
    }
    return {**source, **overrides}


HTML_PAGE = (
    b"<!DOCTYPE html>\n<html>\n  <head><title>503 Service Temporarily Unavailable</title></head>\n"
    b"  <body><h1>Down for maintenance</h1><p>Back soon.</p></body>\n</html>\n"
)


# --- the real vendor ----------------------------------------------------------------------------


@pytest.fixture
def vendor(local_stack: LocalStack) -> Iterator[str]:
    vendor_admin(local_stack, "/admin/reset", {})
    yield local_stack.environment()["BATON_VENDOR_MARKETS_BASE_URL"]
    vendor_admin(local_stack, "/admin/reset", {})
    vendor_admin(local_stack, "/admin/config", {"now": None})


def vendor_auth(parameter: str = VENDOR_SECRET_PARAMETER) -> dict[str, str]:
    return {"header": "X-Api-Key", "secret_parameter": parameter}


# --- events -------------------------------------------------------------------------------------

SEGMENT = "must be 1-128 characters of letters, digits, '_', '.', '-'"


@pytest.mark.parametrize("value", [[], "start", 7, None], ids=["list", "string", "number", "null"])
def test_an_event_that_is_not_an_object_is_refused_naming_its_type(value: Any) -> None:
    """Parsing is the handler's first step, so nothing can have been touched when it refuses."""
    with pytest.raises(EventError) as raised:
        lambda_handler(value, DeadlineContext(5000))
    assert str(raised.value) == f"event field '<event>': must be a JSON object, got {type(value).__name__}"


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("version", "event field 'version': must be 1, the version this worker reads; got None"),
        (
            "deployment",
            "event field 'deployment': must be 1-128 characters of letters, digits, '_', '.', '-'; got None",
        ),
        ("chain", "event field 'chain': is required and must be an object"),
        ("sink", "event field 'sink': is required and must be an object"),
        ("source", "event field 'source': is required and must be an object"),
        ("mode", "event field 'mode': must be one of driven, relay; got None"),
        ("max_links", "event field 'max_links': must be an integer >= 1; got None"),
        ("quarantine_prefix", "event field 'quarantine_prefix': must be a relative S3 prefix without '..'; got None"),
    ],
)
def test_an_event_missing_a_field_is_refused_naming_it_before_any_side_effect(
    missing: str, message: str, ssm: Any, s3: Any, bucket: str, deployment: str
) -> None:
    bad = event(deployment, bucket, {"kind": "s3_feed", "bucket": bucket, "prefix": "landing/", "format": "csv"})
    del bad[missing]
    with pytest.raises(EventError) as raised:
        lambda_handler(bad, DeadlineContext(5000))
    assert str(raised.value) == message and raised.value.permanent
    assert parameters(ssm, deployment) == [] and objects(s3, bucket, "") == []


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("version",), 2, "event field 'version': must be 1, the version this worker reads; got 2"),
        (("max_links",), "10", "event field 'max_links': must be an integer >= 1; got '10'"),
        (("full_refresh",), "yes", "event field 'full_refresh': must be true or false; got 'yes'"),
        (("chain", "asset"), 5, f"event field 'chain.asset': {SEGMENT}; got 5"),
        (
            ("source", "pagination", "limit"),
            "100",
            "event field 'source.pagination.limit': must be an integer from 1 to 1000000; got '100'",
        ),
        (
            ("checkpoint_seconds",),
            0,
            "event field 'checkpoint_seconds': must be a number of seconds above 0 and at most 900; got 0",
        ),
    ],
)
def test_an_event_field_of_the_wrong_type_or_an_unknown_version_is_refused_naming_both(
    path: tuple[str, ...], value: Any, message: str, ssm: Any, s3: Any, bucket: str, deployment: str
) -> None:
    bad = event(deployment, bucket, json_source("http://127.0.0.1:9"))
    target = bad
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(EventError) as raised:
        lambda_handler(bad, DeadlineContext(5000))
    assert str(raised.value) == message
    assert parameters(ssm, deployment) == [] and objects(s3, bucket, "") == []


@pytest.fixture(scope="module")
def function(local_stack: LocalStack) -> str:
    """The worker zip deployed in the local Lambda service, which enforces Lambda's payload limits."""
    return deploy_test_function("bad-input", timeout=5)


@pytest.mark.parametrize(
    ("invocation", "limit", "operation"),
    [("RequestResponse", 6_291_456, "InvokeFunction"), ("Event", 1_048_576, "InvokeAsync")],
)
def test_an_event_over_lambdas_payload_limit_is_refused_before_the_worker_runs(
    invocation: str, limit: int, operation: str, function: str, ssm: Any, s3: Any, bucket: str, deployment: str
) -> None:
    """6 MB synchronous (the driven mode), 1 MB asynchronous (relay mode): Lambda refuses it, so no link starts."""
    big = event(deployment, bucket, json_source("http://127.0.0.1:9", params={"symbols": "S" * limit}))
    with pytest.raises(ClientError) as raised:
        lambda_client(load_settings().aws).invoke(
            FunctionName=function, InvocationType=invocation, Payload=json.dumps(big).encode()
        )
    assert raised.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert f"Request must be smaller than {limit} bytes for the {operation} operation" in str(raised.value)
    assert parameters(ssm, deployment) == [] and objects(s3, bucket, "") == []


def test_a_payload_that_is_not_json_is_refused_by_lambda(function: str) -> None:
    with pytest.raises(ClientError) as raised:
        lambda_client(load_settings().aws).invoke(FunctionName=function, Payload=b"version=1&action=start")
    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert "Could not parse request body into json" in str(raised.value)


# --- cursor records -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('{"chain_id": "c1", "status": "running", "cursor": {"offset": 300}', "is not JSON (Expecting"),
        (
            json.dumps({"version": RECORD_VERSION + 1, "chain_id": "c1", "status": "running", "cursor": {}}),
            f"has version {RECORD_VERSION + 1}, newer than version {RECORD_VERSION}",
        ),
    ],
    ids=["unparseable", "newer version"],
)
def test_a_record_that_does_not_parse_stops_the_link_and_is_left_as_it_was(
    value: str, problem: str, ssm: Any, s3: Any, bucket: str, deployment: str
) -> None:
    """Never a silent restart from row 0: the record stays, byte for byte, for a person (or newer code) to read."""
    s3.put_object(Bucket=bucket, Key="landing/day-1.csv", Body=b"symbol\nA\n")
    name = parameter_name(deployment, CHAIN)
    ssm.put_parameter(Name=name, Value=value, Type="String")
    source = {"kind": "s3_feed", "bucket": bucket, "prefix": "landing/", "format": "csv"}
    with pytest.raises(CursorRecordError) as raised:
        lambda_handler(event(deployment, bucket, source), DeadlineContext(5000))
    assert str(raised.value).startswith(f"cursor record {name}: {problem}") and raised.value.permanent
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == value
    assert objects(s3, bucket, "raw/") == []


def running_record(chain_id: str, updated_at: str) -> str:
    """A running chain's record as a link commits it, with the test's `updated_at`."""
    record = {"version": RECORD_VERSION, "chain_id": chain_id, "status": "running", "cursor": {"after_key": None}}
    return json.dumps({**record, "link": 3, "rows": 30, "updated_at": updated_at})


def test_a_record_committed_in_the_future_keeps_the_chain_busy_and_untouched(
    ssm: Any, s3: Any, bucket: str, deployment: str
) -> None:
    """A record from a host whose clock ran a day ahead: the start is refused, the record kept.

    The refusal names the chain and its link but states the age as negative (a gap: see
    docs/bad-input.md; the wording lives in the runner).
    """
    name = parameter_name(deployment, CHAIN)
    value = running_record("20261201T000000Z-future01", (datetime.now(UTC) + timedelta(days=1)).isoformat())
    ssm.put_parameter(Name=name, Value=value, Type="String")
    source = {"kind": "s3_feed", "bucket": bucket, "prefix": "landing/", "format": "csv"}
    with pytest.raises(ChainBusyError) as raised:
        lambda_handler(event(deployment, bucket, source), DeadlineContext(5000))
    message = str(raised.value)
    assert message.startswith(f"chain 20261201T000000Z-future01 of {CHAIN.path()} committed link 3 at ")
    assert "ahead of this worker's clock (its writer's clock is ahead), so it counts as running" in message
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == value
    assert objects(s3, bucket, "raw/") == []


def test_a_record_whose_timestamp_does_not_parse_stops_the_link_untouched(
    ssm: Any, s3: Any, bucket: str, deployment: str
) -> None:
    """The record reads (its timestamps are not checked on reading), so the runner's parse fails, naming the value only.

    A gap (docs/bad-input.md): the error names neither the parameter nor the field; both live in
    files outside this change (cursor_store, runner). The record is kept and nothing is written.
    """
    name = parameter_name(deployment, CHAIN)
    value = running_record("20261201T000000Z-badtime1", "yesterday")
    ssm.put_parameter(Name=name, Value=value, Type="String")
    source = {"kind": "s3_feed", "bucket": bucket, "prefix": "landing/", "format": "csv"}
    with pytest.raises(CursorRecordError, match=r"has updated_at 'yesterday', not an ISO 8601 timestamp"):
        lambda_handler(event(deployment, bucket, source), DeadlineContext(5000))
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == value
    assert objects(s3, bucket, "raw/") == []


def test_a_next_token_too_long_for_the_cursor_stops_the_chain_before_its_page(
    canned: CannedVendor, s3: Any, bucket: str, deployment: str
) -> None:
    """A cursor record holds 4 KB: a longer token is refused at its page, not after the page is written."""
    page = {"data": [{"symbol": "A"}, {"symbol": "B"}], "next_token": "t2"}
    long_token = {"data": [{"symbol": "C"}], "next_token": "x" * 5000}
    canned.answer("/v1/quotes", Answer(200, json.dumps(page).encode()), Answer(200, json.dumps(long_token).encode()))
    source = json_source(canned.url, pagination={"style": "token", "limit": 2})
    result = run_link(event(deployment, bucket, source))
    assert result.status == ChainStatus.FAILED
    assert "the next token 'next_token' of the next page is 5002 bytes, over the 2048 a cursor" in (
        result.last_error or ""
    )
    assert result.rows == 2 and result.cursor == {"token": "t2"}, "the first page committed, the cursor before C"
    assert [r["symbol"] for r in raw_records(s3, bucket, "raw/")] == ["A", "B"], "nothing of the refused page"


# --- vendor answers -----------------------------------------------------------------------------


def test_a_body_that_is_not_json_fails_the_chain_naming_the_url_and_what_came(
    vendor: str, s3: Any, bucket: str, deployment: str
) -> None:
    """The JSON source pointed at the vendor's CSV feed: the message says what the body is."""
    source = json_source(vendor, path="/v1/feeds/corporate_actions/2025-06-02.csv", auth=vendor_auth())
    result = run_link(event(deployment, bucket, source))
    assert_failed_with_nothing_written(
        result,
        s3,
        bucket,
        f"SourceError: {vendor}/v1/feeds/corporate_actions/2025-06-02.csv?limit=100&offset=0: the body is not JSON",
        "text/csv; charset=utf-8, starting 'action_id,symbol,ex_date",
        cursor={"offset": 0},
    )


def test_a_body_that_is_not_xml_fails_the_chain_naming_the_url(
    vendor: str, s3: Any, bucket: str, deployment: str
) -> None:
    source = {
        "kind": "xml_api",
        "base_url": vendor,
        "path": "/v1/prices",
        "params": {"from": "2025-06-02", "to": "2025-06-02"},
        "record_element": "instrument",
        "auth": vendor_auth(),
    }
    result = run_link(event(deployment, bucket, source))
    where = f"{vendor}/v1/prices?from=2025-06-02&to=2025-06-02&page=1&page_size=500"
    assert_failed_with_nothing_written(
        result,
        s3,
        bucket,
        f"{where}: the body is not well-formed XML (not well-formed (invalid token): line 1, column 0)",
        cursor={"page": 1},
    )


def test_xml_without_the_record_element_is_not_read_as_an_empty_page(
    canned: CannedVendor, s3: Any, bucket: str, deployment: str
) -> None:
    """A renamed record element used to read as no records, and ended the chain done with nothing."""
    body = b"<instruments page='1' total_pages='1'><security><symbol>A</symbol></security></instruments>"
    canned.answer("/v1/instruments.xml", Answer(200, body, "application/xml"))
    source = {"kind": "xml_api", "base_url": canned.url, "path": "/v1/instruments.xml", "record_element": "instrument"}
    result = run_link(event(deployment, bucket, source))
    assert_failed_with_nothing_written(
        result,
        s3,
        bucket,
        "no <instrument> record elements; the root <instruments> holds 1 <security>",
        cursor={"page": 1},
    )


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"rows": [{"symbol": "A"}]}, "the body has no 'data' list"),
        ({"data": [{"symbol": "A"}, "B"]}, "'data' is not a list of objects"),
    ],
    ids=["no records list", "records not objects"],
)
def test_json_not_shaped_as_records_fails_the_chain_naming_the_url(
    body: dict[str, Any], problem: str, canned: CannedVendor, s3: Any, bucket: str, deployment: str
) -> None:
    canned.answer("/v1/quotes", Answer(200, json.dumps(body).encode()))
    result = run_link(event(deployment, bucket, json_source(canned.url)))
    where = f"{canned.url}/v1/quotes?limit=100&offset=0"
    assert_failed_with_nothing_written(result, s3, bucket, f"{where}: {problem}", cursor={"offset": 0})


def test_records_missing_their_key_or_of_the_wrong_type_are_quarantined_counted_and_kept(
    canned: CannedVendor, s3: Any, bucket: str, deployment: str
) -> None:
    """Raw keeps every record as delivered; the quarantine holds each bad one with its reason, and the count matches."""
    rows = [
        {"symbol": "A", "date": "2025-06-02", "close": 101.5},
        {"date": "2025-06-02", "close": 99.0},
        {"symbol": "C", "date": "2025-06-02", "close": "n/a"},
        {"symbol": "", "date": "2025-06-02", "close": 1},
    ]
    canned.answer("/v1/quotes", Answer(200, json.dumps({"data": rows, "total": 4}).encode()))
    validation = {"required": ["symbol", "date"], "types": {"close": "number"}}
    result = run_link(event(deployment, bucket, json_source(canned.url), validation=validation))
    assert (result.status, result.rows, result.quarantined) == (ChainStatus.DONE, 4, 3)
    assert raw_records(s3, bucket, "raw/") == rows
    quarantined = raw_records(s3, bucket, "quarantine/")
    assert [(q["row"], q["reason"]) for q in quarantined] == [
        (1, "field 'symbol' is missing or empty"),
        (2, "field 'close' is 'n/a', not a number"),
        (3, "field 'symbol' is missing or empty"),
    ]
    assert [q["record"] for q in quarantined] == rows[1:]


def test_an_html_page_answered_200_fails_the_chain_saying_it_is_html(
    canned: CannedVendor, s3: Any, bucket: str, deployment: str
) -> None:
    """A proxy's or a maintenance page answered 200 in place of the JSON."""
    canned.answer("/v1/quotes", Answer(200, HTML_PAGE, "text/html; charset=utf-8"))
    result = run_link(event(deployment, bucket, json_source(canned.url)))
    assert_failed_with_nothing_written(
        result,
        s3,
        bucket,
        f"{canned.url}/v1/quotes?limit=100&offset=0: the body is not JSON (Expecting value: line 1 column 1 (char 0))",
        "text/html; charset=utf-8, starting '<!DOCTYPE html> <html> <head><title>503 Service Temporarily Unavailable",
        cursor={"offset": 0},
    )


def test_an_html_error_page_fails_the_chain_with_its_status_and_text(
    canned: CannedVendor, s3: Any, bucket: str, deployment: str
) -> None:
    """A firewall's 403 page: not retried (it will not change), quoted on one line."""
    page = b"<html>\n<head><title>403 Forbidden</title></head>\n<body>Request blocked by policy</body>\n</html>\n"
    canned.answer("/v1/quotes", Answer(403, page, "text/html"))
    result = run_link(event(deployment, bucket, json_source(canned.url)))
    assert_failed_with_nothing_written(
        result,
        s3,
        bucket,
        "GET /v1/quotes answered 403: <html> <head><title>403 Forbidden</title></head> <body>Request blocked by policy",
        cursor={"offset": 0},
    )
    assert len(canned.requests) == 1, "a 403 is not retried"


def test_a_wrong_api_key_fails_the_chain_with_the_401_naming_where_the_key_comes_from(
    vendor: str, ssm: Any, s3: Any, bucket: str, deployment: str
) -> None:
    parameter = f"/baton/{deployment}/secrets/markets"
    wrong = f"not-the-key-{uuid.uuid4().hex}"
    ssm.put_parameter(Name=parameter, Value=wrong, Type="SecureString")
    source = DATASETS["prices"].source_config(VendorEndpoint(vendor, parameter), bucket, "2025-06-02")
    result = run_link(event(deployment, bucket, source))
    assert_failed_with_nothing_written(
        result,
        s3,
        bucket,
        'GET /v1/prices answered 401: {"error":"invalid API key"}',
        f"the credentials come from the SSM parameter {parameter} (sent as X-Api-Key)",
        cursor={"offset": 0},
    )
    assert wrong not in json.dumps(result.to_payload()), "the key itself is never reported"
    # Fixed in Parameter Store, the key is read afresh: the refused value was not kept (this
    # process stands for a warm execution environment, whose secret cache it shares).
    right = ssm.get_parameter(Name=VENDOR_SECRET_PARAMETER, WithDecryption=True)["Parameter"]["Value"]
    ssm.put_parameter(Name=parameter, Value=right, Type="SecureString", Overwrite=True)
    again = run_link(event(deployment, bucket, source))
    assert again.status != ChainStatus.FAILED and again.rows > 0, again.last_error


def test_a_vendor_clock_far_in_the_future_does_not_close_the_window(
    local_stack: LocalStack, vendor: str, s3: Any, bucket: str, deployment: str
) -> None:
    """A closed window is never asked again: a Date header a year ahead would have skipped what comes later."""
    now = datetime.now(UTC)
    vendor_admin(local_stack, "/admin/config", {"now": (now + timedelta(days=400)).isoformat()})
    day = now.date() + timedelta(days=2)  # its window closes in the future by any clock but the vendor's
    while day.weekday() >= 5:
        day += timedelta(days=1)
    source = DATASETS["prices"].source_config(VendorEndpoint(vendor, VENDOR_SECRET_PARAMETER), bucket, day.isoformat())
    result = run_link(event(deployment, bucket, source))
    assert_failed_with_nothing_written(
        result,
        s3,
        bucket,
        f"{vendor}/v1/prices?from={day}&to={day}&limit=10000&offset=0: the source's clock (Date: ",
        "ahead of this worker's",
        f"the window closing at {day + timedelta(days=1)}T00:00:00+00:00 is not closed on its word",
        cursor={"offset": 0},
    )


def test_a_date_header_that_is_not_a_date_fails_the_chain_naming_it(
    canned: CannedVendor, s3: Any, bucket: str, deployment: str
) -> None:
    canned.answer("/v1/quotes", Answer(200, b'{"data": [{"symbol": "A"}]}', date="yesterday"))
    source = json_source(canned.url, window_closes_at="2025-06-03T00:00:00+00:00")
    result = run_link(event(deployment, bucket, source))
    assert_failed_with_nothing_written(
        result,
        s3,
        bucket,
        "/v1/quotes?limit=100&offset=0: the Date header 'yesterday' is not an HTTP date",
        cursor={"offset": 0},
    )


# --- set-up -------------------------------------------------------------------------------------


def test_a_missing_api_key_parameter_is_named_before_any_side_effect(
    vendor: str, ssm: Any, s3: Any, bucket: str, deployment: str
) -> None:
    parameter = f"/baton/{deployment}/secrets/markets"
    source = DATASETS["prices"].source_config(VendorEndpoint(vendor, parameter), bucket, "2025-06-02")
    with pytest.raises(SourceError) as raised:
        lambda_handler(event(deployment, bucket, source), DeadlineContext(5000))
    assert str(raised.value) == (
        f"source.auth.secret_parameter '{parameter}' is not in Parameter Store, so there is no API key to send: "
        "put the vendor's key there as a SecureString"
    )
    assert parameters(ssm, deployment) == [] and objects(s3, bucket, "") == []


def test_a_missing_feed_bucket_fails_the_chain_naming_it(s3: Any, bucket: str, deployment: str) -> None:
    missing = f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    source = CORPORATE_ACTIONS.source_config(None, missing, "all")
    result = run_link(event(deployment, bucket, source))
    assert_failed_with_nothing_written(
        result,
        s3,
        bucket,
        f"s3://{missing}/landing/corporate_actions/: the feed's bucket '{missing}' does not exist",
        cursor={"after_key": None},
    )


def test_a_missing_sink_bucket_fails_the_link_before_anything_is_committed(
    ssm: Any, s3: Any, bucket: str, deployment: str
) -> None:
    """Named before the link writes anything: its lease lives in that bucket."""
    s3.put_object(Bucket=bucket, Key="landing/day-1.csv", Body=b"symbol\nA\n")
    source = {"kind": "s3_feed", "bucket": bucket, "prefix": "landing/", "format": "csv"}
    missing = f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    with pytest.raises(BucketMissingError, match=rf"^s3://{missing}: the chain's bucket \(the event's sink.bucket\)"):
        lambda_handler(event(deployment, missing, source), DeadlineContext(5000))
    assert parameters(ssm, deployment) == [], "no cursor record: a rerun starts the chain afresh"


# --- feed files ---------------------------------------------------------------------------------


def feed_event(deployment: str, bucket: str) -> dict[str, Any]:
    """The corporate-action feed as the platform reads it (its expected columns included)."""
    source = CORPORATE_ACTIONS.source_config(None, bucket, "all")
    return event(deployment, bucket, source, validation=CORPORATE_ACTIONS.validation)


def drop(s3: Any, bucket: str, name: str, body: bytes) -> str:
    key = f"landing/corporate_actions/{name}"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return key


def good_file(day: int) -> bytes:
    return (HEADER + f"A{day}1,SYM{day},2024-01-0{day},split,2,,\nA{day}2,SYM{day},2024-01-0{day},split,3,,\n").encode()


@pytest.mark.parametrize(
    ("name", "body", "problem"),
    [
        ("2024-01-03.csv", b"", "the file is empty (0 bytes), without even a header"),
        ("2024-01-03.csv.gz", gzip.compress(good_file(3))[:40], "corrupt gzip (Compressed file ended before"),
        ("2024-01-03.csv.gz", good_file(3), "corrupt gzip (Not a gzipped file"),
        ("2024-01-03.csv", good_file(3).replace(b"ex_date", b"exdate"), "lacks ['ex_date']; expected the columns"),
        ("2024-01-03.csv", good_file(3).replace(b"amount", b"ratio"), "lacks ['amount'] and repeats ['ratio']"),
        ("2024-01-03.csv", "action_id,symbol\nA1,Société\n".encode("latin-1"), "not UTF-8 ('utf-8' codec can't decode"),
    ],
    ids=["empty", "truncated gzip", "not gzip", "header renames a column", "header repeats a column", "not utf-8"],
)
def test_a_feed_file_that_cannot_be_read_stops_the_chain_before_it_and_resumes_once_replaced(
    name: str, body: bytes, problem: str, s3: Any, bucket: str, deployment: str
) -> None:
    """The chain reads the file before, fails at the bad one naming it, and after the file is replaced reads on."""
    drop(s3, bucket, "2024-01-02.csv", good_file(2))
    bad = drop(s3, bucket, name, body)
    drop(s3, bucket, "2024-01-04.csv", good_file(4))
    failed = run_link(feed_event(deployment, bucket))
    assert failed.status == ChainStatus.FAILED
    assert f"SourceError: s3://{bucket}/{bad}: " in (failed.last_error or "")
    assert problem in (failed.last_error or "")
    assert failed.rows == 2 and failed.cursor == {"after_key": "landing/corporate_actions/2024-01-02.csv"}
    assert [r["action_id"] for r in raw_records(s3, bucket, "raw/")] == ["A21", "A22"], "nothing of the bad file"
    replaced = gzip.compress(good_file(3)) if name.endswith(".gz") else good_file(3)
    s3.put_object(Bucket=bucket, Key=bad, Body=replaced)
    resumed = run_link(feed_event(deployment, bucket))
    assert (resumed.status, resumed.chain_id, resumed.rows) == (ChainStatus.DONE, failed.chain_id, 6)
    assert sorted(r["action_id"] for r in raw_records(s3, bucket, "raw/")) == ["A21", "A22", "A31", "A32", "A41", "A42"]


def test_a_feed_file_with_only_its_header_is_a_day_without_actions(s3: Any, bucket: str, deployment: str) -> None:
    """Unlike an empty file, a header alone is the vendor saying "nothing today"; a gzipped file reads as plain."""
    drop(s3, bucket, "2024-01-02.csv", HEADER.encode())
    drop(s3, bucket, "2024-01-03.csv.gz", gzip.compress(good_file(3)))
    result = run_link(feed_event(deployment, bucket))
    assert (result.status, result.rows, result.quarantined) == (ChainStatus.DONE, 2, 0)


def test_an_xml_feed_file_without_its_record_element_stops_the_chain_naming_it(
    s3: Any, bucket: str, deployment: str
) -> None:
    body = b"<corporate_actions><corporate_action><action_id>A1</action_id></corporate_action></corporate_actions>"
    key = drop(s3, bucket, "2024-01-02.xml", body)
    source = {"kind": "s3_feed", "bucket": bucket, "prefix": "landing/", "format": "xml", "record_element": "action"}
    result = run_link(event(deployment, bucket, source))
    assert_failed_with_nothing_written(
        result,
        s3,
        bucket,
        f"s3://{bucket}/{key}: no <action> record elements; the root <corporate_actions> holds 1 <corporate_action>",
        cursor={"after_key": None},
    )


def test_the_emptiness_checks_would_see_what_a_link_leaves(ssm: Any, s3: Any, bucket: str, deployment: str) -> None:
    """Guards the helpers: `parameters` and `objects` list what a link commits and writes, so `[]` means none."""
    SsmCursorStore(ssm).set_halt(deployment, CHAIN, True)
    s3.put_object(Bucket=bucket, Key="raw/t/c1/chunk.jsonl.gz", Body=b"")
    assert parameters(ssm, deployment) == [f"/baton/{deployment}/halts/{CHAIN.path()}"]
    assert objects(s3, bucket, "raw/") == ["raw/t/c1/chunk.jsonl.gz"]
