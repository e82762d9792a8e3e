"""Local simulators and nodes for tests, the demo and development (never part of a production composition)."""
