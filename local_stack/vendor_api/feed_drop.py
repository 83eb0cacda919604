"""How the vendor "delivers" corporate-action feed files: it writes them into our S3 landing zone.

The S3 client comes from boto3's usual configuration (the local stack sets AWS_ENDPOINT_URL
to its moto server); a caller may inject its own client.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from local_stack.vendor_api.business_days import is_business_day
from local_stack.vendor_api.exceptions import UpstreamError
from local_stack.vendor_api.feeds import feed_actions, render_feed
from local_stack.vendor_api.market import Market

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["drop_feeds"]

logger = logging.getLogger(__name__)


def drop_feeds(
    market: Market,
    now: datetime,
    bucket: str,
    prefix: str,
    first: date,
    last: date,
    fmt: str,
    client: S3Client | None = None,
) -> dict[str, Any]:
    """Write one feed file per published business day in [first, last] as `<prefix><YYYY-MM-DD>.<fmt>`.

    Days whose file is not published yet (after the vendor clock) or precede the history are
    skipped and listed as such; the answer names every key written.
    """
    s3 = client if client is not None else boto3.client("s3")
    keys: list[str] = []
    skipped: list[str] = []
    day = first
    while day <= last:
        if is_business_day(day):
            if day > now.date() or day < market.config.start_date:
                skipped.append(day.isoformat())
            else:
                body, content_type = render_feed(day, feed_actions(market, day, now), fmt)
                key = f"{prefix}{day.isoformat()}.{fmt}"
                try:
                    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
                except (BotoCoreError, ClientError) as exc:
                    raise UpstreamError(f"writing s3://{bucket}/{key} failed after {len(keys)} file(s): {exc}") from exc
                keys.append(key)
        day += timedelta(days=1)
    logger.info("dropped %d corporate-action feed file(s) into s3://%s/%s", len(keys), bucket, prefix)
    return {"bucket": bucket, "keys": keys, "skipped": skipped}
