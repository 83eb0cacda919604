"""Dataset declarations: what a bad one is told (file, line, field, valid values); a new one is all it takes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from platform_defs.datasets import CATALOGUE_DIR, VendorEndpoint
from platform_defs.declarations import DeclarationError, load_catalogue, read_declaration

TRADES = """\
# A second vendor: trades with Link-header pages and a token in the Authorization header.
description: Every trade of the day, as the trades API publishes it.
vendor: trades
source:
  kind: json_rest
  path: /trades
  params: {day: "{partition}"}
  records: ""
  pagination: {style: link}
  page_size: 500
  auth: {type: header, header: Authorization, prefix: "token "}
  rate_limit: {requests_per_second: 50}
  retry: {max_attempts: 10}
columns:
  - {name: trade_id, type: string, description: The trade's id.}
  - {name: symbol, type: string, description: The instrument.}
  - {name: price, type: float, description: Price per share.}
  - {name: quantity, type: integer, description: Shares traded.}
  - {name: ts, type: epoch_seconds, description: When it traded.}
key: [trade_id]
partitioning: {kind: daily, start: "2025-01-01"}
trigger: {kind: schedule, cron: "15 0 * * *", timezone: UTC}
"""


def declare(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_the_builtin_catalogue_declares_its_datasets() -> None:
    catalogue = load_catalogue(CATALOGUE_DIR)
    assert set(catalogue) >= {  # a team's own declarations may sit beside them
        "prices",
        "fx_rates",
        "intraday_prices",
        "instruments",
        "corporate_actions",
        "index_constituents",
        "prices_history",
    }
    prices = catalogue["prices"]
    config = prices.source_config(VendorEndpoint("http://vendor", "/baton/t/secrets/markets"), "lake", "2025-06-06")
    assert config["params"] == {"from": "2025-06-06", "to": "2025-06-06"}
    assert config["window_closes_at"] == "2025-06-07T00:00:00+00:00", "Friday is complete at Saturday's midnight"
    assert config["auth"] == {
        "type": "header",
        "header": "X-Api-Key",
        "prefix": "",
        "secret_parameter": "/baton/t/secrets/markets",
    }
    intraday = catalogue["intraday_prices"].source_config(VendorEndpoint("http://v", "/s"), "lake", "2025-06-06")
    assert intraday["window_closes_at"] == "2025-06-06T16:00:00-04:00", "the market closes at 16:00 New York time"


def test_a_declared_vendor_api_becomes_the_workers_source_config(tmp_path: Path) -> None:
    trades = read_declaration(declare(tmp_path, "trades", TRADES))
    config = trades.source_config(VendorEndpoint("http://127.0.0.1:9", "/baton/t/secrets/trades"), "lake", "2025-06-02")
    assert config == {
        "kind": "json_rest",
        "base_url": "http://127.0.0.1:9",
        "auth": {
            "type": "header",
            "header": "Authorization",
            "prefix": "token ",
            "secret_parameter": "/baton/t/secrets/trades",
        },
        "rate_limit": {"requests_per_second": 50.0},
        "retry": {"max_attempts": 10, "backoff_seconds": 0.1, "max_backoff_seconds": 20.0},
        "path": "/trades",
        "params": {"day": "2025-06-02"},
        "records": "",
        "pagination": {"style": "link", "limit": 500},
        "window_closes_at": "2025-06-03T00:00:00+00:00",
    }
    assert trades.validation["types"]["ts"] == "number"
    assert trades.partitioning.partition_at(datetime.fromisoformat("2025-06-03T00:15:00+00:00")) == "2025-06-02"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "pagination: {style: link}",
            "pagination: {style: links}",
            "trades.yaml:9: source.pagination.style: must be one of: offset, page, token, next_url, link; got 'links'",
        ),
        (
            "auth: {type: header,",
            "auth: {type: apikey,",
            "trades.yaml:11: source.auth.type: must be one of: header, bearer, basic, query; got 'apikey'",
        ),
        (
            "type: epoch_seconds",
            "type: epoch",
            "trades.yaml:19: columns[4].type: must be one of: string, date, timestamp, epoch_seconds, epoch_millis, "
            "float, integer; got 'epoch'",
        ),
        ("key: [trade_id]", "key: [trade]", "trades.yaml:20: key[0]: 'trade' is not a column; the columns are: "),
        ("page_size: 500", "page_sise: 500", "trades.yaml:10: source.page_sise: is not a field here; the fields are:"),
        (
            'params: {day: "{partition}"}',
            'params: {day: "{date}"}',
            "trades.yaml:7: source.params.day: '{date}' uses the placeholder {date}; the placeholders here are: "
            "{partition}",
        ),
        (
            "kind: daily, start",
            "kind: hourly, start",
            "trades.yaml:21: partitioning.kind: must be one of: weekday, daily, intraday, landed_file, snapshot, none; "
            "got 'hourly'",
        ),
        (
            "timezone: UTC}",
            "timezone: Mars/Olympus}",
            "trades.yaml:22: trigger.timezone: 'Mars/Olympus' is not an IANA",
        ),
        (
            'cron: "15 0 * * *"',
            'cron: "every day"',
            "trades.yaml:22: trigger.cron: 'every day' is not a cron expression",
        ),
        (
            'trigger: {kind: schedule, cron: "15 0 * * *", timezone: UTC}',
            "trigger: {kind: landing, prefix: in/}",
            "trades.yaml:22: trigger: a landing trigger starts datasets partitioned by landed_file, snapshot or none",
        ),
        ("\nvendor: trades", "\nvendor: Trades Inc", "trades.yaml:3: vendor: 'Trades Inc' must match"),
        ('records: ""', "records: [data", "trades.yaml:9: invalid YAML"),
        ("description: Every", "descripton: Every", "trades.yaml:2: descripton: is not a field here; the fields are:"),
    ],
)
def test_a_bad_declaration_names_file_line_field_and_the_valid_values(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in TRADES
    path = declare(tmp_path, "trades", TRADES.replace(old, new, 1))
    with pytest.raises(DeclarationError) as error:
        read_declaration(path, "catalogue/trades.yaml")
    assert str(error.value).startswith("catalogue/" + expected), str(error.value)


def test_a_catalogue_checks_what_declarations_say_of_each_other(tmp_path: Path) -> None:
    declare(
        tmp_path,
        "trades",
        TRADES.replace("trigger:", "sharding: {key: instruments.symbol, from_param: a, to_param: b}\ntrigger:"),
    )
    with pytest.raises(
        DeclarationError,
        match=r"trades.yaml: sharding.key: instruments.symbol is not a column of a declared dataset; "
        r"the datasets are: trades$",
    ):
        load_catalogue(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DeclarationError, match=r"empty: the catalogue folder holds no \*.yaml declaration"):
        load_catalogue(empty)


def load_definitions(catalogue: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The code location in a fresh interpreter, with the catalogue in `catalogue` and only aws-mode variables."""
    script = textwrap.dedent(
        """
        import json
        import dagster as dg
        from platform_defs.definitions import defs
        graph = defs.resolve_asset_graph()
        data_quality = graph.get(dg.AssetKey(["analytics", "mart_data_quality"]))
        print(json.dumps({
            "assets": sorted(key.to_user_string() for key in graph.get_all_asset_keys()),
            "jobs": sorted(job.name for job in defs.jobs),
            "schedules": sorted(s.name for s in defs.schedules),
            "sensors": sorted(s.name for s in defs.sensors),
            "data_quality_reads": sorted(key.to_user_string() for key in data_quality.parent_keys),
            "checks": sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys),
        }))
        """
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SNOWFLAKE_", "BATON_", "AWS_"))}
    aws = {
        "BATON_ENV": "aws",
        "BATON_CATALOGUE_DIR": str(catalogue),
        "BATON_LAKE_BUCKET": "acme-lake",
        "AWS_REGION": "eu-west-1",
        "SNOWFLAKE_ACCOUNT": "acme",
        "SNOWFLAKE_USER": "loader",
        "SNOWFLAKE_PASSWORD": "x",
        "SNOWFLAKE_DATABASE": "MARKETS",
        "SNOWFLAKE_WAREHOUSE": "LOAD_WH",
        "BATON_CHAIN_ROLE_ARN": "arn:aws:iam::1:role/baton-chain",
        "BATON_VENDOR_MARKETS_BASE_URL": "https://markets.example",
        "BATON_ALERT_SENDER": "baton@acme.example",
        "BATON_ALERT_RECIPIENTS": "data@acme.example",
    }
    return subprocess.run(
        [sys.executable, "-c", script], env={**environ, **aws, **env}, capture_output=True, text=True, timeout=180
    )


def test_one_new_file_adds_a_dataset_with_its_whole_lineage(tmp_path: Path) -> None:
    catalogue = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, catalogue, ignore=shutil.ignore_patterns("trades.yaml"))
    declare(catalogue, "trades", TRADES)

    missing = load_definitions(catalogue)
    assert missing.returncode != 0
    assert (
        missing.stderr.strip()
        .splitlines()[-1]
        .endswith("BATON_ENV=aws needs these environment variables: BATON_VENDOR_TRADES_BASE_URL")
    ), "on AWS the new vendor's setting is named at load time"
    locally = load_definitions(catalogue, BATON_ENV="local")
    assert locally.returncode == 0, "locally a vendor not set up yet fails only its own runs: " + locally.stderr

    loaded = load_definitions(catalogue, BATON_VENDOR_TRADES_BASE_URL="https://trades.example")
    assert loaded.returncode == 0, loaded.stderr
    defs = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert {"raw/trades", "lake/trades", "warehouse/raw/trades"} <= set(defs["assets"])
    assert "trades_lineage" in defs["jobs"] and "trades_schedule" in defs["schedules"]
    assert "raw/trades:chain_healthy" in defs["checks"] and "warehouse/raw/trades:primary_key_unique" in defs["checks"]
    assert "warehouse/raw/trades" in defs["data_quality_reads"], "mart_data_quality covers the new dataset"
    assert len(defs["data_quality_reads"]) == len(load_catalogue(catalogue))

    (catalogue / "trades.yaml").write_text(TRADES.replace("kind: json_rest", "kind: graphql"))
    broken = load_definitions(catalogue, BATON_VENDOR_TRADES_BASE_URL="https://trades.example")
    assert broken.returncode != 0
    assert (
        broken.stderr.strip()
        .splitlines()[-1]
        .endswith("trades.yaml:5: source.kind: must be one of: json_rest, xml_api, s3_feed, job_poll; got 'graphql'")
    ), "a bad declaration fails the code location, naming the file and line"
