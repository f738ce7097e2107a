"""The ``kitaru`` command line. Thin click commands; each imports its implementation lazily."""
