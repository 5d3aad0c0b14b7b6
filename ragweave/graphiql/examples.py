"""The operations GraphiQL opens with, one tab each; they run against the demo corpus (`serve --demo`).

tests/test_graphiql.py validates every one, and its variables, against the schema."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Example:
    query: str
    variables: dict[str, object] = field(default_factory=dict)

    def tab(self) -> dict[str, str]:
        """A GraphiQL `TabDefinition`: the editor contents, variables as pretty JSON."""
        return {"query": self.query.strip() + "\n", "variables": json.dumps(self.variables, indent=2)}


SEARCH = Example(
    """
# Semantic search: the chunks nearest to the query, with their documents and the entities they mention.
query Search($query: String!, $topK: Int!) {
  search(query: $query, topK: $topK) {
    score
    chunk {
      id
      index
      text
      document { id title }
      entities { id name type }
    }
  }
}
""",
    {"query": "What caused the Tidewater outage?", "topK": 5},
)

RETRIEVE = Example(
    """
# Hybrid retrieval: vector hits fused with chunks the knowledge graph reaches within maxHops.
# Each hit cites its document and the entities (via) through which the graph found it.
query RetrieveWithCitations($query: String!, $topK: Int!, $maxHops: Int!) {
  retrieve(query: $query, topK: $topK, maxHops: $maxHops) {
    hits {
      score
      scores { vector graph fused rerank }
      chunk { id text }
      citations {
        document { id title }
        chunk { id index }
        via { id name type }
      }
    }
    subgraph {
      nodes { id name type }
      edges { type source { name } target { name } }
    }
    degraded
    queryTimeMs
  }
}
""",
    {"query": "Who leads the platform team?", "topK": 3, "maxHops": 2},
)

ENTITY_NEIGHBOURHOOD = Example(
    """
# An entity's neighbourhood: neighbours within `hops`, its relations, and the chunks that mention it.
# Find ids with: { entities(search: "lantern") { edges { node { id name type } } } }
query EntityNeighbourhood($id: ID!, $hops: Int!) {
  entity(id: $id) {
    id
    name
    type
    properties
    neighbors(hops: $hops, first: 20) { id name type }
    relations(first: 20) {
      type
      source { id name }
      target { id name }
    }
    mentions(first: 5) {
      id
      text
      document { title }
    }
  }
}
""",
    {"id": "person:priya-nandan", "hops": 2},
)

CHAT_STREAM = Example(
    """
# A grounded chat answer streamed over graphql-transport-ws: the sources first, then text deltas,
# then ChatDone (or ChatFailed, e.g. LLM_NOT_CONFIGURED when no chat model is configured).
subscription ChatStream($input: ChatInput!) {
  chatStream(input: $input) {
    __typename
    ... on ChatSources {
      hits {
        score
        chunk { id document { title } }
        citations { via { name } }
      }
    }
    ... on ChatDelta { text }
    ... on ChatDone {
      finishReason
      model
      provider
      usage { promptTokens completionTokens totalTokens }
    }
    ... on ChatFailed { code message retryable }
  }
}
""",
    {
        "input": {
            "messages": [{"role": "user", "content": "Who leads Project Lantern, and what is it for?"}],
            "retrieve": {"topK": 4, "maxHops": 1},
        }
    },
)

EXAMPLES: tuple[Example, ...] = (SEARCH, RETRIEVE, ENTITY_NEIGHBOURHOOD, CHAT_STREAM)


def default_tabs() -> list[dict[str, str]]:
    return [example.tab() for example in EXAMPLES]
