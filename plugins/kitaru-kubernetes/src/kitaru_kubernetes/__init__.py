"""Kitaru plugin for Kubernetes: the ``kubernetes`` secret store (Kubernetes Secrets), and the
client helper its flavors share (:mod:`kitaru_kubernetes.client`).

Importing this package imports no ``kubernetes`` module: the flavors' implementations do, when a
stack that uses them is activated.
"""
