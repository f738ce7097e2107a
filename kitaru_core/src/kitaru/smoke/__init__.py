"""``kitaru smoke``: a user's flow run end to end on their own stack, with local stand-ins for
the cloud (see docs/ci.md). Plugins declare stand-ins in :mod:`kitaru.components.standins`; the run
itself is :mod:`kitaru.smoke.run`."""
