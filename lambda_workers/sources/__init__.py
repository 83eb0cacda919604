"""Source kinds, one module each behind `Source`; `build_source` picks one by the event's `kind`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambda_workers.exceptions import EventError
from lambda_workers.sources.base import Page, Source, SourceContext
from lambda_workers.sources.job_poll import JobPollSource
from lambda_workers.sources.json_rest import JsonRestSource
from lambda_workers.sources.s3_feed import S3FeedSource
from lambda_workers.sources.xml_api import XmlApiSource

__all__ = ["SOURCE_KINDS", "Page", "Source", "SourceContext", "build_source"]

SOURCE_KINDS: dict[str, type[Source]] = {
    cls.kind: cls for cls in (JsonRestSource, XmlApiSource, S3FeedSource, JobPollSource)
}


def build_source(config: Mapping[str, Any], context: SourceContext) -> Source:
    kind = config.get("kind")
    if kind not in SOURCE_KINDS:
        raise EventError("source.kind", f"must be one of {', '.join(sorted(SOURCE_KINDS))}; got {kind!r}")
    return SOURCE_KINDS[kind].from_config(config, context)
