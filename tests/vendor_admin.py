"""The local vendor API's admin endpoints, as the platform tests turn its knobs."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from local_stack.stack import LocalStack


def vendor_admin(stack: LocalStack, path: str, body: dict[str, Any]) -> None:
    """POST `body` to the vendor's `/admin/...` endpoint `path` (knobs, reset, config)."""
    url = stack.environment()["BATON_VENDOR_MARKETS_BASE_URL"] + path
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).read()
