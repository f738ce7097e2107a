"""Builtin local flavors, registered through the same ``kitaru_flavors`` hook as any plugin."""
