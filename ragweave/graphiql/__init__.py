"""GraphiQL served offline: the page (`page.graphiql_html`), its default tabs (`examples`) and the assets in
`static/` (graphiql.js, graphiql.css), built from pinned npm packages by `scripts/build-graphiql` and committed,
so `pip install ragweave` serves a working IDE with no CDN. The app mounts `static/` at `/graphiql/static`."""
