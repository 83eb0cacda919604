"""From a line of rendered SQL back to the line of the model file that produced it.

Jinja keeps no source map: a false `{% if %}` drops lines, `{{ ref() }}` rewrites them. A line
diff between the file and its rendering recovers the mapping: unchanged lines map one to one,
rewritten lines to the most alike of the file lines they replace, and lines only in the output to the line before.
"""

from __future__ import annotations

from difflib import SequenceMatcher

__all__ = ["source_line"]


def source_line(source: str, rendered: str, rendered_line: int) -> int:
    """The 1-based line of `source` that produced 1-based `rendered_line` of `rendered`."""
    target = rendered_line - 1
    source_lines, rendered_lines = source.splitlines(), rendered.splitlines()
    matcher = SequenceMatcher(a=source_lines, b=rendered_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if j1 <= target < j2:
            if tag == "equal":
                return i1 + (target - j1) + 1
            if tag == "replace":
                return _most_alike(source_lines, i1, i2, rendered_lines[target]) + 1
            return max(i1, 1)
    return max(len(source_lines), 1)


def _most_alike(lines: list[str], start: int, end: int, text: str) -> int:
    """The index of the line in lines[start:end] that shares most text with `text` (the first on ties)."""
    scores = [SequenceMatcher(a=lines[i], b=text, autojunk=False).ratio() for i in range(start, end)]
    return start + scores.index(max(scores))
