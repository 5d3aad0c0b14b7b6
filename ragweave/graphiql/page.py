"""The GraphiQL page: local assets only (no CDN), HTTP fetches to the endpoint and subscriptions over
graphql-ws (the graphql-transport-ws protocol) to the same path on ws:// or wss://."""

from __future__ import annotations

import hashlib
import html
import json
from functools import cache
from importlib import resources

from ragweave.graphiql.examples import default_tabs

STATIC_URL = "/graphiql/static"
ASSETS = ("graphiql.js", "graphiql.css")

_PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>ragweave GraphiQL</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="{css}" />
    <style>
      html, body {{ height: 100%; margin: 0; }}
      #graphiql {{ height: 100vh; }}
    </style>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL&hellip;</div>
    <noscript>GraphiQL needs JavaScript. POST GraphQL requests to {endpoint_text} instead.</noscript>
    <script id="graphiql-config" type="application/json">{config}</script>
    <script src="{js}"></script>
    <script>
      (function () {{
        var config = JSON.parse(document.getElementById("graphiql-config").textContent);
        var url = new URL(config.endpoint, window.location.href);
        var subscriptionUrl = new URL(url.href);
        subscriptionUrl.protocol = url.protocol === "https:" ? "wss:" : "ws:";
        var graphiql = window.RagweaveGraphiQL;
        var fetcher = graphiql.createGraphiQLFetcher({{ url: url.href, subscriptionUrl: subscriptionUrl.href }});
        graphiql.mount(document.getElementById("graphiql"), {{ fetcher: fetcher, tabs: config.tabs }});
      }})();
    </script>
  </body>
</html>
"""


@cache
def asset_version() -> str:
    """A digest of the built assets, appended to their URLs so a rebuilt bundle is never served from cache."""
    digest = hashlib.sha256()
    static = resources.files("ragweave.graphiql").joinpath("static")
    for name in ASSETS:
        digest.update(static.joinpath(name).read_bytes())
    return digest.hexdigest()[:12]


def _json_for_script(value: object) -> str:
    """JSON safe inside <script>: no `</script>`, `<!--` or U+2028/9 can end or confuse the element."""
    text = json.dumps(value, ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def graphiql_html(endpoint: str = "/graphql", tabs: list[dict] | None = None, *, static_url: str = STATIC_URL) -> str:
    """The page; `tabs` are GraphiQL tab definitions ({query, variables?, headers?}), default the examples.

    GraphiQL keeps its tabs in localStorage, so `tabs` only fill a browser's first visit."""
    version = asset_version()
    base = static_url.rstrip("/")
    config = {"endpoint": endpoint, "tabs": default_tabs() if tabs is None else tabs}
    return _PAGE.format(
        css=html.escape(f"{base}/graphiql.css?v={version}"),
        js=html.escape(f"{base}/graphiql.js?v={version}"),
        endpoint_text=html.escape(endpoint),
        config=_json_for_script(config),
    )
