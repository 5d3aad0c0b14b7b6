"""The executor: graphql-core's, with short paths for the fields that make up most of a large answer.

Most fields of an answer (ids, names, texts, scores, a hit's chunk, a retrieval's hits) are attributes of an
object a resolver already returned. graphql-core resolves each like any field: resolve info, argument coercion,
the resolver (Strawberry's attribute getter), then completion through half a dozen calls per value. Here:

- a field without arguments whose Strawberry resolver is the default one is read with `getattr`;
- a built-in scalar or enum value is serialized at once;
- an object value, or a list of them (`T`, `T!`, `[T!]!`, ...; also what a resolver returns), is completed by
  executing its selection on each object directly, with the same paths, error handling and awaiting as
  graphql-core's.
- a subscription field, for each event, is the event (Strawberry's resolver there returns it) without coercing
  its arguments again: they were coerced, with the same variables, when the stream was subscribed; and the
  root's fields, collected for the first event, serve every later one (same operation, same variables);
- the root fields of a query whose selections depend on the document alone are collected for its first request
  and kept;
- a selection of plain attributes only (scalars, enums, `__typename`, objects, and lists of them, the objects'
  own selections plain too) is completed by a function generated for it (`ragweave.schema.completion`), kept
  with the selection across requests of a static operation; in a direct run's answer, so is a resolver field that
  its type's carrier carries (`_Compiled`);
- a static query of one root field whose resolver's value a generated completer completes is not executed here at
  all once `sole_plain_root` has worked it out: `ragweave.schema.direct_root` runs it, and hands it back
  (`answer_root`) where graphql-core would do more;
- `__typename` is the parent type's name, as graphql-core's meta field resolves it;
- a value of a Strawberry union (a chat stream's events) is completed as the member whose definition the
  value carries, which is the member Strawberry's type resolver picks for it.

Every short path steps aside before doing any work, and leaves the field to graphql-core, whenever graphql-core
would do more than that: a null for a non-null field (the error and its propagation), a value of an unexpected
type, a scalar that does not serialize, directives on the field (`@stream`), deferred fragments, an object type
with `is_type_of`, or field middleware (a `resolve` hook).
"""

from __future__ import annotations

import operator
from asyncio import ensure_future, gather, get_running_loop
from dataclasses import dataclass
from types import CoroutineType
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    default_field_resolver,
    default_type_resolver,
    specified_scalar_types,
)
from graphql.error import GraphQLError
from graphql.execution.collect_fields import collect_fields
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined
from strawberry import ID
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryOptional
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE

from ragweave.schema.argument_values import ArgumentPlan, plan_arguments
from ragweave.schema.arguments import ArgumentConverters
from ragweave.schema.completion import (
    LeafField,
    ObjectField,
    TypeNameField,
    compile_completer,
    usable_attribute,
)
from ragweave.schema.prepared import PreparedOperation, prepare

_MISSING = object()
UNPLANNED = _MISSING  # `_SchemaPlans.direct_root` for an operation whose direct root was not worked out yet
_MAX_CACHED = 4096  # operations, field groups and grouped field sets kept across requests
_FALLBACK = object()  # "graphql-core completes this value"
NOT_PLAIN = _FALLBACK  # `SoleRoot.complete` for a value its completer cannot complete


@dataclass(frozen=True, slots=True)
class _Leaf:
    attribute: str
    serialize: Any
    non_null: bool


@dataclass(frozen=True, slots=True)
class _Shape:
    """An object type a value completes to: alone or as the items of a list, each maybe non-null."""

    return_type: GraphQLOutputType
    non_null: bool
    is_list: bool
    item_type: GraphQLOutputType  # the list's item type (with its non-null wrapper), or the object type
    item_non_null: bool
    object_type: GraphQLObjectType
    python_type: type
    record_type: type | None  # the type's `plain_record`: a direct run's completer takes it too (direct_root)
    carrier: type | None  # the type's `carrier`: carries its resolver fields named in `carrier.carries` (direct_root)


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A selection's generated completer. `needs_carrier`: it reads resolver fields of its own type from a carrier
    (`_Shape.carrier`), so it completes only carriers; `carried`: it, or a completer below it, does, so only a
    direct run's answer (`ragweave.schema.direct_root`) can be plain for it."""

    complete: Any
    needs_carrier: bool
    carried: bool

    def accepts(self, shape: _Shape) -> tuple[type, ...]:
        """The classes of the values of `shape` this completer completes."""
        if self.needs_carrier:
            return (shape.carrier,)
        return tuple(t for t in (shape.python_type, shape.record_type, shape.carrier) if t is not None)


@dataclass(frozen=True, slots=True)
class _LeafList:
    """A list of built-in scalars or enums read as an attribute: only the generated completers take it."""

    attribute: str
    serialize: Any
    non_null: bool
    item_non_null: bool


@dataclass(frozen=True, slots=True)
class _ObjectAttribute:
    attribute: str
    shape: _Shape


@dataclass(frozen=True, slots=True)
class _Resolver:
    """A Strawberry resolver called as Strawberry's wrapper would call it, minus the wrapper: arguments renamed
    (and, unless plain scalars, converted as Strawberry's `convert_argument` converts them: input objects, enums,
    lists), no field extensions (permissions are extensions), no exception handlers."""

    field_def: GraphQLField
    field: Any  # the StrawberryField
    call: Any  # the resolver's own function
    python_names: dict[str, str]  # GraphQL argument name -> parameter name
    converted: dict[str, Any]  # GraphQL argument name -> its converter (`ArgumentConverters`), for those converted
    unplanned: dict[str, Any]  # GraphQL argument name -> its StrawberryArgument, for those `convert_argument` converts
    pass_self: bool
    source_names: tuple[str, ...]  # `parent`/`root` parameters
    info_name: str | None
    info_class: Any


@dataclass(frozen=True, slots=True)
class _Event:
    """A subscription field whose resolver, for each event of the stream, returns the event (Strawberry's)."""

    field_def: GraphQLField


@dataclass(frozen=True, slots=True)
class SoleRoot:
    """A static query's only root field, resolved by a Strawberry resolver whose arguments are planned (or that
    takes none) and whose value is an object, or a list of objects, completed by a generated completer:
    `Executor.sole_plain_root`, for `ragweave.schema.direct_root`."""

    root_type: GraphQLObjectType
    name: str  # the response key
    details: Any  # the field's details list
    path: Path
    step: _Resolver
    plan: ArgumentPlan | None  # None for a field without arguments
    shape: _Shape
    completer: Any
    accepts: tuple[type, ...]  # the classes of values (or list items) the completer completes
    carried: bool  # the completer reads resolver fields from carriers (`_Compiled.carried`)
    info: Any  # the resolve info of the request that worked this out, with its per-request parts to replace
    info_at: int  # where the info's per-request variables, context and awaitable check are
    plans: _SchemaPlans

    def info_for(self, variable_values: dict[str, Any], context: Any, is_awaitable: Any) -> Any:
        """The resolve info of one request: the kept one with this request's variables, context and check (what
        `_replace` does, without its Python-level pass over every field)."""
        info, at = self.info, self.info_at
        return tuple.__new__(type(info), (*info[:at], variable_values, context, is_awaitable, *info[at + 3:]))

    def complete(self, value: Any) -> Any:
        """The value completed by the completer, or NOT_PLAIN where graphql-core's path must complete and report it
        (`Executor.answer_root`)."""
        shape, accepts = self.shape, self.accepts
        if value is None:
            return NOT_PLAIN if shape.non_null else None
        if not shape.is_list:
            if type(value) not in accepts:
                return NOT_PLAIN
            try:
                return self.completer(value)
            except Exception:
                return NOT_PLAIN
        if not _plain_items(shape, value, accepts):
            return NOT_PLAIN
        complete = self.completer
        try:
            return [None if item is None else complete(item) for item in value]
        except Exception:
            return NOT_PLAIN


class _TypeName:
    """The `__typename` meta field."""


_TYPENAME = _TypeName()
_Step = _Leaf | _LeafList | _ObjectAttribute | _Resolver | _Event | _TypeName | None
_PLAIN_ARGUMENTS = (int, str, float, bool, ID)


class _SchemaPlans:
    """What each field and return type of one schema allows, computed once per schema."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.steps: dict[tuple[str, str], _Step] = {}
        self.shapes: dict[GraphQLOutputType, _Shape | None] = {}
        self.unions: dict[GraphQLOutputType, dict[Any, GraphQLObjectType] | None] = {}
        strawberry_schema = getattr(schema, "_strawberry_schema", None)
        converter = getattr(strawberry_schema, "schema_converter", None)
        self.config = getattr(strawberry_schema, "config", None)
        self.scalar_registry = getattr(converter, "scalar_registry", None)
        self.resolvers_allowed = self.config is not None and not getattr(converter, "_exception_handler_specs", ())
        self.converters = ArgumentConverters(self.config, self.scalar_registry)
        # operation node -> (the node, whether its selections depend on nothing but the document)
        self.static_operations: dict[int, tuple[OperationDefinitionNode, bool]] = {}
        # static query operation node -> (the node, its root type and collected root fields, or None)
        self.query_roots: dict[int, tuple[OperationDefinitionNode, Any]] = {}
        # (object type, ids of the field nodes) -> (the nodes, their collected subfields), for static operations
        self.subfields: dict[tuple[GraphQLObjectType, tuple[int, ...]], tuple[tuple[FieldNode, ...], Any]] = {}
        # grouped field set (from `subfields`, so kept there) -> its steps
        self.steps_of_sets: dict[int, tuple[Any, list[tuple[str, Any, _Step]]]] = {}
        # grouped field set (from `subfields`) -> its generated completer (`ragweave.schema.completion`), or None
        self.completers: dict[int, tuple[Any, Any]] = {}
        # field node -> (the node, its definition, its argument plan or None)
        self.argument_plans: dict[int, tuple[FieldNode, GraphQLField, ArgumentPlan | None]] = {}
        # document -> (the document, {operation name: its prepared operation or None})
        self.prepared_operations: dict[int, tuple[DocumentNode, dict[str | None, PreparedOperation | None]]] = {}
        # prepared operation -> its direct root (`ragweave.schema.direct_root`), or None where it has none
        self.direct_roots: dict[int, tuple[PreparedOperation, Any]] = {}

    def prepared(self, schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
                 ) -> PreparedOperation | None:
        """The document's operation prepared once (`ragweave.schema.prepared`), or None."""
        by_name = _kept(self.prepared_operations, document)
        if by_name is _MISSING:
            by_name = _keep(self.prepared_operations, document, {})
        if operation_name not in by_name:
            by_name[operation_name] = prepare(schema, document, operation_name)
        return by_name[operation_name]

    def direct_root(self, prepared: PreparedOperation) -> Any:
        """The prepared operation's direct root kept by `keep_direct_root`, or UNPLANNED."""
        return _kept(self.direct_roots, prepared)

    def keep_direct_root(self, prepared: PreparedOperation, root: Any) -> None:
        _keep(self.direct_roots, prepared, root)

    def is_static(self, operation: OperationDefinitionNode, fragments: dict[str, Any]) -> bool:
        """Whether collecting this operation's fields depends on the document alone: no directives on its
        selections (`@skip`/`@include` read variables, `@defer` makes per-request usages) and no fragment
        variables. Then the fields collected below each field are the same for every request."""
        static = _kept(self.static_operations, operation)
        if static is not _MISSING:
            return static
        static = all(details.variable_signatures is None for details in fragments.values()) and _undirected(
            operation.selection_set, {name: details.definition for name, details in fragments.items()}, set())
        return _keep(self.static_operations, operation, static)

    def collected(self, return_type: GraphQLObjectType, nodes: tuple[FieldNode, ...]) -> Any:
        cached = self.subfields.get((return_type, tuple(map(id, nodes))))
        if cached is not None and len(cached[0]) == len(nodes) and all(map(operator.is_, cached[0], nodes)):
            return cached[1]
        return None

    def keep_collected(self, return_type: GraphQLObjectType, nodes: tuple[FieldNode, ...], collected: Any) -> None:
        if len(self.subfields) >= _MAX_CACHED:
            self.subfields.clear()
            self.steps_of_sets.clear()  # their grouped field sets are no longer kept alive
            self.completers.clear()
        self.subfields[(return_type, tuple(map(id, nodes)))] = (nodes, collected)

    def argument_plan(self, field_def: GraphQLField, node: FieldNode) -> ArgumentPlan | None:
        """The field node's argument plan (`ragweave.schema.argument_values`), or None."""
        cached = self.argument_plans.get(id(node))
        if cached is not None and cached[0] is node and cached[1] is field_def:
            return cached[2]
        plan = plan_arguments(field_def, node)
        if len(self.argument_plans) >= _MAX_CACHED:
            self.argument_plans.clear()
        self.argument_plans[id(node)] = (node, field_def, plan)
        return plan

    def step(self, parent_type: GraphQLObjectType, field_name: str) -> _Step:
        key = (parent_type.name, field_name)
        try:
            return self.steps[key]
        except KeyError:
            field_def = parent_type.fields.get(field_name)
            if field_def is not None:
                step = _step(self, field_def)
            else:
                step = _TYPENAME if field_name == "__typename" else None
            self.steps[key] = step
            return step

    def shape(self, return_type: GraphQLOutputType) -> _Shape | None:
        try:
            return self.shapes[return_type]
        except KeyError:
            shape = self.shapes[return_type] = _shape(return_type)
            return shape

    def union_members(self, return_type: GraphQLOutputType) -> dict[Any, GraphQLObjectType] | None:
        """For a (non-null) Strawberry union: each member's Strawberry definition -> the member."""
        try:
            return self.unions[return_type]
        except KeyError:
            members = self.unions[return_type] = _union_members(return_type)
            return members


def _step(plans: _SchemaPlans, field_def: GraphQLField) -> _Step:
    definition = field_def.extensions.get("strawberry-definition")
    if definition is None:
        return None
    if definition.is_subscription and field_def.subscribe is not None and _passes_events(field_def.resolve):
        return _Event(field_def)
    if not getattr(field_def.resolve, "_is_default", False):
        return _resolver(plans, field_def, definition) if plans.resolvers_allowed else None
    if field_def.args:
        return None
    return _attribute(plans, field_def, definition.python_name)


def _attribute(
    plans: _SchemaPlans, field_def: GraphQLField, attribute: str
) -> _Leaf | _LeafList | _ObjectAttribute | None:
    """The field read as `attribute` of its parent: an object (or list of them), a built-in scalar or an enum (or a
    list of them)."""
    shape = plans.shape(field_def.type)
    if shape is not None:
        return _ObjectAttribute(attribute, shape)
    field_type, non_null = _unwrapped(field_def.type)
    if isinstance(field_type, GraphQLList):
        item_type, item_non_null = _unwrapped(field_type.of_type)
        return _LeafList(attribute, item_type.serialize, non_null, item_non_null) if _is_leaf(item_type) else None
    return _Leaf(attribute, field_type.serialize, non_null) if _is_leaf(field_type) else None


def _unwrapped(field_type: GraphQLOutputType) -> tuple[GraphQLOutputType, bool]:
    non_null = isinstance(field_type, GraphQLNonNull)
    return (field_type.of_type if non_null else field_type), non_null


def _is_leaf(field_type: GraphQLOutputType) -> bool:
    """A built-in scalar or an enum: serialized by the type's own `serialize`."""
    built_in = isinstance(field_type, GraphQLScalarType) and field_type.name in specified_scalar_types
    return built_in or isinstance(field_type, GraphQLEnumType)


def _passes_events(resolve: Any) -> bool:
    """Whether a subscription field's resolver is the one Strawberry gives it, `lambda event, *_, **__: event`."""
    code = getattr(resolve, "__code__", None)
    return code is not None and code.co_name == "<lambda>" and resolve(_MISSING) is _MISSING


def _resolver(plans: _SchemaPlans, field_def: GraphQLField, field: Any) -> _Resolver | None:
    resolver = field.base_resolver
    if resolver is None or field.extensions or field.is_subscription:
        return None
    names, converted, unplanned = {}, {}, {}
    for argument in field.arguments:
        name = plans.config.name_converter.from_argument(argument)
        names[name] = argument.python_name
        plain = argument.type.of_type if type(argument.type) is StrawberryOptional else argument.type
        if plain not in _PLAIN_ARGUMENTS:
            converter = plans.converters.for_type(argument.type)
            if converter is None:
                unplanned[name] = argument
            else:
                converted[name] = converter
    sources = tuple(p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p is not None)
    info = resolver.info_parameter
    return _Resolver(
        field_def, field, resolver.wrapped_func, names, converted, unplanned, resolver.self_parameter is not None,
        sources, info.name if info is not None else None, plans.config.info_class,
    )


def _shape(return_type: GraphQLOutputType) -> _Shape | None:
    non_null = isinstance(return_type, GraphQLNonNull)
    inner = return_type.of_type if non_null else return_type
    is_list = isinstance(inner, GraphQLList)
    item_type = inner.of_type if is_list else inner
    item_non_null = isinstance(item_type, GraphQLNonNull)
    object_type = item_type.of_type if item_non_null else item_type
    if not isinstance(object_type, GraphQLObjectType) or object_type.is_type_of is not None:
        return None
    definition = object_type.extensions.get("strawberry-definition")
    python_type = getattr(definition, "origin", None)
    if not isinstance(python_type, type):
        return None
    return _Shape(return_type, non_null, is_list, item_type, item_non_null, object_type, python_type,
                  getattr(python_type, "plain_record", None), getattr(python_type, "carrier", None))


def _union_members(return_type: GraphQLOutputType) -> dict[Any, GraphQLObjectType] | None:
    """Strawberry's union type resolver answers, for a value that is not `strawberry.cast`, the first member
    whose definition `is_implemented_by` the value: the member whose definition is the value's own, since no
    member can be another's generic specialization. Members with `is_type_of` are left out (graphql-core checks
    it), and so are unions with a type resolver of their own."""
    union = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    if not isinstance(union, GraphQLUnionType):
        return None
    resolver = getattr(union.resolve_type, "__qualname__", "")
    if not resolver.startswith("StrawberryUnion.get_type_resolver."):
        return None
    members = {}
    for member in union.types:
        definition = member.extensions.get("strawberry-definition")
        if definition is not None and member.is_type_of is None:
            members[definition] = member
    return members


def _undirected(selection_set: SelectionSetNode | None, fragments: dict[str, Any], seen: set[str]) -> bool:
    for selection in selection_set.selections if selection_set is not None else ():
        if selection.directives:
            return False
        if isinstance(selection, FieldNode | InlineFragmentNode):
            if not _undirected(selection.selection_set, fragments, seen):
                return False
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is not None and not _undirected(fragment.selection_set, fragments, seen):
                return False
    return True


_plans_by_schema: WeakKeyDictionary[GraphQLSchema, _SchemaPlans] = WeakKeyDictionary()


def plans_of(schema: GraphQLSchema) -> _SchemaPlans:
    plans = _plans_by_schema.get(schema)
    if plans is None:
        plans = _plans_by_schema[schema] = _SchemaPlans(schema)
    return plans


class Executor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schema_plans = plans = plans_of(self.schema)
        middleware = self.middleware_manager  # Strawberry always passes one; it matters only when it has hooks
        self._short_paths = middleware is None or not middleware.middlewares
        # grouped field set -> its steps; the set is kept with its steps so that its id cannot be reused while
        # they are. Below the root of a static operation across requests (its grouped field sets are kept in the
        # plans), else for this request.
        self._static = self._short_paths and plans.is_static(self.operation, self.fragments)
        self._request_steps: dict[int, tuple[Any, list[tuple[str, Any, _Step]]]] = {}
        self._steps = plans.steps_of_sets if self._static else self._request_steps
        # a stream's (root type, grouped field set), or None where graphql-core collects per event; decided at the
        # stream's first event (`build_per_event_executor`), _MISSING until then
        self._event_root: Any = _MISSING

    @classmethod
    def from_prepared(cls, schema: GraphQLSchema, prepared: PreparedOperation, context: Any, variable_values: Any,
                      is_awaitable: Any) -> Executor:
        """What `build` makes for a prepared operation (`ragweave.schema.prepared`) and its coerced variables,
        without root value or middleware, as graphql-core's `execute` asks for it."""
        return cls(schema, prepared.fragment_definitions, prepared.fragments, None, context, prepared.operation,
                   variable_values, default_field_resolver, default_type_resolver, default_field_resolver,
                   is_awaitable=is_awaitable, operation_extensions=None)

    def collect_subfields(self, return_type: GraphQLObjectType, field_details_list: Any) -> Any:
        """graphql-core's, which collects again for every request, kept across requests for a static operation
        (`_SchemaPlans.is_static`): the same field nodes below the same type give the same fields."""
        if not self._static:
            return super().collect_subfields(return_type, field_details_list)
        this_request, key = self._relevant_sub_fields, (return_type, id(field_details_list))
        cached = this_request.get(key)
        if cached is not None:
            return cached[1]
        nodes = tuple(details.node for details in field_details_list)
        plans = self._schema_plans
        collected = plans.collected(return_type, nodes)
        if collected is None:
            collected = super().collect_subfields(return_type, field_details_list)
            plans.keep_collected(return_type, nodes, collected)
        this_request[key] = (field_details_list, collected)
        return collected

    def build_per_event_executor(self, payload: Any) -> Executor:
        """graphql-core's (a shallow copy with the event as root value and errors of its own), copied without
        `copy.copy`'s generic reduce protocol: once per subscription event."""
        if self._event_root is _MISSING:
            self._event_root = self._collected_root() if self._short_paths and self.abort_signal is None else None
        executor = object.__new__(type(self))
        executor.__dict__.update(self.__dict__)
        executor.root_value = payload
        executor.collected_errors = type(self.collected_errors)()
        return executor

    def _query_root(self) -> tuple[GraphQLObjectType, Any] | None:
        """A static query's root type and collected root fields, collected for its first request and kept."""
        if not self._static or self.abort_signal is not None:
            return None
        roots = self._schema_plans.query_roots
        root = _kept(roots, self.operation)
        return _keep(roots, self.operation, self._collected_root()) if root is _MISSING else root

    def _collected_root(self) -> tuple[GraphQLObjectType, Any] | None:
        """The root type and grouped field set graphql-core's `execute_operation` collects for each event, or
        None where it would do more than collect (an error, deferred fragments): then it runs for each event."""
        root_type = self.schema.get_root_type(self.operation.operation)
        if root_type is None:
            return None
        try:
            grouped_field_set, new_defer_usages, _ = collect_fields(
                self.schema, self.fragments, self.variable_values, root_type, self.operation, self.hide_suggestions
            )
        except (GraphQLError, RecursionError):
            return None
        return None if new_defer_usages else (root_type, grouped_field_set)

    def execute_operation(self, serially: bool | None = None) -> Any:
        """graphql-core's, for one event of a stream whose root was collected (`build_per_event_executor`) and for
        a static query, whose root is collected once and kept: the root's fields are executed at once, with the
        same error handling."""
        root = self._event_root
        if root is _MISSING and serially is None and self.operation.operation is OperationType.QUERY:
            root = self._query_root()
        if root is None or root is _MISSING or serially:
            return super().execute_operation(serially)
        try:
            data = self.execute_fields(root[0], self.root_value, None, root[1], None)
        except GraphQLError as error:
            self.collected_errors.add(error, None)
            return self.build_response(None)
        if self.is_awaitable(data):
            return self._event_response(data)
        return self.build_response(data)

    async def _event_response(self, data: Any) -> Any:
        try:
            completed = await data
        except GraphQLError as error:
            self.collected_errors.add(error, None)
            return self.build_response(None)
        except Exception:
            await self.cancel_incremental_work()
            self.run_async_work_finished_hook()
            raise
        return self.build_response(completed)

    def build_response(self, data: dict[str, Any] | None) -> Any:
        response = super().build_response(data)
        # graphql-core's helpers object holds bound methods of this executor: drop the cycle once the answer is
        # built, so the executor, the request's context and its answer are freed at once, not by a full GC
        self.async_helpers = None  # type: ignore[assignment]
        return response

    def sole_plain_root(self) -> SoleRoot | None:
        """This operation's root field, when the operation is a static query of that one field, resolved by a
        Strawberry resolver with planned arguments and completed by a generated completer (`SoleRoot`); else None.
        """
        if self.operation.operation is not OperationType.QUERY or self.root_value is not None:
            return None
        root = self._query_root()
        if root is None or len(root[1]) != 1:
            return None
        root_type, grouped_field_set = root
        ((name, details, step),) = self._steps_of(root_type, grouped_field_set, None)
        if type(step) is not _Resolver or details[0].fragment_variable_values is not None:
            return None
        plans, field_def = self._schema_plans, step.field_def
        plan = plans.argument_plan(field_def, details[0].node) if field_def.args else None
        shape = plans.shape(field_def.type)
        if (field_def.args and plan is None) or shape is None:
            return None
        below, deferred, _ = self.collect_subfields(shape.object_type, details)
        compiled = None if deferred else self._compiled(shape.object_type, below)
        if compiled is None:
            return None
        path = Path(None, name, root_type.name)
        info = self.build_resolve_info(field_def, [d.node for d in details], root_type, path)._replace(
            variable_values=None, context=None, async_helpers=None)  # this request's, not to be kept
        fields = type(info)._fields
        at = fields.index("variable_values")
        if fields[at:at + 3] != ("variable_values", "context", "is_awaitable"):
            return None
        return SoleRoot(root_type, name, details, path, step, plan, shape, compiled.complete, compiled.accepts(shape),
                        compiled.carried, info, at, plans)

    def answer_root(self, root: SoleRoot, outcome: Any, *, raised: bool) -> Any:
        """The response `execute_operation` gives once the root field's resolver has returned `outcome` (or raised
        it): the value completed, errors located and propagated, for a direct run that stepped aside."""
        field_def, details, path = root.step.field_def, root.details, root.path
        try:
            if raised:
                self.handle_field_error(outcome, field_def.type, details, path)
                return self.build_response({root.name: None})
            info = self.build_resolve_info(field_def, [d.node for d in details], root.root_type, path)
            data = {root.name: self._completed(field_def.type, details, info, path, outcome)}
        except GraphQLError as error:
            self.collected_errors.add(error, None)
            return self.build_response(None)
        if self.is_awaitable(data[root.name]):
            return self._event_response(_filled(data, [root.name]))
        return self.build_response(data)

    def _steps_of(
        self, parent_type: GraphQLObjectType, grouped_field_set: Any, path: Path | None
    ) -> list[tuple[str, Any, _Step]]:
        table = self._steps if path is not None else self._request_steps  # the root's set is collected per request
        steps = _kept(table, grouped_field_set)
        if steps is not _MISSING:
            return steps
        plans = self._schema_plans
        steps = [
            (name, details, None if _directed(details) else plans.step(parent_type, details[0].node.name.value))
            for name, details in grouped_field_set.items()
        ]
        return _keep(table, grouped_field_set, steps)

    def _completer(self, object_type: GraphQLObjectType, grouped_field_set: Any) -> Any:
        """The generated completer (`ragweave.schema.completion`) of a selection kept across requests, or None
        where one of its fields is more than a plain attribute of the values graphql-core's path completes (a
        carried resolver field is not: only a direct run's answer carries it)."""
        compiled = self._compiled(object_type, grouped_field_set)
        return None if compiled is None or compiled.carried else compiled.complete

    def _compiled(self, object_type: GraphQLObjectType, grouped_field_set: Any) -> _Compiled | None:
        """The selection's generated completer, or None where one of its fields is more than a plain attribute or
        a resolver field its type's carrier carries."""
        if not self._static:
            return None
        completers = self._schema_plans.completers
        compiled = _kept(completers, grouped_field_set)
        if compiled is _MISSING:
            compiled = _keep(completers, grouped_field_set, self._compile(object_type, grouped_field_set))
        return compiled

    def _compile(self, object_type: GraphQLObjectType, grouped_field_set: Any) -> _Compiled | None:
        plans, fields, needs_carrier, carried = self._schema_plans, [], False, False
        carrier = getattr(plans.shape(object_type), "carrier", None)
        for key, details in grouped_field_set.items():
            if _directed(details):
                return None
            step = plans.step(object_type, details[0].node.name.value)
            kind = type(step)
            if kind is _Resolver and carrier is not None and not step.field_def.args:
                name = step.field.python_name
                step = _attribute(plans, step.field_def, name) if name in carrier.carries else None
                kind, needs_carrier = type(step), True
            if kind is _TypeName:
                fields.append(TypeNameField(key, object_type.name))
            elif kind is _Leaf and usable_attribute(step.attribute):
                fields.append(LeafField(key, step.attribute, step.serialize, step.non_null))
            elif kind is _LeafList and usable_attribute(step.attribute):
                fields.append(LeafField(key, step.attribute, step.serialize, step.non_null, is_list=True,
                                        item_non_null=step.item_non_null))
            elif kind is _ObjectAttribute and usable_attribute(step.attribute):
                shape = step.shape
                below, deferred, _ = self.collect_subfields(shape.object_type, details)
                compiled = None if deferred else self._compiled(shape.object_type, below)
                if compiled is None:
                    return None
                fields.append(ObjectField(key, step.attribute, shape.non_null, shape.is_list, shape.item_non_null,
                                          compiled.accepts(shape), compiled.complete))
                carried = carried or compiled.carried
            else:
                return None
        return _Compiled(compile_completer(fields), needs_carrier, carried or needs_carrier)

    def execute_fields(
        self, parent_type: GraphQLObjectType, source: Any, path: Path | None, grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        if position_context is not None or not self._short_paths:
            return super().execute_fields(parent_type, source, path, grouped_field_set, position_context)
        results: dict[str, Any] = {}
        awaiting: list[str] = []
        is_awaitable = self.is_awaitable
        type_name = parent_type.name
        try:
            for name, details, step in self._steps_of(parent_type, grouped_field_set, path):
                kind = type(step)
                if kind is _Leaf:
                    value = getattr(source, step.attribute, _MISSING)
                    if value is None and not step.non_null:
                        results[name] = None
                        continue
                    if value is not None and value is not _MISSING:
                        try:
                            serialized = step.serialize(value)
                        except Exception:  # the full path reports it
                            serialized = None
                        if serialized is not None and serialized is not Undefined:
                            results[name] = serialized
                            continue
                    result = _FALLBACK
                elif kind is _ObjectAttribute:
                    value = getattr(source, step.attribute, _MISSING)
                    result = _FALLBACK if value is _MISSING else self._complete_field(
                        step.shape, details, Path(path, name, type_name), value
                    )
                elif kind is _Resolver:
                    result = self._resolve(step, parent_type, source, details, Path(path, name, type_name))
                elif kind is _Event:
                    result = self._event(step, parent_type, source, details, Path(path, name, type_name))
                elif kind is _TypeName:
                    results[name] = type_name
                    continue
                else:
                    result = _FALLBACK
                if result is _FALLBACK:
                    result = self.execute_field(parent_type, source, details, Path(path, name, type_name), None)
                    if result is Undefined:
                        continue
                results[name] = result
                if is_awaitable(result):
                    awaiting.append(name)
        except Exception:
            if awaiting:  # settle the other fields' awaitables, as graphql-core does
                self.settle_in_background([results[name] for name in awaiting])
            raise
        if not awaiting:
            return results
        return _filled(results, awaiting)

    def execute_field(
        self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any, path: Path, position_context: Any,
    ) -> Any:
        """graphql-core's, with a Strawberry resolver called on the short path: for the fields `execute_fields`
        does not see, the root fields of a mutation (graphql-core runs them one after the other)."""
        if position_context is None and self._short_paths and not _directed(field_details_list):
            step = self._schema_plans.step(parent_type, field_details_list[0].node.name.value)
            if type(step) is _Resolver:
                return self._resolve(step, parent_type, source, field_details_list, path)
            if type(step) is _Event:
                return self._event(step, parent_type, source, field_details_list, path)
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _resolve(self, step: _Resolver, parent_type: GraphQLObjectType, source: Any, details: Any, path: Path) -> Any:
        """graphql-core's `execute_field` with Strawberry's resolver wrapper done inline."""
        field_def, first = step.field_def, details[0]
        return_type = field_def.type
        info = self.build_resolve_info(field_def, [d.node for d in details], parent_type, path)
        try:
            arguments = None
            if field_def.args and first.fragment_variable_values is None:
                plan = self._schema_plans.argument_plan(field_def, first.node)
                arguments = None if plan is None else plan.values(self.variable_values)
            if arguments is None:
                arguments = get_argument_values(
                    field_def, first.node, self.variable_values, first.fragment_variable_values,
                    self.hide_suggestions,
                ) if field_def.args else {}
            result = resolver_call(step, self._schema_plans, arguments, source, info)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, details, path)
            return None
        return self._completed(return_type, details, info, path, result)

    def _event(self, step: _Event, parent_type: GraphQLObjectType, source: Any, details: Any, path: Path) -> Any:
        """graphql-core's `execute_field` for one event of a subscription: the event is the field's value."""
        info = self.build_resolve_info(step.field_def, [d.node for d in details], parent_type, path)
        return self._completed(step.field_def.type, details, info, path, source)

    def _completed(self, return_type: GraphQLOutputType, details: Any, info: Any, path: Path, result: Any) -> Any:
        """A field's value completed as graphql-core's `execute_field` completes what its resolver returned."""
        try:
            if self.is_awaitable(result):
                return self.complete_awaitable_value(return_type, details, info, path, result, None)
            completed = self.complete_value(return_type, details, info, path, result, None)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, details, path)
            return None
        if self.is_awaitable(completed):
            return self._awaited(completed, return_type, details, path)
        return completed

    def complete_value(
        self, return_type: GraphQLOutputType, field_details_list: Any, info: Any, path: Path, result: Any,
        position_context: Any,
    ) -> Any:
        if position_context is None and self._short_paths:
            plans = self._schema_plans
            shape = plans.shape(return_type)
            if shape is not None:
                completed = self._complete_shape(shape, field_details_list, path, result)
                if completed is not _FALLBACK:
                    return completed
            else:
                members = plans.union_members(return_type)
                if members is not None and result is not None and not hasattr(result, TYPE_CAST_ATTRIBUTE):
                    member = members.get(getattr(result, "__strawberry_definition__", None))
                    if member is not None:
                        return self._complete_object(member, field_details_list, path, result)
        return super().complete_value(return_type, field_details_list, info, path, result, position_context)

    def _complete_field(self, shape: _Shape, details: Any, path: Path, value: Any) -> Any:
        """An attribute's object value, with the error handling graphql-core's `execute_field` gives a field."""
        try:
            completed = self._complete_shape(shape, details, path, value)
        except Exception as raw_error:
            self.handle_field_error(raw_error, shape.return_type, details, path)
            return None
        if completed is not _FALLBACK and self.is_awaitable(completed):
            return self._awaited(completed, shape.return_type, details, path)
        return completed

    async def _awaited(self, completed: Any, field_type: GraphQLOutputType, details: Any, path: Path) -> Any:
        """A field's or a list item's value once awaited; a failure handled as graphql-core handles it there."""
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, field_type, details, path)
            return None

    def _complete_shape(self, shape: _Shape, details: Any, path: Path, value: Any) -> Any:
        if value is None:
            return _FALLBACK if shape.non_null else None
        if not shape.is_list:
            if type(value) is not shape.python_type:
                return _FALLBACK
            return self._complete_object(shape.object_type, details, path, value)
        if not _plain_items(shape, value, (shape.python_type,)):
            return _FALLBACK
        object_type, item_type = shape.object_type, shape.item_type
        collected = self.collect_subfields(object_type, details)
        if collected[1]:  # deferred fragments
            return _FALLBACK
        grouped_field_set, is_awaitable = collected[0], self.is_awaitable
        complete = self._completer(object_type, grouped_field_set)
        if complete is not None:
            try:
                return [None if item is None else complete(item) for item in value]
            except Exception:  # a value that is not plain: the loop below completes the list and reports it
                pass
        completed: list[Any] = []
        awaiting: list[int] = []
        try:
            for index, item in enumerate(value):
                if item is None:
                    completed.append(None)
                    continue
                item_path = Path(path, index, None)
                try:
                    result = self.execute_fields(object_type, item, item_path, grouped_field_set, None)
                except Exception as raw_error:
                    self.handle_field_error(raw_error, item_type, details, item_path)  # raises for a non-null item
                    result = None
                else:
                    if is_awaitable(result):
                        result = self._awaited(result, item_type, details, item_path)
                        awaiting.append(index)
                completed.append(result)
        except Exception:
            if awaiting:
                self.settle_in_background([completed[index] for index in awaiting])
            raise
        if not awaiting:
            return completed
        return _filled(completed, awaiting)

    def _complete_object(self, object_type: GraphQLObjectType, details: Any, path: Path, value: Any) -> Any:
        grouped_field_set, deferred, _ = self.collect_subfields(object_type, details)
        if deferred:
            return self.collect_and_execute_subfields(object_type, details, path, value, None)
        complete = self._completer(object_type, grouped_field_set)
        if complete is not None:
            try:
                return complete(value)
            except Exception:  # a value that is not plain: `execute_fields` completes it and reports it
                pass
        return self.execute_fields(object_type, value, path, grouped_field_set, None)


def resolver_call(step: _Resolver, plans: _SchemaPlans, arguments: dict[str, Any], source: Any, info: Any) -> Any:
    """What the resolver returns (maybe an awaitable), called with the arguments as Strawberry's wrapper passes
    them: renamed, converted where not plain scalars, with the source and Strawberry's Info where it takes them."""
    names, converted, unplanned = step.python_names, step.converted, step.unplanned
    # Strawberry's Info, built only when the resolver takes it or `convert_argument` converts an argument
    needs_info = step.info_name is not None or (unplanned and any(name in unplanned for name in arguments))
    strawberry_info = step.info_class(_raw_info=info, _field=step.field) if needs_info else None
    kwargs = {}
    for name, value in arguments.items():
        convert = converted.get(name)
        if convert is not None:
            value = convert(value)
        elif name in unplanned:
            value = convert_argument(
                value=value, type_=unplanned[name].type, config=plans.config,
                scalar_registry=plans.scalar_registry, info=strawberry_info, path=(name,),
            )
        kwargs[names[name]] = value
    for name in step.source_names:
        kwargs[name] = source
    if step.info_name is not None:
        kwargs[step.info_name] = strawberry_info
    return step.call(source, **kwargs) if step.pass_self else step.call(**kwargs)


def _plain_items(shape: _Shape, value: Any, accepts: tuple[type, ...]) -> bool:
    """Whether a list shape's value is a list or tuple of objects of the `accepts` classes (None where items may
    be)."""
    if type(value) is not list and type(value) is not tuple:
        return False
    item_non_null = shape.item_non_null
    for item in value:
        if type(item) not in accepts and (item is not None or item_non_null):
            return False
    return True


def _kept(table: dict[int, tuple[Any, Any]], key: Any) -> Any:
    """The value `_keep` kept in `table` for `key` (by identity), or _MISSING."""
    kept = table.get(id(key))
    return kept[1] if kept is not None and kept[0] is key else _MISSING


def _keep(table: dict[int, tuple[Any, Any]], key: Any, value: Any) -> Any:
    """Keep `value` for `key` by its identity, with `key` itself, so that its id cannot be reused while the entry
    lasts; a full table (_MAX_CACHED entries) starts over."""
    if len(table) >= _MAX_CACHED:
        table.clear()
    table[id(key)] = (key, value)
    return value


def _directed(details: Any) -> bool:
    """A field with directives of its own left after collection (e.g. `@stream`): graphql-core's to handle."""
    return any(d.node.directives for d in details)


async def _filled(container: Any, keys: list[Any]) -> Any:
    """The dict of an object's fields or the list of a list's items, with the awaitables at `keys` awaited."""
    if len(keys) == 1:
        container[keys[0]] = await container[keys[0]]
    else:
        for key, value in zip(keys, await _all([container[key] for key in keys]), strict=True):
            container[key] = value
    return container


async def _all(awaitables: list[Any]) -> list[Any]:
    """graphql-core's `gather_with_cancel` without `asyncio.gather`'s bookkeeping: the tasks all start at once (so
    their DataLoader loads share a batch) and are awaited in order; the first failure cancels the rest."""
    create_task = get_running_loop().create_task
    tasks = [create_task(a) if type(a) is CoroutineType else ensure_future(a) for a in awaitables]
    try:
        return [await task for task in tasks]
    except BaseException:
        for task in tasks:
            task.cancel()
        await gather(*tasks, return_exceptions=True)
        raise
