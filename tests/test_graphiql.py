"""GraphiQL served offline: the default tabs are valid operations, the page loads only local assets."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, parse, validate
from graphql.execution.values import get_variable_values
from starlette.testclient import TestClient

from ragweave.app import create_app
from ragweave.datasources.lifecycle import Datasources
from ragweave.graphiql.examples import EXAMPLES, default_tabs
from ragweave.graphiql.page import ASSETS, graphiql_html
from ragweave.schema import build_schema
from ragweave.settings import Settings

ROOT = Path(__file__).parent.parent
STATIC = resources.files("ragweave.graphiql").joinpath("static")


@pytest.fixture(scope="module")
def schema():
    return build_schema(Settings())._schema


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: re.search(r"(query|subscription) (\w+)", e.query)[2])
def test_every_default_tab_is_valid_against_the_schema(schema, example):
    document = parse(example.query)
    assert validate(schema, document) == []
    (operation,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    coerced = get_variable_values(schema, operation.variable_definitions, example.variables)
    assert not isinstance(coerced, list), coerced  # a list is the coercion errors


def test_the_default_tabs_cover_search_retrieve_entity_and_chat_stream():
    names = [re.search(r"(query|subscription) (\w+)", tab["query"])[2] for tab in default_tabs()]
    assert names == ["Search", "RetrieveWithCitations", "EntityNeighbourhood", "ChatStream"]
    assert all(json.loads(tab["variables"]) for tab in default_tabs())


class _Urls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.config: str | None = None
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v is not None]
        self._in_config = tag == "script" and values.get("id") == "graphiql-config"

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config = data
            self._in_config = False


def test_the_page_loads_only_local_assets():
    page = graphiql_html()
    parser = _Urls()
    parser.feed(page)
    assets = [u for u in parser.urls if not u.startswith("data:")]
    assert sorted(u.split("?")[0] for u in assets) == ["/graphiql/static/graphiql.css", "/graphiql/static/graphiql.js"]
    assert not re.search(r"""(https?:)?//[^"'\s]*\.(js|css)""", page), "the page must not load from a CDN"
    assert "unpkg" not in page and "jsdelivr" not in page
    config = json.loads(parser.config or "")
    assert config == {"endpoint": "/graphql", "tabs": default_tabs()}


def test_tab_text_cannot_break_out_of_the_page():
    hostile = [{"query": "# </script><script>alert(1)</script>\n{ version }", "variables": "{}"}]
    page = graphiql_html("/api/graphql", hostile)
    assert "</script><script>alert" not in page
    parser = _Urls()
    parser.feed(page)
    assert json.loads(parser.config or "") == {"endpoint": "/api/graphql", "tabs": hostile}


def test_the_built_assets_ship_in_the_package_and_stay_small():
    sizes = {name: len(STATIC.joinpath(name).read_bytes()) for name in ASSETS}
    assert all(size > 10_000 for size in sizes.values()), sizes
    total = sum(len(p.read_bytes()) for p in STATIC.iterdir() if p.is_file())
    assert total < 3_000_000, f"the committed GraphiQL assets grew to {total} bytes"
    # the committed build came from the pinned lock file (scripts/build-graphiql writes versions.json)
    versions = json.loads(STATIC.joinpath("versions.json").read_text())
    lock = json.loads((ROOT / "graphiql" / "package-lock.json").read_text())
    pinned = json.loads((ROOT / "graphiql" / "package.json").read_text())["dependencies"]
    assert versions["graphiql"] == pinned["graphiql"]
    for name, version in versions.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name


@asynccontextmanager
async def no_datasources(_: Settings) -> AsyncIterator[Datasources]:
    yield Datasources(vectors=None, graph=None, embedder=None, chat=None, reranker=None)  # type: ignore[arg-type]


def test_the_app_serves_the_page_and_its_assets(tmp_path: Path):
    with TestClient(create_app(Settings(data_dir=tmp_path), open_ds=no_datasources)) as client:
        served(client)


def served(client: TestClient) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "RagweaveGraphiQL" in page.text
    parser = _Urls()
    parser.feed(page.text)
    for url in (u for u in parser.urls if u.startswith("/graphiql/static/")):
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 10_000, url
        assert asset.headers["content-type"].split(";")[0] in ("text/javascript", "text/css")


def test_no_ide_means_no_page_and_no_assets(tmp_path: Path):
    with TestClient(create_app(Settings(data_dir=tmp_path, graphql_ide=False), open_ds=no_datasources)) as client:
        assert "RagweaveGraphiQL" not in client.get("/graphql", headers={"Accept": "text/html"}).text
        assert client.get("/graphiql/static/graphiql.js").status_code == 404
