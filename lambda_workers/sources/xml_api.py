"""XML APIs paginated by page number: each repeated element becomes one record.

Config: {"kind": "xml_api", "base_url": ..., "path": "/v1/instruments.xml", "params": {},
         "record_element": "instrument", "page_size": 500, "page_param": "page",
         "page_size_param": "page_size", "total_pages_attribute": "total_pages",
         "total_attribute": "total", "auth": {...}}
A record maps each child element's tag to its text, as delivered (strings; typing is the lake's job).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from typing import Any

from lambda_workers.exceptions import SourceError
from lambda_workers.sources.base import Page, Source, SourceContext
from lambda_workers.sources.config import optional_str, require_int, require_mapping, require_str
from lambda_workers.sources.http import HttpClient
from lambda_workers.sources.vendor_http import Window, client_from_config

__all__ = ["XmlApiSource", "element_records"]


def element_records(root: ET.Element, tag: str, where: str) -> list[dict[str, Any]]:
    """Every `tag` element under `root` as a dict of child tag to text (None when empty).

    A document that holds elements, but none named `tag`, is a `SourceError` naming `where` and
    what it holds instead: a renamed record element (or an XML error document) would otherwise
    read as an empty page, and end the chain as if the source had nothing.
    """
    records = [{child.tag: child.text for child in element} for element in root.iter(tag)]
    if not records and len(root):
        found = ", ".join(f"{count} <{name}>" for name, count in Counter(child.tag for child in root).most_common(3))
        raise SourceError(f"{where}: no <{tag}> record elements; the root <{root.tag}> holds {found}")
    return records


class XmlApiSource(Source):
    kind = "xml_api"

    def __init__(self, client: HttpClient, config: Mapping[str, Any]):
        self._client = client
        self._path = require_str(config, "path")
        self._params = require_mapping(config, "params", {})
        self._element = require_str(config, "record_element")
        self._page_size = require_int(config, "page_size", 500, 1, 100_000)
        self._page_param = optional_str(config, "page_param", "page") or "page"
        self._page_size_param = optional_str(config, "page_size_param", "page_size") or "page_size"
        self._pages_attribute = optional_str(config, "total_pages_attribute", "total_pages") or "total_pages"
        self._total_attribute = optional_str(config, "total_attribute", "total") or "total"
        self._window = Window(config)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: SourceContext) -> XmlApiSource:
        return cls(client_from_config(config, context), config)

    def initial_cursor(self) -> dict[str, Any]:
        return {"page": 1}

    def fetch(self, cursor: Mapping[str, Any]) -> Page:
        page = int(cursor["page"])
        params = {**self._params, self._page_param: page, self._page_size_param: self._page_size}
        response = self._client.get(self._path, params)
        try:
            root = ET.fromstring(response.body)
        except ET.ParseError as exc:
            raise SourceError(f"{response.url}: the body is not well-formed XML ({exc})") from exc
        records = element_records(root, self._element, response.url)
        pages = _int_attribute(root, self._pages_attribute)
        total = _int_attribute(root, self._total_attribute)
        exhausted = not records or (pages is not None and page >= pages)
        return Page(records, {"page": page + 1}, exhausted, self._window.closed(exhausted, response), total)


def _int_attribute(root: ET.Element, name: str) -> int | None:
    value = root.get(name)
    return int(value) if value is not None and value.isdigit() else None
