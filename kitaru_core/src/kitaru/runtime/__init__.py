"""The SDK runtime: execution context, journal, engine, leases, serialization, code location."""
