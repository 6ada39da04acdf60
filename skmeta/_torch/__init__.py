"""Private torch internals: the engine, functional adaptation, networks, conversion."""
