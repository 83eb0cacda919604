"""Feed files dropped into an S3 landing prefix (CSV or XML): one file per page, in key order.

Config: {"kind": "s3_feed", "bucket": "lake", "prefix": "landing/corporate_actions/",
         "format": "csv" | "xml", "record_element": "action"}   # record_element: XML only
The cursor is the last key processed, so a later run (incremental by nature) reads only files
that arrived after it. Vendors name feed files by date, so key order is arrival order.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

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

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: SourceContext) -> S3FeedSource:
        return cls(context.s3, config)

    def initial_cursor(self) -> dict[str, Any]:
        return {"after_key": None}

    def fetch(self, cursor: Mapping[str, Any]) -> Page:
        listing: dict[str, Any] = {"Bucket": self._bucket, "Prefix": self._prefix, "MaxKeys": 2}
        if cursor.get("after_key"):
            listing["StartAfter"] = cursor["after_key"]
        keys = [obj["Key"] for obj in self._client.list_objects_v2(**listing).get("Contents", [])]
        if not keys:
            return Page([], dict(cursor), exhausted=True)
        key = keys[0]
        body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        records = self._parse(key, body)
        return Page(records, {"after_key": key}, exhausted=len(keys) == 1)

    def _parse(self, key: str, body: bytes) -> list[dict[str, Any]]:
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SourceError(f"s3://{self._bucket}/{key}: not UTF-8 ({exc})") from exc
        if self._format == "csv":
            # A row with too many fields keeps the surplus under "_extra" and one with too few gets
            # nulls: either way the record is kept, and validation quarantines it with the reason.
            reader = csv.DictReader(io.StringIO(text, newline=""), restkey="_extra")
            return list(reader)
        try:
            return element_records(ET.fromstring(text), self._element)
        except ET.ParseError as exc:
            raise SourceError(f"s3://{self._bucket}/{key}: not well-formed XML ({exc})") from exc
