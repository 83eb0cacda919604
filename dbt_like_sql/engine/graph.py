"""The dependency graph of models and seeds: order, ancestry and cycles.

Edges come from ref() calls (a model reads its parents). Sources are outside the graph: the
project does not build them. Orders are deterministic (ties broken by name), so two runs of
the same project build in the same sequence.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping

__all__ = ["Graph"]


class Graph:
    def __init__(self, parents: Mapping[str, Iterable[str]]) -> None:
        self._parents = {node: sorted(set(found)) for node, found in parents.items()}
        self._children: dict[str, list[str]] = {node: [] for node in self._parents}
        for node, found in self._parents.items():
            for parent in found:
                self._children.setdefault(parent, []).append(node)

    @property
    def nodes(self) -> list[str]:
        return sorted(self._parents)

    def parents(self, node: str) -> list[str]:
        return list(self._parents.get(node, []))

    def ancestors(self, node: str, depth: int | None = None) -> set[str]:
        return self._walk(node, self._parents, depth)

    def descendants(self, node: str, depth: int | None = None) -> set[str]:
        return self._walk(node, self._children, depth)

    def find_cycle(self) -> list[str] | None:
        """A cycle as [a, b, ..., a] where each node reads the next, or None."""
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        for start in self.nodes:
            if state.get(start):
                continue
            path: list[str] = [start]
            iterators = [iter(self._parents[start])]
            state[start] = 1
            while iterators:
                parent = next(iterators[-1], None)
                if parent is None:
                    state[path.pop()] = 2
                    iterators.pop()
                elif state.get(parent) == 1:
                    return [*path[path.index(parent) :], parent]
                elif not state.get(parent):
                    state[parent] = 1
                    path.append(parent)
                    iterators.append(iter(self._parents.get(parent, [])))
        return None

    def topological(self, selected: Collection[str] | None = None) -> list[str]:
        """Every node (or the selected ones) after its parents; ties in name order."""
        wanted = set(self._parents if selected is None else selected)
        remaining = {node: sum(1 for p in self._parents[node] if p in wanted) for node in wanted}
        ready = [node for node, count in remaining.items() if count == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            node = heapq.heappop(ready)
            order.append(node)
            for child in self._children.get(node, []):
                if child in remaining:
                    remaining[child] -= 1
                    if remaining[child] == 0:
                        heapq.heappush(ready, child)
        if len(order) != len(wanted):
            raise ValueError("the graph has a cycle; find_cycle() names it")
        return order

    @staticmethod
    def _walk(node: str, edges: Mapping[str, list[str]], depth: int | None) -> set[str]:
        seen: set[str] = set()
        frontier = [node]
        level = 0
        while frontier and (depth is None or level < depth):
            level += 1
            frontier = [n for current in frontier for n in edges.get(current, []) if n not in seen]
            seen.update(frontier)
        return seen
