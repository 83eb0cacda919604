"""`baton source new`: a commented declaration for each source kind, which loads as it stands.

The file is a starting point a data engineer edits: every field the kind takes is there, with a
comment saying what it does, and the values are placeholders that validate. It is written to
the catalogue folder and read back through the same validation as the definitions, so what
`baton source new` writes is never a file the code location refuses.
"""

from __future__ import annotations

from pathlib import Path

from platform_defs.declarations import DECLARATION_SUFFIX, NAME, DeclarationError, read_declaration

__all__ = ["KINDS", "ScaffoldError", "new_declaration", "write_declaration"]

_HEAD = """\
# The {name} dataset: edit this file, then `baton run {name}`. Every field: docs/datasets.md.
description: What {name} holds, in a sentence (the UI, the Snowflake table and the SQL source show it).
vendor: {vendor}   # its base URL: BATON_VENDOR_{vendor_upper}_BASE_URL; its secret: `baton secrets set {vendor}`
"""

_HTTP_CLIENT = """\
  # auth: {{type: header, header: X-Api-Key, prefix: ""}} | {{type: bearer}} | {{type: basic}}
  #     | {{type: query, param: api_key}}   (the secret: `baton secrets set <vendor>`)
  auth: {{type: header, header: Authorization, prefix: "token "}}
  rate_limit: {{requests_per_second: 10}}   # requests spaced out within a link
  retry: {{max_attempts: 8, backoff_seconds: 0.1, max_backoff_seconds: 20}}   # 429, 5xx, dropped connections
"""

_COLUMNS = """\
columns:   # types: string, date, timestamp, epoch_seconds, epoch_millis, float, integer
  - {{name: id, type: string, description: "The record's identifier."}}
  - {{name: updated_at, type: timestamp, description: "When the vendor last changed it."}}
  - {{name: value, type: float, required: false, description: "A value; may be missing."}}
key: [id]   # identifies a row: the lake keeps the newest per key
"""

_SOURCES = {
    "json_rest": """\
source:
  kind: json_rest
  path: /v1/{name}
  params: {{day: "{{partition}}"}}   # string values may use {{partition}}
  records: data   # dotted path to the list in the body; "" when the body is the list
  # pagination.style: offset | page | token (a cursor in the body) | next_url (in the body) | link (Link header)
  pagination: {{style: link}}
  page_size: 1000
  # incremental: {{field: updated_at, param: since}}   # fetch only what is newer than the last run saw
""",
    "xml_api": """\
source:
  kind: xml_api
  path: /v1/{name}.xml
  params: {{}}
  record_element: record   # each <record> element is one row, its children the fields
  page_size: 500
""",
    "s3_feed": """\
source:
  kind: s3_feed
  prefix: landing/{name}/   # files dropped into the lake bucket, read in key order (.gz is gunzipped)
  format: csv               # csv (the header must name every column) | xml (with record_element)
""",
    "job_poll": """\
source:
  kind: job_poll
  start_path: /v1/jobs          # POSTed the job below; answers {{"job_id": ...}}
  job: {{kind: {name}, params: {{day: "{{partition}}"}}}}
  status_path: /v1/jobs/{{job_id}}   # polled across links until "succeeded" (its result_url: a CSV)
  poll_seconds: 5
""",
}

_TAILS = {
    "s3_feed": """\
partitioning: {{kind: none}}   # one open feed: each run reads the files that arrived since the last
trigger:
  kind: landing   # a new file under the prefix starts the lineage
  prefix: landing/{name}/
""",
    "default": """\
# partitioning.kind: weekday | daily | intraday (with closes_at) | snapshot | none
partitioning: {{kind: daily, start: "2025-01-01", timezone: UTC}}
# trigger.kind: schedule (cron, timezone) | landing (prefix; unpartitioned only) | none
trigger: {{kind: schedule, cron: "30 1 * * *", timezone: UTC}}   # each tick loads the day that last closed
# freshness: {{fail_after_minutes: 1560}}
""",
}

KINDS = tuple(_SOURCES)


class ScaffoldError(ValueError):
    """The declaration cannot be written: a bad name, or the file exists."""


def new_declaration(name: str, kind: str, vendor: str | None = None) -> str:
    """The commented declaration of `name` for a source of `kind`."""
    if not NAME.match(name):
        raise ScaffoldError(f"{name!r} is not a dataset name: it must match {NAME.pattern}")
    if kind not in _SOURCES:
        raise ScaffoldError(f"--kind {kind!r} is not a source kind; the kinds are: {', '.join(KINDS)}")
    vendor = vendor or name
    if not NAME.match(vendor):
        raise ScaffoldError(f"--vendor {vendor!r} is not a vendor name: it must match {NAME.pattern}")
    values = {"name": name, "vendor": vendor, "vendor_upper": vendor.upper()}
    client = _HTTP_CLIENT if kind != "s3_feed" else ""
    tail = _TAILS.get(kind, _TAILS["default"])
    return "".join(part.format(**values) for part in (_HEAD, _SOURCES[kind], client, _COLUMNS, tail))


def write_declaration(folder: Path, name: str, kind: str, vendor: str | None = None) -> Path:
    """Write the declaration into `folder`, refusing to replace one; it is read back before it stays."""
    path = folder / f"{name}{DECLARATION_SUFFIX}"
    if path.exists():
        raise ScaffoldError(f"{path} exists: edit it, or choose another name")
    text = new_declaration(name, kind, vendor)
    path.write_text(text)
    try:
        read_declaration(path)
    except DeclarationError:
        path.unlink()
        raise
    return path
