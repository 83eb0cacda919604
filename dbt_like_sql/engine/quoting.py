"""Identifiers and literals as they go into SQL text: validated first, then quoted.

Names come from file names, YAML and config() calls, so they are untrusted text. A name must
look like a Snowflake unquoted identifier (letters, digits, `_`, `$`, not starting with a digit);
it is then upper-cased, which is what Snowflake does to an unquoted name, and double-quoted, so
nothing in a name can end the identifier and start SQL of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbt_like_sql.engine.errors import ProjectConfigError

__all__ = ["Relation", "comment_literal", "normalize_identifier", "quote_identifier", "string_literal"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_MAX_IDENTIFIER = 255


def normalize_identifier(name: object, what: str, path: str | None = None, line: int | None = None) -> str:
    """`name` upper-cased, or a ProjectConfigError naming `what` and why it is not an identifier."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name) or len(name) > _MAX_IDENTIFIER:
        raise ProjectConfigError(
            f"{what} {name!r} is not a valid identifier: use letters, digits, _ and $, not starting with a digit",
            path,
            line,
        )
    return name.upper()


def quote_identifier(name: str) -> str:
    """A double-quoted identifier; an embedded quote is doubled, as Snowflake requires."""
    return '"' + name.replace('"', '""') + '"'


def string_literal(value: str) -> str:
    """A single-quoted string constant for data values (accepted_values, for instance)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def comment_literal(text: str) -> str:
    """A COMMENT constant: whitespace collapsed, apostrophes typographic, backslashes escaped.

    An apostrophe becomes U+2019 rather than a doubled quote: the text reads the same, and the
    local Snowflake (fakesnow 0.11) copies comments into its catalogue unescaped, failing on `''`.
    """
    cleaned = " ".join(text.split()).replace("'", "\u2019").replace("\\", "\\\\")
    return f"'{cleaned}'"


@dataclass(frozen=True)
class Relation:
    """A table or view, rendered fully quoted; `database` None means the connection's database."""

    schema: str
    name: str
    database: str | None = None
    cte: str | None = None  # an ephemeral model: the name of the CTE it is inlined as

    @property
    def identifier(self) -> str:
        """dbt's name for the object name part, for templates written against dbt."""
        return self.name

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.database, self.schema, self.name) if self.database else (self.schema, self.name)

    def __str__(self) -> str:
        if self.cte is not None:
            return self.cte
        return ".".join(quote_identifier(part) for part in self.parts)

    @property
    def display(self) -> str:
        """SCHEMA.NAME without quotes, for messages and logs."""
        return ".".join(self.parts)
