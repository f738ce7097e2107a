"""The JSON schema of stack files, generated from :class:`~kitaru.stack.model.StackSpec`.

``python -m kitaru.stack.schema > stacks/schema.json`` regenerates the committed copy (a test
checks it is up to date). Editors use it through a first line such as
``# yaml-language-server: $schema=../stacks/schema.json``.
"""

from __future__ import annotations

import json
from typing import Any


def stack_schema() -> dict[str, Any]:
    from kitaru.stack.model import StackSpec

    schema = StackSpec.model_json_schema()
    return {"$schema": schema.pop("$schema"), **schema}


def schema_text() -> str:
    return json.dumps(stack_schema(), indent=2, sort_keys=False) + "\n"


def main() -> None:
    import sys

    sys.stdout.write(schema_text())


if __name__ == "__main__":
    main()
