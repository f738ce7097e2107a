"""Adapters: make other agent frameworks' runs durable inside a ``@flow``.

Each adapter is an optional extra (``kitaru[pydantic-ai]``) and sits above the public API: it
journals the framework's units of work with the same records a checkpoint or ``kitaru.llm()``
call writes, so resume, replay, ``executions show`` and the dashboard treat them alike.
"""
