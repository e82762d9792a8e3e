"""Ports: the ``typing.Protocol``s the adapters implement, one module per area."""
