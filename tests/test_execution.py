"""The executor's short paths (plain attributes, object and list completion) answer exactly what graphql-core's
full path answers: data, errors, error paths and null propagation."""

from __future__ import annotations

import asyncio
import enum
import functools
from pathlib import Path

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from ragweave.schema import execution
from ragweave.schema.documents import DocumentCache, Documents
from tests.graphql import execute
from tests.test_query_api import demo  # noqa: F401  (the fixture)

ROOT = Path(__file__).parent.parent
DOCS = (ROOT / "docs" / "frontend-operations.graphql").read_text()
PERF = (ROOT / "perf" / "operations.graphql").read_text()
QUERIES = [
    (DOCS, "SearchBox", {"text": "harbour dashboard"}),
    (DOCS, "CitationsPanel", {"question": "Who leads the Platform Team?"}),
    (DOCS, "EntityPage", {"id": "person:priya-nandan"}),
    (DOCS, "EntityIndex", {"after": None}),
    (PERF, "Deep", {"q": "Who leads the Platform Team?", "k": 20}),
    (PERF, "RetrieveWithEntities", {"q": "harbour dashboard", "k": 5}),
]


@pytest.fixture
def full_path_only(monkeypatch):
    def use_full_path() -> None:
        for method in ("execute_fields", "execute_field", "complete_value", "collect_subfields", "execute_operation"):
            monkeypatch.setattr(execution.Executor, method, getattr(StrawberryGraphQLCoreExecutionContext, method))

    return use_full_path


@pytest.mark.parametrize(("document", "operation", "variables"), QUERIES, ids=[q[1] for q in QUERIES])
async def test_the_demo_operations_answer_the_same_on_both_paths(
    datasources, demo, full_path_only, document, operation, variables  # noqa: F811
):
    short = await execute(datasources, document, variables, tenant=demo, operation=operation)
    assert any(step for plans in execution._plans_by_schema.values() for step in plans.steps.values())
    full_path_only()
    full = await execute(datasources, document, variables, tenant=demo, operation=operation)
    assert untimed(short.ok()) == untimed(full.ok())


def untimed(value: object) -> object:
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k != "queryTimeMs"}
    return [untimed(v) for v in value] if isinstance(value, list) else value


class Colour(enum.Enum):
    RED = "red"


@strawberry.type
class Item:
    name: str
    note: str | None
    colour: Colour
    count: int


@strawberry.type
class Tagged:
    tags: list[str]
    marks: list[Colour | None] | None
    scores: list[float]


@strawberry.type
class Query:
    @strawberry.field
    def tagged(self) -> list[Tagged]:
        return [Tagged(tags=["a", "b"], marks=[Colour.RED, None], scores=[1.0, 2]),  # type: ignore[list-item]
                Tagged(tags=[], marks=None, scores=[])]

    @strawberry.field
    def mistagged(self) -> list[Tagged | None]:
        return [Tagged(tags=["a", None], marks=[], scores=[]),  # type: ignore[list-item]
                Tagged(tags=["x"], marks=["green"], scores=[float("inf")])]  # type: ignore[list-item]

    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(name="a", note=None, colour=Colour.RED, count=1),
                Item(name=None, note="n", colour=Colour.RED, count=2)]  # type: ignore[arg-type]

    @strawberry.field
    def odd(self) -> list[Item | None]:
        return [Item(name="b", note=None, colour=Colour.RED, count="many")]  # type: ignore[arg-type]


class ResolveHook(SchemaExtension):
    seen: list[str] = []

    def resolve(self, _next, root, info, *args, **kwargs):
        ResolveHook.seen.append(info.field_name)
        return _next(root, info, *args, **kwargs)


def run(query: str, *extensions: type[SchemaExtension]) -> tuple[object, list[str]]:
    schema = strawberry.Schema(Query, execution_context_class=execution.Executor, extensions=list(extensions))
    result = schema.execute_sync(query)
    return result.data, [f"{e.path}: {e.message}" for e in result.errors or []]


@pytest.mark.parametrize("query", ["{ items { name note colour count } }", "{ odd { name count } }",
                                   "{ tagged { tags marks scores } }", "{ mistagged { tags } }",
                                   "{ mistagged { marks } }", "{ mistagged { scores } }"])
def test_nulls_errors_and_enums_match_graphql_core(query, full_path_only):
    short = run(query)
    full_path_only()
    assert short == run(query)


def test_a_resolve_hook_sees_every_field():
    ResolveHook.seen = []
    data, errors = run("{ odd { name colour } }", ResolveHook)
    assert data == {"odd": [{"name": "b", "colour": "RED"}]} and not errors
    assert ResolveHook.seen == ["odd", "name", "colour"]


@strawberry.type
class Leaf:
    label: str


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Person(Named):
    age: int


@strawberry.type
class Node:
    id: str
    leaf: Leaf
    maybe_leaf: Leaf | None
    leaves: list[Leaf]
    sparse: list[Leaf | None]
    required: list[Leaf]
    children: list[Node]

    @strawberry.field
    async def later(self, info: strawberry.Info, fail: bool = False, extra_label: str | None = None) -> Leaf:
        if fail:
            raise ValueError(f"later failed on {self.id}")
        return Leaf(label=f"{info.field_name}-{self.id}-{extra_label}-{info.path.as_list()}")

    @strawberry.field
    async def later_list(self) -> list[Node]:
        return list(self.children)

    @strawberry.field
    def owner(self) -> Named:
        return Person(name=f"owner-{self.id}", age=3)


def _node(ident: str, depth: int = 0, *, broken: bool = False) -> Node:
    return Node(
        id=ident, leaf=None if broken else Leaf(label=f"leaf-{ident}"), maybe_leaf=None,  # type: ignore[arg-type]
        leaves=[Leaf(label=f"{ident}-{n}") for n in range(3)], sparse=[Leaf(label="s"), None],
        required=[Leaf(label="r"), None] if broken else [Leaf(label="r")],  # type: ignore[list-item]
        children=tuple(_node(f"{ident}.{n}", depth + 1, broken=broken and n == 1) for n in range(2 * (depth < 2))),
    )


@strawberry.enum
class Order(enum.Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.input
class LeafFilter:
    prefix: str = ""
    order: Order = Order.ASC
    limit: int | None = None


@strawberry.type
class Tree:
    @strawberry.field
    async def picked(self, info: strawberry.Info, filter: LeafFilter | None = None, orders: list[Order] | None = None,
                     extra: list[LeafFilter] | None = None) -> list[Leaf]:
        return [Leaf(label=f"{filter!r} {orders!r} {extra!r} {info.field_name}")]

    @strawberry.field
    async def nodes(self, broken: bool = False) -> list[Node]:
        return [_node("a"), _node("b", broken=broken)]

    @strawberry.field
    def node(self) -> Node | None:
        return _node("c", broken=True)

    @strawberry.field
    def strict_nodes(self) -> list[Node] | None:
        return [_node("d"), _node("e", broken=True)]


@strawberry.type
class TreeMutation:
    @strawberry.mutation
    async def rename(self, info: strawberry.Info, filter: LeafFilter, fail: bool = False) -> Leaf | None:
        if fail:
            raise ValueError(f"rename failed at {info.path.as_list()}")
        return Leaf(label=f"{filter!r} {info.path.as_list()}")

    @strawberry.mutation
    def grow(self, count: int = 1) -> list[Node]:
        return [_node(f"g{n}") for n in range(count)]


TREE_QUERIES = [
    "{ nodes { id leaf { label } maybeLeaf { label } leaves { label } sparse { label }"
    " children { id leaf { label } } } }",
    "{ nodes(broken: true) { id children { id children { id leaf { label } } } } }",
    "{ nodes(broken: true) { id required { label } } }",
    "{ node { id leaf { label } } }",
    "{ node { id maybeLeaf { label } children { id } } }",
    "{ strictNodes { id children { leaf { label } } } }",
    "{ nodes { id later { label } a: later(fail: false, extraLabel: \"x\") { label } children { later { label } } } }",
    "query($label: String) { nodes { later(extraLabel: $label) { label } } }",
    "{ nodes { id children { later(fail: true) { label } } } }",
    "{ nodes { laterList { id laterList { id leaf { label } later { label } } } } }",
    "{ nodes { owner { name ... on Person { age } __typename } } }",
    "{ nodes { __typename leaf { __typename label } x: leaf { label } leaf { l2: label } } }",
    "fragment F on Node { id leaves { label } } { nodes { ...F children { ...F ... on Node { leaf { label } } } } }",
    "query($yes: Boolean!, $no: Boolean!) { nodes { id @include(if: $yes) leaf @skip(if: $no) { label }"
    " leaves @include(if: $no) { label } children { id @skip(if: $yes) } } }",
    "{ picked { label } }",
    "{ picked(filter: {prefix: \"a\", order: DESC}, orders: [ASC, DESC], extra: [{limit: 3}, {}]) { label } }",
    "query($filter: LeafFilter, $order: Order!) { picked(filter: $filter, orders: [$order]) { label } }",
    "mutation($filter: LeafFilter!) { a: rename(filter: {prefix: \"p\"}) { label } b: rename(filter: {}, fail: true)"
    " { label } grow(count: 2) { id leaf { label } } c: rename(filter: $filter) { label } }",
]


@functools.cache
def tree_schema() -> strawberry.Schema:
    """One schema with ragweave's document cache, so a query's second run finds what the executor keeps across
    requests (the fields collected below each field, their steps)."""
    documents = Documents(max_tokens=10_000, extra_rules=[])
    return strawberry.Schema(Tree, TreeMutation, types=[Person], execution_context_class=execution.Executor,
                             extensions=[lambda: DocumentCache(documents)])


def run_tree(query: str, **variables: object) -> tuple[object, list[str]]:
    variables = {"yes": True, "no": False, "label": "y", "filter": {"prefix": "v", "limit": 1}, "order": "DESC",
                 **variables}
    used = {name: value for name, value in variables.items() if f"${name}" in query}
    answers = [asyncio.run(tree_schema().execute(query, variable_values=used)) for _ in range(2)]
    first, again = ((r.data, sorted(f"{e.path}: {e.message}" for e in r.errors or [])) for r in answers)
    assert first == again  # the second run, from what the first one kept, answers the same
    return first


@pytest.mark.parametrize("query", TREE_QUERIES)
def test_objects_lists_errors_and_directives_match_graphql_core(query, full_path_only):
    short = run_tree(query)
    full_path_only()
    full = run_tree(query)
    assert short == full
    assert short[0] is not None or short[1]  # each case answers something


def test_fields_kept_across_requests_are_only_those_no_variable_can_change(full_path_only):
    """`@skip`/`@include` read the request's variables: the same document must collect again each time."""
    query = TREE_QUERIES[13]
    flipped = run_tree(query, yes=False, no=True)
    assert flipped != run_tree(query) and "leaves" in str(flipped)
    plans = next(p for schema, p in execution._plans_by_schema.items() if schema is tree_schema()._schema)
    assert not any(static for operation, static in plans.static_operations.values()
                   if operation.loc.source.body == query)
    static = [static for operation, static in plans.static_operations.values()
              if operation.loc.source.body == TREE_QUERIES[0]]
    assert static == [True] and plans.subfields
    kept = (len(plans.subfields), len(plans.steps_of_sets))
    run_tree(TREE_QUERIES[0])
    assert (len(plans.subfields), len(plans.steps_of_sets)) == kept  # nothing per request is kept
    full_path_only()
    assert flipped == run_tree(query, yes=False, no=True)


def test_the_tree_cases_take_the_short_paths(monkeypatch):
    calls = dict.fromkeys(("_complete_shape", "_complete_object", "_resolve"), 0)
    for name in calls:
        original = getattr(execution.Executor, name)

        def counting(self, *args, _name=name, _original=original):
            calls[_name] += 1
            return _original(self, *args)

        monkeypatch.setattr(execution.Executor, name, counting)
    run_tree(TREE_QUERIES[0])
    run_tree(TREE_QUERIES[6])
    assert calls["_complete_shape"] > 10 and calls["_complete_object"] > 5 and calls["_resolve"] > 5
    before = calls["_resolve"]
    for query in TREE_QUERIES[-4:]:  # input objects, enums and lists of them, literal and from variables;
        run_tree(query)  # and the root fields of a mutation
    assert calls["_resolve"] == before + 2 * (3 + 4)  # run_tree runs each query twice


def test_arguments_kept_across_requests_are_only_constant_scalars():
    """A field's coerced arguments are kept by field node when no variable is in them and every value is an
    immutable scalar; arguments from variables are planned (`ragweave.schema.argument_values`) and taken from the
    variables for each request; an input object is coerced again for each request by graphql-core."""
    literal, from_variable, input_object = TREE_QUERIES[6], TREE_QUERIES[7], TREE_QUERIES[15]
    for query in (literal, from_variable, input_object):
        run_tree(query)
    plans = next(p for schema, p in execution._plans_by_schema.items() if schema is tree_schema()._schema)

    def kept(query: str) -> list[object]:
        return sorted((None if plan is None else "per request" if plan.constant is None else dict(plan.constant)
                       for node, _, plan in plans.argument_plans.values() if node.loc.source.body == query), key=repr)

    no_arguments = {"extraLabel": None, "fail": False}
    expected = [{"broken": False}, no_arguments, no_arguments, {"extraLabel": "x", "fail": False}]
    assert kept(literal) == sorted(expected, key=repr)
    assert kept(from_variable) == sorted(["per request", {"broken": False}], key=repr)
    assert kept(input_object) == [None]
    relabelled = run_tree(from_variable, label="z")
    assert relabelled != run_tree(from_variable) and "-z-" in str(relabelled)


@strawberry.type
class Tick:
    n: int


@strawberry.type
class Tock:
    label: str


@strawberry.input
class TickInput:
    start: int
    labels: list[str] = strawberry.field(default_factory=list)


@strawberry.type
class Ticks:
    @strawberry.subscription
    async def ticks(self, input: TickInput) -> Tick | Tock | None:
        yield Tick(n=input.start)
        yield Tock(label=",".join(input.labels))
        yield Tick(n="not a number")  # type: ignore[arg-type]  (an event that fails to complete)
        yield Tock(label="last")


TICKS = 'subscription($s: Int!) { ticks(input: {start: $s, labels: ["a", "b"]}) { __typename ... on Tick { n } ' \
        '... on Tock { label } } }'


def run_ticks() -> list[tuple[object, list[str]]]:
    schema = strawberry.Schema(Query, subscription=Ticks, execution_context_class=execution.Executor)

    async def events() -> list[tuple[object, list[str]]]:
        stream = await schema.subscribe(TICKS, variable_values={"s": 7})
        return [(r.data, [f"{e.path}: {e.message}" for e in r.errors or []]) async for r in stream]

    return asyncio.run(events())


def test_subscription_events_skip_coercing_the_arguments_again(monkeypatch, full_path_only):
    """Each event of a Strawberry subscription is the field's value: the short path completes it without coercing
    the field's arguments for each event (graphql-core does), and answers what graphql-core answers."""
    import graphql.execution.executor as graphql_executor

    coerced = []
    original = graphql_executor.get_argument_values
    monkeypatch.setattr(graphql_executor, "get_argument_values",
                        lambda *args, **kwargs: coerced.append(1) or original(*args, **kwargs))
    short = run_ticks()
    assert short[0] == ({"ticks": {"__typename": "Tick", "n": 7}}, [])
    assert short[1] == ({"ticks": {"__typename": "Tock", "label": "a,b"}}, [])
    assert short[2] == ({"ticks": None}, ["['ticks', 'n']: Int cannot represent non-integer value: 'not a number'"])
    assert short[3] == ({"ticks": {"__typename": "Tock", "label": "last"}}, [])
    assert coerced == []
    full_path_only()
    assert run_ticks() == short
    assert len(coerced) == 4  # once per event on graphql-core's path


def test_per_event_executors_are_the_copies_graphql_core_makes():
    from graphql.execution.executor import Executor as GraphQLCoreExecutor

    pairs = []

    class Comparing(execution.Executor):
        def build_per_event_executor(self, payload):
            ours = super().build_per_event_executor(payload)
            pairs.append((self, ours, GraphQLCoreExecutor.build_per_event_executor(self, payload), payload))
            return ours

    schema = strawberry.Schema(Query, subscription=Ticks, execution_context_class=Comparing)

    async def events() -> list[object]:
        stream = await schema.subscribe(TICKS, variable_values={"s": 7})
        return [r.data async for r in stream]

    assert asyncio.run(events()) == [r[0] for r in run_ticks()]
    assert len(pairs) == 4
    assert not any(vars(cls).get("__slots__") for cls in Comparing.__mro__)  # __dict__ holds the whole state
    for source, ours, theirs, payload in pairs:
        assert type(ours) is type(theirs) is Comparing and ours is not source
        assert ours.root_value is theirs.root_value is payload
        assert type(ours.collected_errors) is type(theirs.collected_errors)
        assert ours.collected_errors is not source.collected_errors
        assert vars(ours).keys() == vars(theirs).keys()
        shared = {k for k in vars(theirs) if k not in ("root_value", "collected_errors", "async_helpers")}
        assert all(vars(ours)[k] is vars(theirs)[k] for k in shared)


class TickRow:
    """Not a Strawberry type: a union resolves it only when it is cast."""

    def __init__(self, n: int) -> None:
        self.n = n


class LateTick(Tick):
    """A plain subclass: it carries Tick's definition, and Strawberry resolves it as Tick."""


@strawberry.type
class Stray:
    n: int


@strawberry.type
class MixedTicks:
    @strawberry.subscription
    async def ticks(self) -> Tick | Tock | None:
        yield Tock(label="plain")
        yield LateTick(n=2)
        yield strawberry.cast(Tick, TickRow(3))
        yield strawberry.cast(Tock, Tick(n=4))  # the cast decides, not the object's own type
        yield None
        yield Stray(n=5)  # a Strawberry type outside the union
        yield {"n": 6}  # not a Strawberry object at all

    @strawberry.subscription
    async def strict(self) -> Tick:
        yield Tick(n=1)
        yield Tick(n="not a number")  # type: ignore[arg-type]  (the null reaches the root: no data)
        yield LateTick(n=3)


MIXED = "subscription { ticks { __typename ... on Tick { n } ... on Tock { label } } }"


def run_mixed() -> list[tuple[object, list[str]]]:
    schema = strawberry.Schema(Query, subscription=MixedTicks, execution_context_class=execution.Executor)

    async def events() -> list[tuple[object, list[str]]]:
        stream = await schema.subscribe(MIXED)
        return [(r.data, [e.message for e in r.errors or []]) async for r in stream]

    return asyncio.run(events())


def test_union_values_complete_as_strawberrys_type_resolver_resolves_them(monkeypatch, full_path_only):
    """A union value whose own definition is a member's, and that is not `strawberry.cast`, completes as that
    member without graphql-core's abstract-type completion; every other value (cast, outside the union, not a
    Strawberry object) is left to graphql-core and Strawberry's resolver, and both paths answer the same."""
    from graphql.execution.executor import Executor as GraphQLCoreExecutor

    abstract = []
    original = GraphQLCoreExecutor.complete_abstract_value
    monkeypatch.setattr(GraphQLCoreExecutor, "complete_abstract_value",
                        lambda self, *args: abstract.append(args[-2]) or original(self, *args))
    short = run_mixed()
    assert [data for data, _ in short[:5]] == [
        {"ticks": {"__typename": "Tock", "label": "plain"}}, {"ticks": {"__typename": "Tick", "n": 2}},
        {"ticks": {"__typename": "Tick", "n": 3}}, {"ticks": None}, {"ticks": None},
    ]
    assert "label" in short[3][1][0] and not short[4][1]  # Tock's field missing on the cast Tick; None is null
    assert short[5][0] == short[6][0] == {"ticks": None} and short[5][1] and short[6][1]
    assert [type(value) for value in abstract] == [TickRow, Tick, Stray, dict]  # the plain members took the short path
    full_path_only()
    abstract.clear()
    assert run_mixed() == short
    assert len(abstract) == 6  # every non-null event on graphql-core's path


def test_typename_is_answered_without_graphql_cores_field_execution(monkeypatch):
    from graphql.execution.executor import Executor as GraphQLCoreExecutor

    executed = []
    original = GraphQLCoreExecutor.execute_field
    monkeypatch.setattr(GraphQLCoreExecutor, "execute_field",
                        lambda self, parent, source, details, *rest: executed.append(details[0].node.name.value)
                        or original(self, parent, source, details, *rest))
    data, errors = run_tree("{ __typename nodes { __typename t: __typename leaf { __typename label } } }")
    assert not errors and data["__typename"] == "Tree"
    assert data["nodes"][0] == {"__typename": "Node", "t": "Node", "leaf": {"__typename": "Leaf", "label": "leaf-a"}}
    assert "__typename" not in executed


def test_a_streams_root_is_collected_once_and_answers_as_graphql_core(monkeypatch, full_path_only):
    """graphql-core collects the root's fields again for every event; the short path collects them for the first
    event and executes the later ones from that, with the same answers, errors and null propagation."""
    import graphql.execution.executor as graphql_executor

    collected = []
    for module in (graphql_executor, execution):
        original = module.collect_fields
        monkeypatch.setattr(module, "collect_fields", lambda *args, _original=original, _module=module:
                            collected.append(_module.__name__) or _original(*args))
    schema = strawberry.Schema(Query, subscription=MixedTicks, execution_context_class=execution.Executor)

    async def events() -> list[tuple[object, list[str]]]:
        stream = await schema.subscribe("subscription { strict { n } }")
        return [(r.data, [f"{e.path}: {e.message}" for e in r.errors or []]) async for r in stream]

    short = asyncio.run(events())
    assert short == [({"strict": {"n": 1}}, []),
                     (None, ["['strict', 'n']: Int cannot represent non-integer value: 'not a number'"]),
                     ({"strict": {"n": 3}}, [])]
    assert collected == ["ragweave.schema.execution"]
    full_path_only()
    collected.clear()
    assert asyncio.run(events()) == short
    assert collected.count("graphql.execution.executor") == 3  # once per event on graphql-core's path


def test_plain_selections_are_completed_by_generated_functions(monkeypatch, full_path_only):
    """A selection of plain attributes (scalars, enums, `__typename`, objects and lists of them whose selections
    are plain too) is completed by one generated function; a value that is not plain (null for a non-null field,
    null among non-null items) goes through the general path, which answers what graphql-core answers."""
    completed, refused = [], []
    original = execution.compile_completer

    def observed(fields):
        complete = original(fields)

        def run(source):
            try:
                answer = complete(source)
            except Exception:
                refused.append(type(source).__name__)
                raise
            completed.append(type(source).__name__)
            return answer

        return run

    monkeypatch.setattr(execution, "compile_completer", observed)
    schema = tree_schema.__wrapped__()  # a schema of its own: nothing compiled before the patch is kept
    plain, broken, mixed = TREE_QUERIES[0], TREE_QUERIES[2], TREE_QUERIES[6]

    def answers(query: str) -> tuple[object, list[str]]:
        result = asyncio.run(schema.execute(query))
        return result.data, sorted(f"{e.path}: {e.message}" for e in result.errors or [])

    def counted(query: str) -> tuple[tuple[object, list[str]], dict[str, int], list[str]]:
        completed.clear()
        refused.clear()
        answer = answers(query)
        return answer, {name: completed.count(name) for name in set(completed)}, list(refused)

    first = [counted(query) for query in (plain, broken, mixed)]
    assert [counted(query) for query in (plain, broken, mixed)] == first  # again, from the completers kept
    (short_plain, *_), (short_broken, *_), (short_mixed, *_) = first
    # `plain`: the two nodes, each with two children (Node's completers, one per selection) and their leaves
    assert first[0][1:] == ({"Node": 2 + 4, "Leaf": 2 + 4 + 2 * 3 + 2 * 1}, [])
    # `broken`: node b's `required` holds a null: b goes to the general path, which reports it
    assert first[1][1]["Node"] == 1 and first[1][2] == ["Node"] and "Node.required" in str(short_broken)
    # `mixed`: a node's `later` is a resolver, so nodes are not plain; the leaves `later` returns are
    assert first[2][1:] == ({"Leaf": 2 + 2 + 4}, [])
    short = [short_plain, short_broken, short_mixed]
    full_path_only()
    assert [answers(query) for query in (plain, broken, mixed)] == short


class _Thing:
    def __init__(self, **attributes: object) -> None:
        self.__dict__.update(attributes)


class _Other(_Thing):
    """Another class with the same attributes: accepted only where a field names it."""


def test_a_generated_completer_answers_the_plain_case_and_refuses_the_rest():
    from graphql import GraphQLFloat, GraphQLString

    from ragweave.schema.completion import Impure, LeafField, ObjectField, TypeNameField, compile_completer

    leaf = compile_completer([LeafField("label", "label", GraphQLString.serialize, True)])
    thing = compile_completer([
        TypeNameField("kind", "Thing"),
        LeafField("b", "name", GraphQLString.serialize, True),
        LeafField("a", "name", GraphQLString.serialize, True),
        LeafField("score", "score", GraphQLFloat.serialize, False),
        ObjectField("items", "items", True, True, False, (_Thing,), leaf),
        ObjectField("one", "one", False, False, True, (_Thing, _Other), leaf),
    ])
    answer = thing(_Thing(name="n", score=None, items=(_Thing(label="x"), None), one=None))
    assert answer == {"kind": "Thing", "b": "n", "a": "n", "score": None, "items": [{"label": "x"}, None],
                      "one": None}
    assert list(answer) == ["kind", "b", "a", "score", "items", "one"]
    assert thing(_Thing(name=3, score=2, items=[], one=_Thing(label="o"))) == {
        "kind": "Thing", "b": "3", "a": "3", "score": 2.0, "items": [], "one": {"label": "o"}}
    assert thing(_Thing(name="n", score=None, items=[], one=_Other(label="r")))["one"] == {"label": "r"}
    for not_plain in (
        _Thing(name=None, score=1.0, items=[], one=None),  # null for a non-null field
        _Thing(name="n", score=float("inf"), items=[], one=None),  # a scalar that does not serialize
        _Thing(name="n", score=1.0, items=None, one=None),  # a null list where the list is non-null
        _Thing(name="n", score=1.0, items={_Thing(label="x")}, one=None),  # not a list
        _Thing(name="n", score=1.0, items=[object()], one=None),  # an item of another type
        _Thing(name="n", score=1.0, items=[_Other(label="x")], one=None),  # a class the list does not accept
        _Thing(name="n", score=1.0, items=[], one=_Thing(label=None)),  # below: null for a non-null field
        _Thing(name="n", score=1.0, items=[]),  # a missing attribute
    ):
        with pytest.raises(Exception):  # noqa: B017  (any failure sends the value to the general path)
            thing(not_plain)
    with pytest.raises(Impure):
        compile_completer([ObjectField("one", "one", True, False, True, (_Thing,), leaf)])(_Thing(one=None))
    with pytest.raises(ValueError, match="not an attribute name"):
        compile_completer([LeafField("x", "a-b", GraphQLString.serialize, True)])


def test_a_generated_completer_answers_lists_of_scalars_and_refuses_what_does_not_serialize():
    from graphql import GraphQLFloat, GraphQLString

    from ragweave.schema.completion import LeafField, compile_completer

    complete = compile_completer([LeafField("tags", "tags", GraphQLString.serialize, True, True, True),
                                  LeafField("scores", "scores", GraphQLFloat.serialize, False, True, False)])
    assert complete(_Thing(tags=("a", 3), scores=[1, None])) == {"tags": ["a", "3"], "scores": [1.0, None]}
    assert complete(_Thing(tags=[], scores=None)) == {"tags": [], "scores": None}
    for not_plain in (
        _Thing(tags=None, scores=[]),  # null for a non-null list
        _Thing(tags=["a", None], scores=[]),  # null among non-null items
        _Thing(tags="ab", scores=[]),  # not a list
        _Thing(tags=[], scores=[float("nan")]),  # an item that does not serialize
    ):
        with pytest.raises(Exception):  # noqa: B017  (any failure sends the value to the general path)
            complete(not_plain)


async def test_the_citations_panel_runs_without_the_executor(datasources, demo, monkeypatch):  # noqa: F811
    """Its `degraded` is a list of strings: the generated completers take lists of built-in scalars."""
    from ragweave.schema.direct_root import DirectRun

    runs: list[str] = []
    execute_operation = DirectRun.execute_operation

    async def observed(self):
        runs.append(self.root.name)
        return await execute_operation(self)

    monkeypatch.setattr(DirectRun, "execute_operation", observed)
    answer = await execute(datasources, DOCS, {"question": "Who leads the Platform Team?"}, tenant=demo,
                           operation="CitationsPanel")
    assert answer.ok()["retrieve"]["degraded"] == [] and runs == ["retrieve"]


def test_a_static_querys_root_is_collected_once_and_answers_as_graphql_core(monkeypatch, full_path_only):
    """A query whose selections depend on the document alone has its root fields collected for its first request
    and kept; one with `@skip`/`@include` is collected for each request, as graphql-core does."""
    import graphql.execution.executor as graphql_executor

    collected = []
    for module in (graphql_executor, execution):
        original = module.collect_fields
        monkeypatch.setattr(module, "collect_fields", lambda *args, _original=original, _module=module:
                            collected.append(_module.__name__) or _original(*args))
    schema = tree_schema.__wrapped__()  # a schema of its own: no root was kept for it before

    def answers(query: str, **variables: object) -> tuple[object, list[str]]:
        result = asyncio.run(schema.execute(query, variable_values=variables or None))
        return result.data, sorted(f"{e.path}: {e.message}" for e in result.errors or [])

    static, directed, broken = TREE_QUERIES[0], TREE_QUERIES[13], TREE_QUERIES[2]
    runs = [(static, {}), (static, {}), (directed, {"yes": True, "no": False}), (directed, {"yes": False, "no": True}),
            (broken, {}), (broken, {})]
    short = [answers(query, **variables) for query, variables in runs]
    assert collected.count("ragweave.schema.execution") == 2  # `static` and `broken`, once each
    assert collected.count("graphql.execution.executor") == 2  # `directed`, for each request
    assert short[2] != short[3] and short[4][1]  # the directives read the variables; `broken` reports errors
    full_path_only()
    assert [answers(query, **variables) for query, variables in runs] == short
