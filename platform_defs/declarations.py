"""Dataset declarations: one YAML file per dataset, read and validated when the definitions load.

A declaration says everything a dataset needs (the schema is in docs/datasets.md), and no
Python. Every problem is a `DeclarationError` that starts `path:line: field:` and, for a field
with a fixed set of values, lists them, the way the SQL engine names file:line. The vendor's
base URL and secret are not declared: they are settings (`BATON_VENDOR_<NAME>_*`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg

from dbt_like_sql.engine.yaml_lines import line_of, load_yaml
from platform_defs.dataset_spec import (
    COLUMN_TYPES,
    PARTITION_KINDS,
    TIME_TYPES,
    Column,
    Dataset,
    Partitioning,
    Sharding,
    Trigger,
)

__all__ = ["DECLARATION_SUFFIX", "DeclarationError", "load_catalogue", "read_declaration"]

DECLARATION_SUFFIX = ".yaml"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
PLACEHOLDERS = ("partition",)
SOURCE_KINDS = ("json_rest", "xml_api", "s3_feed", "job_poll")
PAGINATION_STYLES = ("offset", "page", "token", "next_url", "link")
AUTH_TYPES = ("header", "bearer", "basic", "query")
TRIGGER_KINDS = ("schedule", "landing", "none")
FEED_FORMATS = ("csv", "xml")

_HTTP_KEYS = ("path", "params", "auth", "rate_limit", "retry")
_SOURCE_KEYS: Mapping[str, tuple[str, ...]] = {
    "json_rest": (*_HTTP_KEYS, "records", "pagination", "page_size", "incremental"),
    "xml_api": (
        *_HTTP_KEYS,
        "record_element",
        "page_size",
        "page_param",
        "page_size_param",
        "total_pages_attribute",
        "total_attribute",
    ),
    "s3_feed": ("prefix", "format", "record_element"),
    "job_poll": ("start_path", "job", "status_path", "poll_seconds", "auth", "rate_limit", "retry"),
}
_PAGINATION_KEYS = (
    "style",
    "limit_param",
    "offset_param",
    "total_field",
    "page_param",
    "total_pages_field",
    "token_param",
    "token_field",
    "next_url_field",
)
_TOP_KEYS = (
    "description",
    "vendor",
    "source",
    "columns",
    "key",
    "partitioning",
    "trigger",
    "freshness",
    "sharding",
    "business_date",
    "notify",
)


class DeclarationError(ValueError):
    """A declaration is invalid: the message starts with the file, its line and the field."""

    def __init__(self, message: str, path: str, line: int | None = None, field: str | None = None) -> None:
        self.path, self.line, self.field = path, line, field
        location = f"{path}:{line}" if line else path
        super().__init__(f"{location}: {field + ': ' if field else ''}{message}")


class _Fields:
    """One mapping of a declaration, with the file and the field path that lead to it."""

    def __init__(self, value: Any, file: str, where: str, line: int | None) -> None:
        if not isinstance(value, Mapping):
            raise DeclarationError(f"must be a mapping; got {_shown(value)}", file, line, where or None)
        self.value, self.file, self.where, self.line = value, file, where, line

    def field(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def error(self, key: str | None, message: str) -> DeclarationError:
        line = line_of(self.value, key) if key is not None else line_of(self.value)
        return DeclarationError(message, self.file, line or self.line, self.field(key) if key else self.where or None)

    def only(self, allowed: Sequence[str]) -> None:
        for key in self.value:
            if key not in allowed:
                raise self.error(str(key), f"is not a field here; the fields are: {', '.join(allowed)}")

    def text(
        self,
        key: str,
        default: str | None = None,
        *,
        required: bool = False,
        choices: Sequence[str] | None = None,
        pattern: re.Pattern[str] | None = None,
        template: Sequence[str] | None = None,
    ) -> str | None:
        """A string field; `template` names the placeholders it may hold (`{partition}`), and only those."""
        if key not in self.value or self.value[key] is None:
            if required:
                hint = f"; one of: {', '.join(choices)}" if choices else ""
                raise self.error(None, f"needs the field {key!r}{hint}")
            return default
        value = self.value[key]
        if not isinstance(value, str) or (required and not value):
            raise self.error(key, f"must be a string; got {_shown(value)}")
        if choices is not None and value not in choices:
            raise self.error(key, f"must be one of: {', '.join(choices)}; got {value!r}")
        if pattern is not None and not pattern.match(value):
            raise self.error(key, f"{value!r} must match {pattern.pattern}")
        if template is not None:
            _check_placeholders(value, self, key, template)
        return value

    def integer(self, key: str, default: int | None, minimum: int, maximum: int) -> int | None:
        value = self.value.get(key, default)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
            raise self.error(key, f"must be an integer from {minimum} to {maximum}; got {_shown(value)}")
        return value

    def number(self, key: str, default: float | None, minimum: float, maximum: float) -> float | None:
        value = self.value.get(key, default)
        if value is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool) or not minimum <= value <= maximum:
            raise self.error(key, f"must be a number from {minimum:g} to {maximum:g}; got {_shown(value)}")
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.value.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false; got {_shown(value)}")
        return value

    def mapping(self, key: str, *, required: bool = False) -> _Fields | None:
        if key not in self.value or self.value[key] is None:
            if required:
                raise self.error(None, f"needs the field {key!r}")
            return None
        return _Fields(self.value[key], self.file, self.field(key), line_of(self.value, key))

    def items(self, key: str, *, required: bool = False) -> Iterator[tuple[Any, str, int | None]]:
        """Each item of a list field, with its field path (`columns[2]`) and line."""
        value = self.value.get(key)
        if value is None:
            if required:
                raise self.error(None, f"needs the field {key!r} (a list)")
            return
        if not isinstance(value, list) or not value:
            raise self.error(key, f"must be a non-empty list; got {_shown(value)}")
        for index, item in enumerate(value):
            yield item, f"{self.field(key)}[{index}]", line_of(value, index)

    def scalars(self, key: str) -> dict[str, Any]:
        """A mapping of names to strings, numbers or booleans (query parameters, a job's parameters)."""
        fields = self.mapping(key)
        if fields is None:
            return {}
        for name, value in fields.value.items():
            if not isinstance(value, str | int | float | bool):
                raise fields.error(str(name), f"must be a string, number or boolean; got {_shown(value)}")
            if isinstance(value, str):
                _check_placeholders(value, fields, str(name))
        return dict(fields.value)


def _shown(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if not isinstance(value, Mapping | list) else type(value).__name__


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _check_placeholders(value: str, fields: _Fields, key: str, allowed: Sequence[str] = PLACEHOLDERS) -> None:
    for name in _PLACEHOLDER.findall(value):
        if name not in allowed:
            valid = ", ".join(f"{{{p}}}" for p in allowed) or "none"
            raise fields.error(key, f"{value!r} uses the placeholder {{{name}}}; the placeholders here are: {valid}")


def load_catalogue(folder: Path) -> dict[str, Dataset]:
    """Every declaration in `folder`, by dataset name; raises `DeclarationError` on the first problem."""
    if not folder.is_dir():
        raise DeclarationError("the catalogue folder does not exist (BATON_CATALOGUE_DIR names another)", str(folder))
    paths = sorted(folder.glob(f"*{DECLARATION_SUFFIX}"))
    if not paths:
        raise DeclarationError(f"the catalogue folder holds no *{DECLARATION_SUFFIX} declaration", str(folder))
    datasets = {dataset.name: dataset for dataset in (read_declaration(path, _shown_path(path)) for path in paths)}
    for dataset in datasets.values():
        _check_sharding(dataset, datasets)
    return datasets


def _shown_path(path: Path) -> str:
    """The path as errors show it: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_declaration(path: Path, shown: str | None = None) -> Dataset:
    """The dataset declared in `path` (its name is the file's stem)."""
    file = shown or str(path)
    name = path.stem
    if not NAME.match(name):
        raise DeclarationError(f"the file name {name!r} is not a dataset name: it must match {NAME.pattern}", file)
    document = load_yaml(path, file, DeclarationError)
    top = _Fields(document, file, "", 1)
    top.only(_TOP_KEYS)
    columns = _columns(top)
    names = [column.name for column in columns]
    key = _key(top, names)
    columns = tuple(
        Column(c.name, c.type, c.description, True) if c.name in key else c for c in columns
    )  # a key column is never missing: a record without it could not be deduplicated
    partitioning = _partitioning(top)
    source_fields = top.mapping("source", required=True)
    assert source_fields is not None
    source = _source(source_fields)
    trigger = _trigger(top)
    if trigger.kind == "landing" and partitioning.kind not in ("landed_file", "snapshot", "none"):
        raise top.error("trigger", "a landing trigger starts datasets partitioned by landed_file, snapshot or none")
    if partitioning.kind == "landed_file" and trigger.kind != "landing":
        raise top.error(
            "partitioning", "landed_file partitions come from a landing trigger: add trigger: {kind: landing}"
        )
    return Dataset(
        name=name,
        vendor=str(top.text("vendor", required=True, pattern=NAME)),
        description=str(top.text("description", required=True)),
        columns=columns,
        key=key,
        partitioning=partitioning,
        source=source,
        trigger=trigger,
        freshness=_freshness(top),
        sharding=_sharding(top),
        business_date=_business_date(top, columns),
        notify_on_success=_notify(top),
        path=file,
    )


def _columns(top: _Fields) -> tuple[Column, ...]:
    columns: list[Column] = []
    seen: set[str] = set()
    for item, where, line in top.items("columns", required=True):
        fields = _Fields(item, top.file, where, line)
        fields.only(("name", "type", "description", "required"))
        name = str(fields.text("name", required=True, pattern=NAME))
        if name in seen:
            raise fields.error("name", f"the column {name!r} is declared twice")
        seen.add(name)
        column_type = str(fields.text("type", required=True, choices=COLUMN_TYPES))
        description = fields.text("description", "") or ""
        columns.append(Column(name, column_type, description, fields.boolean("required", True)))
    return tuple(columns)


def _key(top: _Fields, names: list[str]) -> tuple[str, ...]:
    key: list[str] = []
    for item, where, line in top.items("key", required=True):
        if item not in names:
            raise DeclarationError(
                f"{item!r} is not a column; the columns are: {', '.join(names)}", top.file, line, where
            )
        key.append(item)
    return tuple(key)


def _partitioning(top: _Fields) -> Partitioning:
    fields = top.mapping("partitioning")
    if fields is None:
        return Partitioning("none")
    fields.only(("kind", "start", "timezone", "closes_at"))
    kind = str(fields.text("kind", required=True, choices=PARTITION_KINDS))
    if kind in ("snapshot", "none", "landed_file"):
        extra = [key for key in ("start", "timezone", "closes_at") if key in fields.value]
        if extra:
            raise fields.error(extra[0], f"applies to weekday, daily and intraday partitions, not {kind}")
        return Partitioning(kind)
    start = str(fields.text("start", required=True))
    try:
        date.fromisoformat(start)
    except ValueError:
        raise fields.error("start", f"must be a day (YYYY-MM-DD); got {start!r}") from None
    zone = _timezone(fields, "timezone")
    closes_at: time | None = None
    if "closes_at" in fields.value:
        if kind != "intraday":
            raise fields.error("closes_at", "applies to intraday partitions only")
        closes_at = _time_of_day(fields, "closes_at")
    return Partitioning(kind, start, zone, closes_at)


def _timezone(fields: _Fields, key: str) -> str:
    zone = fields.text(key, "UTC") or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise fields.error(key, f"{zone!r} is not an IANA time zone (e.g. UTC, America/New_York)") from None
    return zone


def _time_of_day(fields: _Fields, key: str) -> time:
    value = fields.value[key]
    text = value if isinstance(value, str) else ""
    try:
        parsed = time.fromisoformat(text)
    except ValueError:
        raise fields.error(key, f'must be a time of day as "HH:MM" (quoted); got {_shown(value)}') from None
    return parsed


def _source(fields: _Fields) -> dict[str, Any]:
    kind = str(fields.text("kind", required=True, choices=SOURCE_KINDS))
    fields.only(("kind", *_SOURCE_KEYS[kind]))
    config: dict[str, Any] = {"kind": kind}
    if kind == "s3_feed":
        prefix = str(fields.text("prefix", required=True))
        if not prefix.endswith("/"):
            raise fields.error("prefix", f"must end with '/' (a folder of feed files); got {prefix!r}")
        feed_format = str(fields.text("format", required=True, choices=FEED_FORMATS))
        config.update(prefix=prefix, format=feed_format)
        if feed_format == "xml":
            config["record_element"] = fields.text("record_element", required=True)
        return config
    config.update(_http_client(fields))
    if kind == "job_poll":
        job = fields.mapping("job", required=True)
        assert job is not None
        job.only(("kind", "params"))
        config.update(
            start_path=fields.text("start_path", required=True, template=PLACEHOLDERS),
            status_path=fields.text("status_path", required=True, template=("job_id",)),
            job={"kind": job.text("kind", required=True), "params": job.scalars("params")},
            poll_seconds=fields.integer("poll_seconds", 2, 0, 300),
        )
        return config
    config.update(path=fields.text("path", required=True, template=PLACEHOLDERS), params=fields.scalars("params"))
    if kind == "xml_api":
        config["record_element"] = fields.text("record_element", required=True)
        config["page_size"] = fields.integer("page_size", 500, 1, 100_000)
        for key in ("page_param", "page_size_param", "total_pages_attribute", "total_attribute"):
            if key in fields.value:
                config[key] = fields.text(key, required=True)
        return config
    config["records"] = fields.text("records", "data")
    config["pagination"] = _pagination(fields)
    incremental = fields.mapping("incremental")
    if incremental is not None:
        incremental.only(("field", "param"))
        config["incremental"] = {
            "field": incremental.text("field", required=True),
            "param": incremental.text("param", required=True),
        }
    return config


def _pagination(fields: _Fields) -> dict[str, Any]:
    pagination = fields.mapping("pagination", required=True)
    assert pagination is not None
    pagination.only(_PAGINATION_KEYS)
    style = pagination.text("style", required=True, choices=PAGINATION_STYLES)
    config: dict[str, Any] = {"style": style, "limit": fields.integer("page_size", 1000, 1, 1_000_000)}
    for key in _PAGINATION_KEYS[1:]:
        if key in pagination.value:
            config[key] = pagination.text(key, required=True)
    return config


def _http_client(fields: _Fields) -> dict[str, Any]:
    """auth, rate_limit and retry: how the worker's HTTP client talks to the vendor."""
    config: dict[str, Any] = {}
    auth = fields.mapping("auth")
    if auth is not None:
        auth_type = auth.text("type", required=True, choices=AUTH_TYPES)
        auth.only({"header": ("type", "header", "prefix"), "query": ("type", "param")}.get(str(auth_type), ("type",)))
        if auth_type == "header":
            config["auth"] = {
                "type": "header",
                "header": auth.text("header", required=True),
                "prefix": auth.text("prefix", "") or "",
            }
        elif auth_type == "bearer":
            config["auth"] = {"type": "header", "header": "Authorization", "prefix": "Bearer "}
        elif auth_type == "basic":
            config["auth"] = {"type": "basic"}
        else:
            config["auth"] = {"type": "query", "param": auth.text("param", required=True)}
    rate = fields.mapping("rate_limit")
    if rate is not None:
        rate.only(("requests_per_second",))
        config["rate_limit"] = {"requests_per_second": rate.number("requests_per_second", None, 0.001, 10_000)}
        if config["rate_limit"]["requests_per_second"] is None:
            raise rate.error(None, "needs the field 'requests_per_second'")
    retry = fields.mapping("retry")
    if retry is not None:
        retry.only(("max_attempts", "backoff_seconds", "max_backoff_seconds"))
        config["retry"] = {
            "max_attempts": retry.integer("max_attempts", 8, 1, 50),
            "backoff_seconds": retry.number("backoff_seconds", 0.1, 0.0, 60.0),
            "max_backoff_seconds": retry.number("max_backoff_seconds", 20.0, 0.0, 600.0),
        }
    return config


def _trigger(top: _Fields) -> Trigger:
    fields = top.mapping("trigger")
    if fields is None:
        return Trigger("none")
    kind = str(fields.text("kind", required=True, choices=TRIGGER_KINDS))
    allowed = {"schedule": ("cron", "timezone"), "landing": ("prefix",)}.get(kind, ())
    fields.only(("kind", "description", *allowed))
    description = fields.text("description")
    if kind == "schedule":
        cron = str(fields.text("cron", required=True))
        _check_cron(fields, cron)
        return Trigger("schedule", cron=cron, timezone=_timezone(fields, "timezone"), description=description)
    if kind == "landing":
        prefix = str(fields.text("prefix", required=True))
        if not prefix.endswith("/"):
            raise fields.error("prefix", f"must end with '/' (the landing folder); got {prefix!r}")
        return Trigger("landing", prefix=prefix, description=description)
    return Trigger("none", description=description)


def _check_cron(fields: _Fields, cron: str) -> None:
    try:
        dg.ScheduleDefinition(name="declaration_check", cron_schedule=cron, job_name="declaration_check")
    except dg.DagsterInvalidDefinitionError:
        raise fields.error("cron", f'{cron!r} is not a cron expression (five fields, e.g. "0 1 * * 2-6")') from None


def _freshness(top: _Fields) -> dg.FreshnessPolicy | None:
    fields = top.mapping("freshness")
    if fields is None:
        return None
    fields.only(("deadline_cron", "lower_bound_minutes", "timezone", "fail_after_minutes", "warn_after_minutes"))
    if "deadline_cron" in fields.value:
        cron = str(fields.text("deadline_cron", required=True))
        _check_cron(_Fields({"cron": cron, **fields.value}, fields.file, fields.where, fields.line), cron)
        bound = fields.integer("lower_bound_minutes", None, 1, 7 * 24 * 60)
        if bound is None:
            raise fields.error(None, "a deadline_cron needs lower_bound_minutes: how old the last load may be then")
        zone = _timezone(fields, "timezone")
        return dg.FreshnessPolicy.cron(deadline_cron=cron, lower_bound_delta=timedelta(minutes=bound), timezone=zone)
    fail = fields.integer("fail_after_minutes", None, 1, 30 * 24 * 60)
    if fail is None:
        raise fields.error(None, "needs deadline_cron with lower_bound_minutes, or fail_after_minutes")
    warn = fields.integer("warn_after_minutes", None, 1, fail)
    return dg.FreshnessPolicy.time_window(
        fail_window=timedelta(minutes=fail), warn_window=timedelta(minutes=warn) if warn else None
    )


def _sharding(top: _Fields) -> Sharding | None:
    fields = top.mapping("sharding")
    if fields is None:
        return None
    fields.only(("key", "from_param", "to_param"))
    key = str(fields.text("key", required=True, pattern=re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")))
    dataset, column = key.split(".")
    return Sharding(
        dataset, column, str(fields.text("from_param", required=True)), str(fields.text("to_param", required=True))
    )


def _check_sharding(dataset: Dataset, datasets: Mapping[str, Dataset]) -> None:
    """A shard key names a column of a declared dataset: its lake holds the key space."""
    if dataset.sharding is None:
        return
    keys = datasets.get(dataset.sharding.key_dataset)
    columns = [c.name for c in keys.columns] if keys else []
    if keys is not None and keys.partitions is not None:
        raise DeclarationError(
            f"{keys.name} is partitioned; a shard key space comes from a snapshot or an unpartitioned dataset",
            dataset.path,
            None,
            "sharding.key",
        )
    if dataset.sharding.key_column not in columns:
        what = f"{dataset.sharding.key_dataset}.{dataset.sharding.key_column}"
        raise DeclarationError(
            f"{what} is not a column of a declared dataset; the datasets are: {', '.join(sorted(datasets))}",
            dataset.path,
            None,
            "sharding.key",
        )


def _business_date(top: _Fields, columns: tuple[Column, ...]) -> str | None:
    """The column a row's business date is in (data-quality marts report its newest value)."""
    times = [c.name for c in columns if c.type in TIME_TYPES]
    name = top.text("business_date")
    if name is None:
        return times[0] if times else None
    if name not in times:
        raise top.error("business_date", f"{name!r} is not a date or time column; those are: {', '.join(times)}")
    return name


def _notify(top: _Fields) -> bool:
    fields = top.mapping("notify")
    if fields is None:
        return False
    fields.only(("on_success",))
    return fields.boolean("on_success", False)
