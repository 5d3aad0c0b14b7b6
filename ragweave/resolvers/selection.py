"""Look-ahead: which fields below the current one the operation selected (through fragments too)."""

from __future__ import annotations

from collections.abc import Iterable

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from ragweave.context import Info


def selected_paths(info: Info) -> set[str]:
    """Dotted paths below the field being resolved, e.g. {"hits", "hits.scores", "hits.scores.graph"}."""
    paths: set[str] = set()
    for field in info.selected_fields:
        _collect(field.selections, "", paths)
    return paths


def _collect(selections: Iterable[Selection], prefix: str, paths: set[str]) -> None:
    for selection in selections:
        if isinstance(selection, SelectedField):
            path = f"{prefix}{selection.name}"
            paths.add(path)
            _collect(selection.selections, f"{path}.", paths)
        elif isinstance(selection, FragmentSpread | InlineFragment):
            _collect(selection.selections, prefix, paths)
