"""One rule, two enforcers: each validation rule is written once as CEL (for the API server)
beside the Python check that pydantic runs, so `kubectl apply` and the operator agree.

- `FieldRule` is an `Annotated` marker on one field: it adds an after-validator
  and an `x-kubernetes-validations` entry to that field's schema.
- `ObjectRule` sits in a model's `object_rules` class variable: `WireModel`
  checks it after validation and the CRD generator writes it on the object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler, model_validator
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

CEL_KEY = "x-kubernetes-validations"


def _cel_entry(rule: str, message: str, field_path: str | None) -> dict[str, str]:
    entry = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    return entry


@dataclass(frozen=True)
class CelRule:
    """A rule as CEL for the API server (`cel`), as Python for pydantic (`holds`), and its message."""

    cel: str
    message: str
    holds: Callable[[Any], bool]


@dataclass(frozen=True)
class FieldRule(CelRule):
    """A rule on one field's value: `cel` sees it as `self`, `holds` gets the Python value."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        def check(value: Any) -> Any:
            if value is not None and not self.holds(value):
                raise ValueError(self.message)
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault(CEL_KEY, []).append(_cel_entry(self.cel, self.message, None))
        return json_schema


@dataclass(frozen=True)
class ObjectRule(CelRule):
    """A rule across fields of one object; `field_path` (e.g. ".minReplicas") points the error at a field."""

    field_path: str | None = None


def _add_object_rules(schema: dict[str, Any], model: type) -> None:
    rules: tuple[ObjectRule, ...] = getattr(model, "object_rules", ())
    if rules:
        schema[CEL_KEY] = [_cel_entry(r.cel, r.message, r.field_path) for r in rules]


class WireModel(BaseModel):
    """Base of every API model: snake_case in Python, camelCase on the wire, docstrings as descriptions.

    Subclasses list cross-field rules in `object_rules`; they are checked after
    field validation and written into the CRD as CEL.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        use_attribute_docstrings=True,
        json_schema_extra=_add_object_rules,
    )

    object_rules: ClassVar[tuple[ObjectRule, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _plain_input(cls, data: Any) -> Any:
        # kopf hands over bodies as mapping views; strict models take plain dicts only.
        return plain_data(data) if isinstance(data, Mapping) else data

    @model_validator(mode="after")
    def _check_object_rules(self) -> WireModel:
        broken = [rule.message for rule in self.object_rules if not rule.holds(self)]
        if broken:
            raise ValueError("; ".join(broken))
        return self

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> Self:
        """Validates an object as the API server or kopf hands it over (nested mappings of any kind)."""
        return cls.model_validate(plain_data(obj))

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready camelCase dict, leaving out unset optional values (None)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class SpecModel(WireModel):
    """A model of user input: unknown fields and type coercion ("3" for 3) are refused, as the server does."""

    model_config = ConfigDict(strict=True, extra="forbid")


def plain_data(value: Any) -> Any:
    """Deep-copies mappings (kopf bodies, views) and sequences into plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(key): plain_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_data(item) for item in value]
    return value
