"""The Kitaru server: FastAPI app, auth, REST routes (imported only by `kitaru server`)."""
