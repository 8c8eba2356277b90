"""How a refused field is reported, shared by the contract's models and the operations that
declare their own inputs (the review queue's filters): each field names its error code and
the sentence that states its rule, and a bad query parameter is a 422 naming it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import APIError

__all__ = ["Query", "Rule", "parse_query"]


@dataclass(frozen=True, slots=True)
class Rule:
    """A field's error code and the sentence that states its rule."""

    code: str
    message: str


class Query(BaseModel):
    """Query parameters: text that converts ("2" is 2); undeclared parameters are ignored
    (pages add their own)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


Q = TypeVar("Q", bound=Query)


def parse_query(model: type[Q], args: Mapping[str, str]) -> Q:
    """The query string as ``model`` (an empty value counts as absent), or the 422
    ``invalid_parameter`` for its first bad parameter."""
    data = {k: v for k, v in args.items() if v != "" and k in model.model_fields}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0])
        rule = next((m for m in model.model_fields[name].metadata if isinstance(m, Rule)), None)
        if error["type"] == "value_error":  # a validator's own sentence, naming the value
            message = str(error["ctx"]["error"])
        else:
            message = rule.message if rule else f"{name} is invalid"
        raise APIError(422, "invalid_parameter", message, field=name) from None
