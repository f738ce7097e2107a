"""Kitaru plugin for AWS: the ``s3`` artifact store, the ``aws`` secret store and the
``sagemaker`` orchestrator.

Importing this package imports neither boto3 nor s3fs: the flavors' modules do, when a stack
that uses them is activated.
"""
