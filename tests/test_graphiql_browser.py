"""GraphiQL in a real headless Chromium against a real uvicorn server: the offline bundle renders, runs a query
and a subscription (graphql-transport-ws), opens the explorer, and nothing is requested beyond loopback.

Needs Debian's chromium (`apt-get install -y chromium`, /usr/bin/chromium; RAGWEAVE_TEST_CHROMIUM overrides the
path) and the `playwright` pip package, which only drives it (`playwright install` is never run). Without them
the test fails, it does not skip. Leaves a screenshot in docs/graphiql.png."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from starlette.applications import Starlette

from ragweave.app import create_app
from ragweave.datasources.embeddings import LocalEmbedder
from ragweave.datasources.falkordb_process import EmbeddedFalkorDB
from ragweave.datasources.graph import GraphStore
from ragweave.datasources.graph_falkordb import FalkorRunner
from ragweave.datasources.lifecycle import Datasources
from ragweave.datasources.reranker import LexicalReranker
from ragweave.datasources.vectors_edge import EdgeVectorStore
from ragweave.demo.loader import CORPUS, load_demo_graph, read_folder
from ragweave.resolvers.extraction import RuleExtractor
from ragweave.resolvers.ingest import Ingestor
from ragweave.settings import Settings
from tests.servers.neo4j_server import free_port

ROOT = Path(__file__).parent.parent
SCREENSHOT = ROOT / "docs" / "graphiql.png"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
INSTALL_HINT = "install it with `apt-get install -y chromium` (as root) and `pip install playwright`"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def chromium_path() -> str:
    """Checked before the server starts: a missing browser or driver fails the test at once, with the fix."""
    path = os.environ.get("RAGWEAVE_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.fail(f"the GraphiQL browser test needs Chromium, not found at {path}: {INSTALL_HINT}", pytrace=False)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail(f"the GraphiQL browser test needs the playwright package: {INSTALL_HINT}", pytrace=False)
    return path


def app_for(tmp_path: Path, embedder: LocalEmbedder, graph_port: int, **settings: object):
    """The app on the demo corpus; datasources open inside its lifespan, on the server thread's event loop."""

    @asynccontextmanager
    async def open_ds(_: Settings) -> AsyncIterator[Datasources]:
        vectors = EdgeVectorStore(tmp_path / "vectors", embedder.dim)
        graph = GraphStore(FalkorRunner("127.0.0.1", graph_port, "graphiql_tests", timeout_s=5.0))
        yield Datasources(
            vectors=vectors,
            graph=graph,
            embedder=embedder,
            chat=None,
            reranker=LexicalReranker(),
            names={"vectors": vectors.name, "graph": graph.dialect, "llm": "offline"},
        )
        await graph.close()
        await vectors.close()

    config = Settings(**{"dev_mode": True, "data_dir": tmp_path, "tenant": f"gq-{uuid.uuid4().hex[:8]}", **settings})

    async def on_ready(datasources: Datasources) -> None:
        # the demo corpus with its hand-checked graph; skipping rule extraction keeps start-up to seconds
        documents = read_folder(CORPUS)
        await Ingestor(datasources, config.tenant, config.default_collection, RuleExtractor(), config.chunk_size,
                       config.chunk_overlap, extract_graph=False).run(documents)
        await load_demo_graph(datasources, config, documents)

    return create_app(config, open_ds=open_ds, on_ready=on_ready)


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """A real uvicorn server on a free loopback port, in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-graphiql", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start (see the log above)")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def editor_value(page, selector: str) -> str:
    return page.eval_on_selector(selector, "el => el.querySelector('.CodeMirror').CodeMirror.getValue()")


def wait_for_response(page, *needles: str, timeout_s: float = 30.0) -> dict:
    """The response pane's JSON once it contains every needle."""
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = editor_value(page, ".graphiql-response")
        if text and all(n in text for n in needles):
            return json.loads(text)
        page.wait_for_timeout(100)
    pytest.fail(f"the response pane never showed {needles}; it shows:\n{text}")


def run_active_tab(page) -> None:
    page.click(".graphiql-execute-button")


def switch_to(page, name: str) -> None:
    """Open a tab and wait until its editor holds its operation: GraphiQL updates the operation name it sends a
    moment after the tab switch, and clicking run before that sent the previous tab's name (seen under load)."""
    page.locator(".graphiql-tab", has_text=name).click()
    page.wait_for_selector(f".graphiql-tab-active:has-text('{name}')")
    deadline = time.monotonic() + 10
    while name not in editor_value(page, ".graphiql-query-editor") and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    page.wait_for_timeout(300)


def test_graphiql_runs_a_query_and_a_subscription_offline(
    tmp_path: Path, embedder: LocalEmbedder, falkordb_server: EmbeddedFalkorDB
):
    chromium = chromium_path()
    from playwright.sync_api import sync_playwright

    requested: list[str] = []
    blocked: list[str] = []
    errors: list[str] = []

    def is_loopback(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("data", "blob", "about") or parts.hostname in LOOPBACK_HOSTS

    def guard(route) -> None:  # nothing leaves loopback, even if a bug asked for it
        if is_loopback(route.request.url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    app = app_for(tmp_path, embedder, falkordb_server.port)
    with serving(app) as server_url, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1440, "height": 900}, service_workers="block",
        )
        try:
            context.route("**/*", guard)
            page = context.pages[0] if context.pages else context.new_page()
            context.on("request", lambda request: requested.append(request.url))
            page.on("websocket", lambda ws: requested.append(ws.url))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            page.goto(f"{server_url}/graphql", wait_until="load")
            page.wait_for_selector(".graphiql-query-editor .CodeMirror")
            tabs = page.locator(".graphiql-tab").all_inner_texts()
            assert [t.strip() for t in tabs] == ["Search", "RetrieveWithCitations", "EntityNeighbourhood", "ChatStream"]
            assert "query Search(" in editor_value(page, ".graphiql-query-editor")
            assert '"topK": 5' in editor_value(page, ".graphiql-editor-tool")  # the first tab's variables too

            # the first default tab, as shipped, against the demo corpus
            run_active_tab(page)
            hits = wait_for_response(page, '"search"')["data"]["search"]
            assert hits and all(hit["chunk"]["document"]["title"] for hit in hits)

            # a query set in the editor of a new tab
            page.click("button[aria-label='New tab']")
            page.wait_for_selector(".graphiql-tab-active:has-text('<untitled>')")
            page.eval_on_selector(".graphiql-query-editor", "el => el.querySelector('.CodeMirror').CodeMirror"
                                  ".setValue('query Health { version health { ok } }')")
            page.wait_for_selector(".graphiql-tab-active:has-text('Health')")  # operation name re-parsed
            run_active_tab(page)
            data = wait_for_response(page, '"version"', '"health"')["data"]
            assert data["health"] == {"ok": True} and data["version"]

            # the entity neighbourhood tab, as shipped
            switch_to(page, "EntityNeighbourhood")
            run_active_tab(page)
            entity = wait_for_response(page, '"entity"', '"neighbors"')["data"]["entity"]
            assert entity["name"] == "Priya Nandan" and entity["neighbors"] and entity["mentions"]

            # the subscription tab: graphql-transport-ws, and without an LLM a ChatFailed event
            switch_to(page, "ChatStream")
            page.wait_for_function("document.querySelector('.graphiql-query-editor .CodeMirror')"
                                   ".CodeMirror.getValue().includes('subscription ChatStream')")
            run_active_tab(page)
            event = wait_for_response(page, "LLM_NOT_CONFIGURED")["data"]["chatStream"]
            assert event["__typename"] == "ChatFailed" and event["code"] == "LLM_NOT_CONFIGURED"
            sockets = [u for u in requested if u.startswith("ws://")]
            assert sockets == [f"{server_url.replace('http://', 'ws://')}/graphql"]

            # retrieval with citations, shown next to the explorer plugin for the screenshot
            switch_to(page, "RetrieveWithCitations")
            run_active_tab(page)
            retrieval = wait_for_response(page, '"retrieve"', '"citations"')["data"]["retrieve"]
            assert retrieval["hits"] and retrieval["degraded"] == []
            page.click("button[aria-label='Show GraphiQL Explorer']")
            page.wait_for_selector(".graphiql-explorer-root", timeout=10_000)
            assert page.locator(".graphiql-explorer-root").inner_text().strip()

            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))

            # a reload restores the stored tabs (the new one included) and opens no extra tab
            page.reload(wait_until="load")
            page.wait_for_selector(".graphiql-query-editor .CodeMirror")
            assert len(page.locator(".graphiql-tab").all_inner_texts()) == 5
        finally:
            context.close()

    assert blocked == [], f"GraphiQL asked for non-loopback URLs: {blocked}"
    assert requested and all(is_loopback(u) for u in requested), requested
    assert {urlsplit(u).path for u in requested} >= {"/graphql", "/graphiql/static/graphiql.js",
                                                      "/graphiql/static/graphiql.css"}
    assert errors == [], errors
