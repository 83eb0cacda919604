"""fakesnow's server with persistent storage and S3 access: the local Snowflake.

The real Snowflake connector talks to it over HTTP. Three things differ from `fakesnow -s`:
one shared `FakeSnow` keeps its databases as files in the state folder, so tables survive a
restart of the stack; and DuckDB's httpfs extension (shipped as a wheel, so nothing is
downloaded) is loaded with an S3 secret for the local AWS endpoint, so `COPY INTO` from an
external stage on the lake reads the same S3 objects that Snowflake would read on AWS; and a
table comment with a quote in it (`COMMENT = 'the vendor''s indices'`) is stored as Snowflake
stores it, where fakesnow builds invalid SQL from it and answers HTTP 500, which the connector
retries for minutes.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
from pathlib import Path
from urllib.parse import urlparse

import fakesnow.info_schema
import fakesnow.server
import uvicorn
from fakesnow.instance import FakeSnow
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

logger = logging.getLogger(__name__)


def _extension_directory() -> str:
    """Where the duckdb-ext-httpfs wheel puts the httpfs extension."""
    spec = importlib.util.find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("duckdb-ext-httpfs is not installed: COPY INTO from S3 needs it")
    return str(Path(next(iter(spec.submodule_search_locations))) / "extensions")


def _configure_s3(instance: FakeSnow, aws_endpoint: str) -> None:
    """Let DuckDB read `s3://` URLs from the local AWS endpoint (path style, no TLS)."""
    endpoint = urlparse(aws_endpoint)
    conn = instance.duck_conn
    conn.execute(f"SET extension_directory = '{_extension_directory()}'")
    conn.execute("SET autoinstall_known_extensions = false")
    conn.execute("LOAD httpfs")
    key_id = os.environ.get("AWS_ACCESS_KEY_ID", "baton-local")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "baton-local")
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    conn.execute(
        f"CREATE OR REPLACE SECRET baton_local_s3 (TYPE S3, KEY_ID {_literal(key_id)}, "
        f"SECRET {_literal(secret)}, REGION {_literal(region)}, ENDPOINT {_literal(endpoint.netloc)}, "
        "URL_STYLE 'path', USE_SSL false)"
    )


def _quote_table_comments() -> None:
    """Escape the comment fakesnow records for `CREATE TABLE ... COMMENT = '...'` (it interpolates it raw)."""
    original = fakesnow.info_schema.insert_table_comment_sql

    def insert_table_comment_sql(catalog: str, schema: str, table: str, comment: str | None) -> str:
        return original(catalog, schema, table, comment.replace("'", "''") if isinstance(comment, str) else comment)

    fakesnow.info_schema.insert_table_comment_sql = insert_table_comment_sql


def _literal(value: str) -> str:
    """A DuckDB string literal: CREATE SECRET takes no bound parameters."""
    return "'" + value.replace("'", "''") + "'"


async def _health(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def build_app(state_dir: Path, aws_endpoint: str | None) -> Starlette:
    """fakesnow's routes over one persistent instance, plus `/health` for the stack."""
    db_dir = state_dir / "databases"
    db_dir.mkdir(parents=True, exist_ok=True)
    instance = FakeSnow(db_path=db_dir)
    _quote_table_comments()
    if aws_endpoint:
        _configure_s3(instance, aws_endpoint)
    fakesnow.server.shared_fs = instance
    return Starlette(routes=[*fakesnow.server.routes, Route("/health", _health, methods=["GET"])])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    app = build_app(args.state_dir, os.environ.get("AWS_ENDPOINT_URL"))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
