"""Feed files dropped into an S3 landing prefix (CSV or XML): one file per page, in key order.

Config: {"kind": "s3_feed", "bucket": "lake", "prefix": "landing/corporate_actions/",
         "format": "csv" | "xml", "record_element": "action",   # record_element: XML only
         "columns": ["action_id", "symbol", ...]}               # optional, CSV only: the header must name them
The cursor is the last key processed, so a later run (incremental by nature) reads only files
that arrived after it. Vendors name feed files by date, so key order is arrival order. A file
whose key ends in `.gz` is gunzipped first.

A file that cannot be read as a whole (missing bucket, empty, corrupt gzip, not UTF-8, malformed
XML, a CSV header without the expected columns) is a `SourceError` naming the file: the chain
stops before it, with nothing of it written and the cursor still before it, so fixing or
replacing the file and running again loses nothing. A bad row within a good file is kept, and
validation quarantines it.
"""

from __future__ import annotations

import csv
import gzip
import io
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from lambda_workers.exceptions import EventError, SourceError
from lambda_workers.sources.base import Page, Source, SourceContext
from lambda_workers.sources.config import require_str
from lambda_workers.sources.xml_api import element_records

__all__ = ["S3FeedSource"]

FORMATS = ("csv", "xml")


class S3FeedSource(Source):
    kind = "s3_feed"

    def __init__(self, client: Any, config: Mapping[str, Any]):
        self._client = client
        self._bucket = require_str(config, "bucket")
        self._prefix = require_str(config, "prefix")
        self._format = config.get("format")
        if self._format not in FORMATS:
            raise EventError("source.format", f"must be one of {', '.join(FORMATS)}; got {self._format!r}")
        self._element = require_str(config, "record_element") if self._format == "xml" else ""
        columns = config.get("columns", [])
        if not isinstance(columns, list) or not all(isinstance(name, str) and name for name in columns):
            raise EventError("source.columns", f"must be a list of column names; got {columns!r}")
        self._columns: tuple[str, ...] = tuple(columns)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: SourceContext) -> S3FeedSource:
        return cls(context.s3, config)

    def initial_cursor(self) -> dict[str, Any]:
        return {"after_key": None}

    def fetch(self, cursor: Mapping[str, Any]) -> Page:
        listing: dict[str, Any] = {"Bucket": self._bucket, "Prefix": self._prefix, "MaxKeys": 2}
        if cursor.get("after_key"):
            listing["StartAfter"] = cursor["after_key"]
        try:
            keys = [obj["Key"] for obj in self._client.list_objects_v2(**listing).get("Contents", [])]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchBucket":
                raise
            where = f"s3://{self._bucket}/{self._prefix}"
            raise SourceError(f"{where}: the feed's bucket {self._bucket!r} does not exist") from exc
        if not keys:
            return Page([], dict(cursor), exhausted=True)
        key = keys[0]
        body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        records = self._parse(f"s3://{self._bucket}/{key}", key, body)
        return Page(records, {"after_key": key}, exhausted=len(keys) == 1)

    def _parse(self, where: str, key: str, body: bytes) -> list[dict[str, Any]]:
        if key.endswith(".gz"):
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error) as exc:
                raise SourceError(f"{where}: corrupt gzip ({str(exc) or type(exc).__name__})") from exc
        if not body.strip():
            raise SourceError(f"{where}: the file is empty ({len(body)} bytes), without even a header")
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SourceError(f"{where}: not UTF-8 ({exc})") from exc
        if self._format == "csv":
            return self._csv_records(where, text)
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise SourceError(f"{where}: not well-formed XML ({exc})") from exc
        return element_records(root, self._element, where)

    def _csv_records(self, where: str, text: str) -> list[dict[str, Any]]:
        """The rows as records; a header lacking an expected column, or naming one twice, is refused.

        Either would lose values silently: a missing column's for every row, and all but the
        last of a repeated column's. A row with too many fields keeps the surplus under
        "_extra" and one with too few gets nulls: the record is kept, and validation quarantines it.
        """
        reader = csv.DictReader(io.StringIO(text, newline=""), restkey="_extra")
        header = list(reader.fieldnames or [])
        repeated = sorted(name for name, count in Counter(header).items() if count > 1)
        missing = [name for name in self._columns if name not in header]
        if repeated or missing:
            problems = ([f"lacks {missing}"] if missing else []) + ([f"repeats {repeated}"] if repeated else [])
            expected = f"; expected the columns {list(self._columns)}" if self._columns else ""
            raise SourceError(f"{where}: the CSV header {header} {' and '.join(problems)}{expected}")
        return list(reader)
