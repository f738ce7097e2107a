"""Kitaru plugin for Azure: the ``azure`` artifact store (Blob Storage), the ``azure`` secret
store (Key Vault), the ``azureml`` orchestrator, the ``acr`` container builder and the
``azureml`` stack template.

Importing this package imports neither adlfs nor any ``azure`` module: the flavors'
implementation modules do, when a stack that uses them is activated.
"""
