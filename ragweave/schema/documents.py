"""Parsed and validated documents, by query text: a repeated operation is parsed and validated once.

One extension instead of Strawberry's ParserCache, ValidationCache, MaxTokensLimiter and AddValidationRules. The
cache is keyed by the query text: graphql-core hashes a DocumentNode by walking the whole tree, which is what
ValidationCache's lru_cache did on every request (about 45 us for the Small operation).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document


@dataclass(slots=True)
class _Entry:
    document: DocumentNode
    rules: tuple[type[ASTValidationRule], ...] | None = None
    errors: list[GraphQLError] | None = None


class Documents:
    """An LRU of query text -> document and its validation errors. Syntax errors are not cached."""

    def __init__(self, max_tokens: int, extra_rules: Sequence[type[ASTValidationRule]], maxsize: int = 256) -> None:
        self.max_tokens = max_tokens
        self.extra_rules = tuple(extra_rules)
        self.maxsize = maxsize
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def parse(self, query: str) -> DocumentNode:
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
            return entry.document
        document = parse(query, max_tokens=self.max_tokens)
        self._entries[query] = _Entry(document)
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return document

    def validate(self, schema: GraphQLSchema, query: str | None, document: DocumentNode,
                 rules: tuple[type[ASTValidationRule], ...]) -> list[GraphQLError]:
        rules = rules + self.extra_rules
        entry = self._entries.get(query) if query is not None else None
        if entry is None or entry.document is not document:
            return validate_document(schema, document, rules)
        if entry.errors is None or entry.rules != rules:
            entry.errors, entry.rules = validate_document(schema, document, rules), rules
        return entry.errors


class DocumentCache(SchemaExtension):
    def __init__(self, documents: Documents) -> None:
        self.documents = documents

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        ec.graphql_document = self.documents.parse(ec.query)
        yield

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        ec.pre_execution_errors = self.documents.validate(
            ec.schema._schema, ec.query, ec.graphql_document, ec.validation_rules)
        yield
