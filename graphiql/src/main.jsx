// The GraphiQL bundle ragweave serves from ragweave/graphiql/static/ (built by scripts/build-graphiql).
// It exposes window.RagweaveGraphiQL = { mount, createGraphiQLFetcher, versions }; the page rendered by
// ragweave/graphiql/page.py builds the fetcher (HTTP + graphql-ws subscriptions) and calls mount().
import { explorerPlugin } from "@graphiql/plugin-explorer";
import "@graphiql/plugin-explorer/style.css";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/style.css";
import { createRoot } from "react-dom/client";

const explorer = explorerPlugin({ showAttribution: false });

// GraphiQL keeps its tabs in localStorage under this key; `defaultTabs` only apply when it is empty.
const TAB_STATE_KEY = "graphiql:tabState";

function hasStoredTabs() {
  try {
    return Boolean(window.localStorage.getItem(TAB_STATE_KEY));
  } catch {
    return false;
  }
}

export function mount(element, { fetcher, tabs, ...props }) {
  const defaultTabs = tabs && tabs.length ? tabs : undefined;
  // GraphiQL 4 fills the first default tab's query editor but not its variables or headers editors
  // (EditorContextProvider's initial state), so hand those over as the initial editor contents, on a
  // first visit only: with stored tabs these props would open an extra tab instead.
  const first = defaultTabs && !hasStoredTabs() ? defaultTabs[0] : {};
  const root = createRoot(element);
  root.render(
    <GraphiQL
      fetcher={fetcher}
      plugins={[explorer]}
      defaultTabs={defaultTabs}
      variables={first.variables ?? undefined}
      headers={first.headers ?? undefined}
      defaultEditorToolsVisibility="variables"
      shouldPersistHeaders={false}
      {...props}
    />,
  );
  return root;
}

export { createGraphiQLFetcher };
export const versions = VERSIONS;
