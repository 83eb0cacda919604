"""The vendor API: the local stack's embedded source of deterministic synthetic market data.

It stands in for the real vendor APIs Baton extracts from. Lambda workers pull from it in
resumable chains of short invocations, so every endpoint resumes cheaply at any page, and
every page is computed arithmetically from its position: nothing is materialised, whatever the
size of the range (the default universe has ~9 million daily price rows since 2015).

Run it with `python -m local_stack.vendor_api --host 127.0.0.1 --port PORT --state-dir DIR
[--api-key KEY]` (the key defaults to `$BATON_VENDOR_API_KEY`; without one it refuses to start),
or in-process with `VendorApi(host, port, api_key, state_dir, config).start()` / `.stop()` / `.url`.
It stops cleanly on SIGTERM or SIGINT.

Data (see `VendorConfig`): `seed` (7), `instruments` (3000), `intraday_instruments` (50),
`start_date` (2015-01-01), `now` (the vendor clock, ISO-8601 UTC; default real time) and
`job_seconds` (20). Set them with CLI flags, a `--config` JSON file, or `POST /admin/config`.
Data published after `now` is not served: end-of-day data (prices, FX) exists for business
days strictly before the clock's date, a day's corporate-action feed from 00:00 UTC that day,
an intraday bar from its end time. Business days are Monday to Friday (no holidays).

Endpoints. Every /v1 request needs the header `X-Api-Key` (else 401 `{"error": ...}`); bad
parameters are 400 `{"error": "<parameter>: <problem>"}`. Dates are YYYY-MM-DD, ranges inclusive.

`GET /health` -> 200 `{"status": "ok"}` (no key).

`GET /v1/instruments.xml?page=N&page_size=M` - page-number pagination (1-based; page_size
default 500, max 5000). `<instruments page page_size total_pages total>` of `<instrument>` with
`symbol, isin, name, exchange, currency, sector, listed_on`. A page past the end is empty.

`GET /v1/prices?from=&to=&offset=K&limit=L[&symbol_from=S&symbol_to=S]` - offset/limit
pagination (limit default 1000, max 50000; symbol range inclusive, for sharding). JSON
`{from, to, offset, limit, total, data: [{symbol, date, open, high, low, close, volume, currency}]}`
ordered by (date, symbol). `total` is the exact row count of the query as the clock stands;
new days append at the end, so offsets of earlier rows never move.

`GET /v1/fx?from=&to=[&next_token=T]&limit=L` - next-token pagination (limit default 1000, max
10000). `{from, to, data: [{date, base: "USD", quote, rate}], next_token}` ordered by (date,
quote) for 20 currencies; `next_token` is null once no more published rows remain. The token is
opaque and stable (same token, same limit: same page) and only valid with the from/to it came from.

`GET /v1/intraday?date=D[&after=SEQ]&limit=L` - Link-header pagination (limit default 1000,
max 10000). A JSON list of 5-minute bars `{symbol, ts (bar start, UTC), open, high, low, close,
volume, seq}` of the first `intraday_instruments` symbols, 06:00-16:00 America/New_York.
`seq` is the publication order within the date (1-based); `after` is the last seq seen. The
header `Link: <http://host:port/v1/intraday?date=D&after=S&limit=L>; rel="next"` is present
only while more published bars exist. A weekend date or one outside the history is an empty list.

`GET /v1/feeds/corporate_actions/D.csv` and `.xml` - the day's feed file: columns
`action_id, symbol, ex_date, action_type (split|dividend), ratio, amount, currency`. 404 for a
weekend or a day not yet published.

`POST /v1/jobs {"kind": "index_constituents", "params": {"as_of": D}}` -> 202 `{job_id, status:
"queued"}`; `GET /v1/jobs/{id}` -> `{job_id, status: queued|running|succeeded|failed, progress,
result_url?, error?}`, advancing with wall-clock time over `job_seconds`; `GET
/v1/jobs/{id}/result` -> CSV `as_of,index_code,symbol,weight` (409 before success). Unknown job: 404.
Jobs are kept in `<state-dir>/jobs/` and survive a restart.

Admin endpoints take no API key: they exist for tests and the stack, and the service is bound
to loopback only (the stack starts it on 127.0.0.1; any other host is logged as a warning).

- `GET|POST /admin/knobs`: the fault knobs (see `faults`).
- `POST /admin/reset`: clears the knobs and the counters.
- `GET /admin/stats`: `requests` per /v1 endpoint name (instruments, prices, fx, intraday,
  corporate_actions_feed, jobs.create, jobs.status, jobs.result, unknown; 401s count too), their
  `total`, the answered `statuses` and the injected `faults`.
- `GET|POST /admin/config`: the data settings; a POST rebuilds the market.
- `POST /admin/feeds/drop {"bucket", "prefix" (default "landing/corporate_actions/"), "from",
  "to", "format": "csv"|"xml"}`: writes one feed file per published business day to S3 as
  `<prefix><YYYY-MM-DD>.<format>` and answers `{bucket, keys, skipped}`.

The API key is never logged; request lines are logged without headers, and query parameters
that look like secrets are masked.
"""

from __future__ import annotations

from local_stack.vendor_api.config import VendorConfig
from local_stack.vendor_api.server import VendorApi

__all__ = ["VendorApi", "VendorConfig"]
