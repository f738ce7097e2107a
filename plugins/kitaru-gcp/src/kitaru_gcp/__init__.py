"""Kitaru plugin for Google Cloud: the ``gcs`` artifact store, the ``gcp`` secret store, the
``vertex`` orchestrator, the ``artifact_registry`` container builder and the ``vertex`` stack
template.

Importing this package imports neither gcsfs nor any ``google`` module: the flavors'
implementation modules do, when a stack that uses them is activated.
"""
