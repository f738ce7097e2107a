"""Tests of the ``kitaru`` command line."""
