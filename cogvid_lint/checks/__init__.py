"""Check functions. `registry.load_checks()` imports the modules a run's targets need; each registers
its checks with `@check("key")`; none may import av, decord or torch at module level."""
