"""`import kitaru` stays light: no cloud SDK, litellm, FastAPI, SQLAlchemy, psycopg, no entry
points."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("litellm", "openai", "tiktoken", "boto3", "botocore", "google", "azure", "kubernetes",
         "docker", "fastapi", "sqlalchemy", "pydantic", "pydantic_settings", "fsspec", "rich",
         "click", "jsonschema", "importlib.metadata", "pluggy", "psycopg", "mcp", "opentelemetry",
         "pydantic_ai",
         # the dashboard: only a server or `kitaru ui` loads it
         "jinja2", "starlette", "uvicorn", "kitaru.server.dashboard")  # fmt: skip

PROBE = """
import json, sys
before = set(sys.modules)
import kitaru
from kitaru import flow, checkpoint, wait, log
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_import_kitaru_loads_nothing_heavy() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True)  # fmt: skip
    loaded = json.loads(out.stdout)
    offenders = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert offenders == []
