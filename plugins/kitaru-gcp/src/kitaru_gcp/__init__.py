"""Kitaru plugin for Google Cloud: the ``gcs`` artifact store and the ``gcp`` secret store.

Importing this package imports neither gcsfs nor any ``google`` module: the flavors'
implementation modules do, when a stack that uses them is activated.
"""
