"""The fast wait-input checker agrees with jsonschema on the schemas it accepts."""

from __future__ import annotations

from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, TypeAdapter

from kitaru.runtime.schema_check import Unsupported, check


class Review(BaseModel):
    approved: bool
    comment: str = ""
    score: int | None = None
    tags: list[str] = []


SCHEMAS = [bool, str, int, float, list[int], Literal["a", "b"], Review, int | None]
VALUES: list[Any] = [True, 0, 1.5, "x", None, [1, 2], ["a"], "a", "c", {},
                     {"approved": True}, {"approved": "yes"}, {"approved": False, "tags": [1]},
                     {"approved": True, "score": 3}, {"approved": True, "score": "3"}]  # fmt: skip


@pytest.mark.parametrize("schema_type", SCHEMAS, ids=str)
def test_agrees_with_jsonschema(schema_type: Any) -> None:
    schema = TypeAdapter(schema_type).json_schema()
    for value in VALUES:
        expected = jsonschema.Draft202012Validator(schema).is_valid(value)
        try:
            got = check(value, schema) is None
        except Unsupported:
            continue
        assert got == expected, (schema, value)


def test_unknown_keywords_are_left_to_jsonschema() -> None:
    with pytest.raises(Unsupported):
        check(1, {"oneOf": [{"type": "integer"}, {"type": "null"}]})
    with pytest.raises(Unsupported):
        check(1, {"type": "integer", "minimum": 3})
