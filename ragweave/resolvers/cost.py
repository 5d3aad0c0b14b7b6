"""Operation cost, computed from the selection and its arguments before anything runs (pure; no I/O).

A field's cost is its own weight plus, for lists, `width x` the cost of what is selected below it, where the
width is the `topK`/`first` asked for (or a fixed estimate). Weights approximate backend work: one unit per
vector hit or graph row, `hops` for neighbourhoods, a flat 200 per LLM call, per item for embed/rerank/ingest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values

LLM_CALL = 200
DEFAULT_WIDTH = 10


def _retrieval(top_k: int, hops: int) -> int:
    return 2 + top_k * (1 + DEFAULT_WIDTH * hops)


def _own_cost(name: str, args: Mapping[str, Any]) -> int:
    if name == "search":
        return 2 + args.get("topK", 5)
    if name == "retrieve":
        return _retrieval(args.get("topK", 5), args.get("maxHops", 1))
    if name in ("chat", "chatStream"):
        grounding = (args.get("input") or {}).get("retrieve")
        return LLM_CALL + (_retrieval(grounding.get("topK", 5), grounding.get("maxHops", 1)) if grounding else 0)
    if name == "extractGraph":
        return LLM_CALL * ((args.get("options") or {}).get("maxAttempts") or 2)
    graph = args.get("graph") or {}
    weights = {
        "embed": len(args.get("texts", ())), "rerank": len(args.get("documents", ())),
        "ingest": 20 * len(args.get("documents", ())), "graphQuery": 100, "deleteDocument": 20,
        "upsertGraph": len(graph.get("nodes", ())) + len(graph.get("edges", ())),
        "neighbors": args.get("hops", 1) * args.get("first", 20), "entities": 1, "relations": 1, "mentions": 1,
        "chunks": 1, "entity": 1, "chunk": 1, "document": 1, "health": 5,
    }
    return weights.get(name, 0)


def _width(args: Mapping[str, Any]) -> int:
    return int(args.get("topK") or args.get("first") or args.get("topN") or DEFAULT_WIDTH)


class CostCalculator:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.variables: VariableValues | None = None
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def operation(self, operation: OperationDefinitionNode, variables: Mapping[str, Any] | None) -> int:
        coerced = get_variable_values(self.schema, operation.variable_definitions or (), dict(variables or {}))
        if not isinstance(coerced, VariableValues):
            return 0  # invalid variables: execution reports them
        self.variables = coerced
        root = self.schema.get_root_type(operation.operation)
        return self._selection(root, operation.selection_set, set()) if root else 0

    def _selection(self, parent: GraphQLObjectType, selection_set: SelectionSetNode | None, seen: set[str]) -> int:
        total = 0
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                total += self._field(parent, node, seen)
            elif isinstance(node, InlineFragmentNode):
                target = self.schema.get_type(node.type_condition.name.value) if node.type_condition else parent
                total += self._selection(target if isinstance(target, GraphQLObjectType) else parent,
                                         node.selection_set, seen)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                fragment = self.fragments.get(node.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    total += self._selection(target if isinstance(target, GraphQLObjectType) else parent,
                                             fragment.selection_set, seen | {node.name.value})
        return total

    def _field(self, parent: GraphQLObjectType, node: FieldNode, seen: set[str]) -> int:
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return 0
        args = get_argument_values(definition, node, self.variables)
        named = get_named_type(definition.type)
        below = 0
        if node.selection_set is not None:
            types = [named] if isinstance(named, GraphQLObjectType) else list(getattr(named, "types", []))
            below = max((self._selection(t, node.selection_set, seen) for t in types), default=0)
        width = _width(args) if is_list_type(get_nullable_type(definition.type)) else 1
        return _own_cost(node.name.value, args) + width * below


def operation_cost(
    schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any] | None, operation_name: str | None
) -> int:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = next(
        (o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)), None
    )
    return CostCalculator(schema, document).operation(chosen, variables) if chosen else 0
