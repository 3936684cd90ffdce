"""Check functions. Every module here is imported by `registry.load_checks()` and registers
its checks with `@check("key")`; none may import av, decord or torch at module level."""
