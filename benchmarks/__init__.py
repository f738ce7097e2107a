"""Kitaru benchmark suite: ``make bench`` (or ``python -m benchmarks.run``) from the repo root.

Every measurement runs in its own subprocess with a fresh temporary directory; Kitaru and DBOS
are measured side by side in the same run. See ``benchmarks/README.md``.
"""
