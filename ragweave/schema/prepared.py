"""What graphql-core's `Executor.build` works out for an operation, worked out once, for the query lane.

On every request `build` finds the operation in the document, collects its fragments and coerces the variables
(`get_variable_values`): for each variable its type is looked up from the AST again and the value goes through the
generic `coerce_input_value`. For an operation whose variables are all of the built-in scalar types (`String`,
`Int`, `Float`, `Boolean`, `ID`, nullable or not) without default values, in a document without fragment variables,
only the coercion depends on the request, and for such a variable graphql-core's coercion is: a missing value is
left out, a null stays null, any other value goes through the scalar's `coerce_input_value`. `PreparedOperation`
keeps the rest and does exactly that, into the same `VariableValues`. A value it would refuse (missing or null
where required, refused by the scalar) makes `variable_values` return None, and the lane leaves the request to
graphql-core's `build`, which reports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    specified_scalar_types,
)
from graphql.execution.collect_fields import FragmentDetails
from graphql.execution.get_variable_signature import GraphQLVariableSignature, get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource
from graphql.pyutils import Undefined


@dataclass(frozen=True, slots=True)
class _Variable:
    name: str
    signature: GraphQLVariableSignature
    scalar: GraphQLScalarType
    non_null: bool


@dataclass(frozen=True, slots=True)
class PreparedOperation:
    operation: OperationDefinitionNode
    fragment_definitions: dict[str, FragmentDefinitionNode]
    fragments: dict[str, FragmentDetails]
    variables: tuple[_Variable, ...]

    def variable_values(self, inputs: dict[str, Any] | None) -> VariableValues | None:
        """The variables as graphql-core's `get_variable_values` coerces them, or None where it would refuse one."""
        inputs = inputs or {}
        sources: dict[str, VariableValueSource] = {}
        coerced: dict[str, Any] = {}
        for variable in self.variables:
            name = variable.name
            value = inputs.get(name, Undefined)
            if value is Undefined:
                if variable.non_null:
                    return None
                sources[name] = VariableValueSource(variable.signature)
                continue
            sources[name] = VariableValueSource(variable.signature, value)
            if value is None:
                if variable.non_null:
                    return None
                coerced[name] = None
                continue
            try:
                value = variable.scalar.coerce_input_value(value)
            except Exception:  # refused: graphql-core's build reports it
                return None
            if value is Undefined:
                return None
            coerced[name] = value
        return VariableValues(sources, coerced)


def prepare(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> PreparedOperation | None:
    """The operation `build` would run, prepared; None where `build` would do more than the above (or refuse)."""
    operation: OperationDefinitionNode | None = None
    fragment_definitions: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            if operation_name is None:
                if operation is not None:
                    return None  # several operations and no name: build refuses it
                operation = definition
            elif definition.name and definition.name.value == operation_name:
                operation = definition
        elif isinstance(definition, FragmentDefinitionNode):
            if definition.variable_definitions:
                return None
            fragment_definitions[definition.name.value] = definition
    if operation is None:
        return None
    variables = []
    for node in operation.variable_definitions or ():
        signature = get_variable_signature(schema, node)
        if not isinstance(signature, GraphQLVariableSignature) or signature.default is not None:
            return None
        non_null = isinstance(signature.type, GraphQLNonNull)
        scalar = signature.type.of_type if non_null else signature.type
        if not isinstance(scalar, GraphQLScalarType) or specified_scalar_types.get(scalar.name) is not scalar:
            return None
        variables.append(_Variable(signature.name, signature, scalar, non_null))
    fragments = {name: FragmentDetails(definition, None) for name, definition in fragment_definitions.items()}
    return PreparedOperation(operation, fragment_definitions, fragments, tuple(variables))
