"""One contract suite per component type. Import them from :mod:`kitaru.testing`."""
