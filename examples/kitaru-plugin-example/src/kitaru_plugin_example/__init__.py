"""An example Kitaru plugin: the ``prefixed`` artifact store flavor."""
