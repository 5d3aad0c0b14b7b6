"""Look-ahead: which fields below the current one the operation selected (through fragments too).

Read from graphql-core's syntax tree of the field, not Strawberry's `info.selected_fields`, which converts the
whole subtree (arguments and directives included) on every call. Directives are not evaluated, so the paths
depend on the document alone, and are kept per field node: parsed documents are cached and reused, so the same
operation finds its paths computed already.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable

from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, SelectionNode

from ragweave.context import Info

_MAX_CACHED = 1024
# the first field node -> (the field's nodes, their paths); the nodes are kept so that an id is not reused
_cache: dict[int, tuple[tuple[FieldNode, ...], frozenset[str]]] = {}


def selected_paths(info: Info) -> frozenset[str]:
    """Dotted paths below the field being resolved, e.g. {"hits", "hits.scores", "hits.scores.graph"}."""
    raw = info._raw_info
    nodes = tuple(raw.field_nodes)
    cached = _cache.get(id(nodes[0]))
    if cached is not None and len(cached[0]) == len(nodes) and all(map(operator.is_, cached[0], nodes)):
        return cached[1]
    paths: set[str] = set()
    for node in nodes:
        if node.selection_set is not None:
            _collect(node.selection_set.selections, "", paths, raw.fragments, set())
    found = frozenset(paths)
    if len(_cache) >= _MAX_CACHED:
        _cache.clear()
    _cache[id(nodes[0])] = (nodes, found)
    return found


def _collect(
    selections: Iterable[SelectionNode], prefix: str, paths: set[str],
    fragments: dict[str, FragmentDefinitionNode], spread: set[tuple[str, str]],
) -> None:
    for selection in selections:
        if isinstance(selection, FieldNode):
            path = f"{prefix}{selection.name.value}"
            paths.add(path)
            if selection.selection_set is not None:
                _collect(selection.selection_set.selections, f"{path}.", paths, fragments, spread)
        elif isinstance(selection, InlineFragmentNode):
            _collect(selection.selection_set.selections, prefix, paths, fragments, spread)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None and (prefix, fragment.name.value) not in spread:
                spread.add((prefix, fragment.name.value))
                _collect(fragment.selection_set.selections, prefix, paths, fragments, spread)
