"""A validation rule: at most N root fields per operation (fragments spread at the root count too), so one
request cannot fan out into many independent searches, retrievals or chats."""

from __future__ import annotations

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)


def root_field_limit(max_root_fields: int) -> type[ValidationRule]:
    class MaxRootFields(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
            count = _count(self.context, node.selection_set, set())
            if count > max_root_fields:
                self.report_error(GraphQLError(
                    f"'{node.name.value if node.name else 'anonymous operation'}' selects {count} root fields;"
                    f" at most {max_root_fields} are allowed", node,
                ))

    return MaxRootFields


def _count(context: ValidationContext, selection_set: SelectionSetNode, seen: set[str]) -> int:
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            count += selection.name.value != "__typename"
        elif isinstance(selection, InlineFragmentNode):
            count += _count(context, selection.selection_set, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = context.get_fragment(selection.name.value)
            if fragment is not None:
                count += _count(context, fragment.selection_set, seen)
    return count
