"""Kitaru's Docker plugin: the ``docker`` container builder and the ``docker`` orchestrator.

Importing this package (or its flavor modules) does not import the ``docker`` SDK: that happens
only when a component talks to an engine.
"""

__version__ = "0.1.0"
