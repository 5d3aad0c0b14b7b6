"""schema.graphql is the exported SDL, and a superset of ../shared/CONTRACT.graphql (names, arguments, types)."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, get_named_type, is_input_object_type, is_object_type, is_union_type

from ragweave.schema import build_schema as build_ragweave_schema
from ragweave.settings import Settings

ROOT = Path(__file__).parent.parent
CONTRACT_PATHS = [ROOT.parent / "shared" / "CONTRACT.graphql", ROOT / "tests" / "data" / "CONTRACT.graphql"]


def test_committed_sdl_matches_the_code():
    exported = str(build_ragweave_schema(Settings())) + "\n"
    assert (ROOT / "schema.graphql").read_text() == exported, (
        "schema.graphql is stale: regenerate it with `ragweave export-schema > schema.graphql`"
    )


def contract() -> GraphQLSchema:
    path = next((p for p in CONTRACT_PATHS if p.exists()), None)
    if path is None:
        pytest.fail(f"CONTRACT.graphql not found in {CONTRACT_PATHS}")
    return build_schema(path.read_text())


def test_schema_is_a_superset_of_the_contract():
    ours = build_schema((ROOT / "schema.graphql").read_text())
    theirs = contract()
    missing: list[str] = []
    for name, their_type in theirs.type_map.items():
        if name.startswith("__"):
            continue
        our_type = ours.type_map.get(name)
        if our_type is None:
            missing.append(f"type {name}")
            continue
        if is_union_type(their_type):
            ours_members = {t.name for t in our_type.types}
            missing += [f"{name} member {t.name}" for t in their_type.types if t.name not in ours_members]
        if is_object_type(their_type) or is_input_object_type(their_type):
            for field_name, field in their_type.fields.items():
                our_field = our_type.fields.get(field_name)
                if our_field is None:
                    missing.append(f"{name}.{field_name}")
                    continue
                if str(our_field.type) != str(field.type):
                    missing.append(f"{name}.{field_name}: {our_field.type} != {field.type}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    our_arg = our_field.args.get(arg_name)
                    if our_arg is None or str(our_arg.type) != str(arg.type):
                        missing.append(f"{name}.{field_name}({arg_name}: {arg.type})")
                    elif arg.default_value != our_arg.default_value:
                        missing.append(f"{name}.{field_name}({arg_name}) default {our_arg.default_value!r}")
    assert missing == []
    assert get_named_type(ours.query_type.fields["search"].type).name == "SearchHit"
