"""Operation cost, computed from the selection and its arguments before anything runs (pure; no I/O).

A field's cost is its own weight plus, for lists, `width x` the cost of what is selected below it, where the
width is the `topK`/`first` asked for (or a fixed estimate). Weights approximate backend work: one unit per
vector hit or graph row, `hops` for neighbourhoods, a flat 200 per LLM call, per item for embed/rerank/ingest.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    is_non_null_type,
)
from graphql.execution.get_variable_signature import GraphQLVariableSignature, get_variable_signature
from graphql.execution.values import (
    VariableValues,
    VariableValueSource,
    get_argument_values,
    get_variable_values,
)
from graphql.pyutils import Undefined
from graphql.utilities import coerce_input_value

LLM_CALL = 200
DEFAULT_WIDTH = 10
# the arguments `_own_cost` and `_width` read: a field's cost depends on no other of its arguments
COST_ARGUMENTS = frozenset({"topK", "maxHops", "first", "topN", "hops", "input", "options", "texts", "documents",
                            "graph"})
_MAX_MEMO = 64  # costs kept per plan, by the values of the variables they read


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


@dataclass(frozen=True, slots=True)
class _Field:
    """One field of the operation, fragments expanded. `cost` is its whole cost when neither it nor anything below
    it uses a variable; else its own arguments are read per request (`args` is set when they use none)."""

    name: str
    definition: GraphQLField
    node: FieldNode
    args: dict[str, Any] | None
    is_list: bool
    below: tuple[tuple[_Field, ...], ...]  # the selection for each type the field can return
    cost: int | None = None


def _variable_names(value: object) -> list[str]:
    """The variables a syntax node (e.g. a field's argument) refers to, anywhere inside it."""
    if isinstance(value, VariableNode):
        return [value.name.value]
    if isinstance(value, Node):
        return [n for key in value.keys if key != "loc" for n in _variable_names(getattr(value, key))]
    return [n for item in value for n in _variable_names(item)] if isinstance(value, tuple | list) else []


def literal_arguments(definition: GraphQLField, node: FieldNode) -> dict[str, Any] | None:
    """The field's arguments coerced from the document alone; None when a variable is in them or they do not
    coerce (then graphql-core coerces them, and reports the error, per request)."""
    if _variable_names(node.arguments or ()):
        return None
    try:
        return get_argument_values(definition, node)
    except GraphQLError:
        return None


class _Planner:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def selection(self, parent: GraphQLObjectType, selection_set: SelectionSetNode | None,
                  seen: frozenset[str]) -> tuple[_Field, ...]:
        fields: list[_Field] = []
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                fields.extend(self.field(parent, node, seen))
            elif isinstance(node, InlineFragmentNode):
                target = self.schema.get_type(node.type_condition.name.value) if node.type_condition else parent
                fields.extend(self.selection(target if isinstance(target, GraphQLObjectType) else parent,
                                             node.selection_set, seen))
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                fragment = self.fragments.get(node.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    fields.extend(self.selection(target if isinstance(target, GraphQLObjectType) else parent,
                                                 fragment.selection_set, seen | {node.name.value}))
        return tuple(fields)

    def field(self, parent: GraphQLObjectType, node: FieldNode, seen: frozenset[str]) -> list[_Field]:
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return []
        args = literal_arguments(definition, node)
        named = get_named_type(definition.type)
        below: tuple[tuple[_Field, ...], ...] = ()
        if node.selection_set is not None:
            types = [named] if isinstance(named, GraphQLObjectType) else list(getattr(named, "types", []))
            below = tuple(self.selection(t, node.selection_set, seen) for t in types)
        is_list = is_list_type(get_nullable_type(definition.type))
        field = _Field(node.name.value, definition, node, args, is_list, below)
        if args is not None and all(f.cost is not None for selection in below for f in selection):
            field = replace(field, cost=_cost(field, None))
        return [field]


def _cost(field: _Field, variables: VariableValues | None) -> int:
    if field.cost is not None:
        return field.cost
    args = field.args if field.args is not None else get_argument_values(field.definition, field.node, variables)
    below = max((sum(_cost(f, variables) for f in selection) for selection in field.below), default=0)
    return _own_cost(field.name, args) + (_width(args) if field.is_list else 1) * below


@dataclass(frozen=True, slots=True)
class _Plan:
    schema: GraphQLSchema
    document: DocumentNode
    operation: OperationDefinitionNode | None
    fields: tuple[_Field, ...]
    # the operation's variables, typed once; None when one has a default or an unknown type (coerced the long way)
    signatures: tuple[GraphQLVariableSignature, ...] | None = None
    # the whole cost when no field's cost reads a variable
    constant: int | None = None
    # the variables the cost reads (in COST_ARGUMENTS), and the others the variable-dependent fields' arguments use
    read: tuple[str, ...] = ()
    unread: tuple[str, ...] = ()
    costs: dict[tuple[Any, ...], int] = field(default_factory=dict, compare=False)


class _Plans:
    """The plans of the last `maxsize` (document, operation name) pairs. Keyed by the document's identity: the
    parse cache hands out one DocumentNode per query text, and hashing a DocumentNode walks the whole tree."""

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._plans: OrderedDict[tuple[int, str | None], _Plan] = OrderedDict()

    def get(self, schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> _Plan:
        key = (id(document), operation_name)
        plan = self._plans.get(key)
        if plan is not None and plan.document is document and plan.schema is schema:
            self._plans.move_to_end(key)
            return plan
        plan = self._plans[key] = _plan(schema, document, operation_name)
        if len(self._plans) > self.maxsize:
            self._plans.popitem(last=False)
        return plan


def _plan(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> _Plan:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = next(
        (o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)), None
    )
    root = schema.get_root_type(chosen.operation) if chosen else None
    fields = _Planner(schema, document).selection(root, chosen.selection_set, frozenset()) if root and chosen else ()
    signatures = [get_variable_signature(schema, d) for d in (chosen.variable_definitions or ())] if chosen else []
    plain = all(isinstance(s, GraphQLVariableSignature) and s.default is None for s in signatures)
    constant = sum(f.cost for f in fields) if all(f.cost is not None for f in fields) else None
    read: dict[str, None] = {}
    unread: dict[str, None] = {}
    _variables_used(fields, read, unread)
    return _Plan(schema, document, chosen if root else None, fields, tuple(signatures) if plain else None, constant,
                 tuple(read), tuple(name for name in unread if name not in read))


def _variables_used(fields: tuple[_Field, ...], read: dict[str, None], unread: dict[str, None]) -> None:
    """The variables in the arguments of the fields whose cost is computed per request, split by whether the
    cost reads the argument they are in."""
    for f in fields:
        if f.cost is not None:
            continue
        for argument in f.node.arguments or ():
            names = read if argument.name.value in COST_ARGUMENTS else unread
            names.update(dict.fromkeys(_variable_names(argument.value)))
        for selection in f.below:
            _variables_used(selection, read, unread)


def _memo_key(plan: _Plan, coerced: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """What the cost depends on besides the plan: whether each variable it reads is given and its value, and
    whether each other variable is missing or null (that can make a field's arguments invalid, and the cost 0).
    None when a value read is not hashable (a chat's messages): then it is computed."""
    key = (*((name in coerced, type(value := coerced.get(name)), value) for name in plan.read),
           *(0 if name not in coerced else 1 if coerced[name] is None else 2 for name in plan.unread))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _variables(plan: _Plan, given: Mapping[str, Any]) -> VariableValues | None:
    """The operation's variables coerced as graphql-core's `get_variable_values` coerces them, with the
    signatures typed once per plan (graphql-core types every variable again for every request); None when they
    are invalid (execution reports them)."""
    if plan.signatures is None:
        coerced = get_variable_values(plan.schema, plan.operation.variable_definitions or (), dict(given))
        return coerced if isinstance(coerced, VariableValues) else None
    sources: dict[str, VariableValueSource] = {}
    values: dict[str, Any] = {}
    for signature in plan.signatures:
        value = given.get(signature.name, Undefined)
        if value is Undefined:
            if is_non_null_type(signature.type):
                return None
            sources[signature.name] = VariableValueSource(signature)
            continue
        sources[signature.name] = VariableValueSource(signature, value)
        try:
            value = coerce_input_value(value, signature.type)
        except RecursionError:  # nested too deeply
            return None
        if value is Undefined:
            return None
        values[signature.name] = value
    return VariableValues(sources, values)


_plans = _Plans()


def operation_cost(
    schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any] | None, operation_name: str | None
) -> int:
    plan = _plans.get(schema, document, operation_name)
    if plan.operation is None:
        return 0
    if plan.constant is not None:
        return plan.constant
    coerced = _variables(plan, variables or {})
    if coerced is None:
        return 0  # invalid variables: execution reports them
    return _variable_cost(plan, coerced)


def coerced_operation_cost(
    schema: GraphQLSchema, document: DocumentNode, variables: VariableValues, operation_name: str | None
) -> int:
    """`operation_cost` for variables graphql-core already coerced (an executor's `variable_values`)."""
    plan = _plans.get(schema, document, operation_name)
    if plan.operation is None:
        return 0
    return plan.constant if plan.constant is not None else _variable_cost(plan, variables)


def _variable_cost(plan: _Plan, coerced: VariableValues) -> int:
    key = _memo_key(plan, coerced.coerced)
    cost = plan.costs.get(key) if key is not None else None
    if cost is not None:
        return cost
    try:
        cost = sum(_cost(f, coerced) for f in plan.fields)
    except GraphQLError:
        cost = 0  # an argument the variables leave invalid (a null where a value is needed): execution reports it
    if key is not None:
        if len(plan.costs) >= _MAX_MEMO:
            plan.costs.clear()
        plan.costs[key] = cost
    return cost
