"""Abstract stack components. Implementations live in ``kitaru.builtin`` and in plugins."""
