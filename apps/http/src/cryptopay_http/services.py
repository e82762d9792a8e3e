"""What the HTTP shell is given: the composition root's ``Services`` (``cryptopay.adapters.bootstrap``).

The app reads every port and use case from it as a typed attribute; its ``settings.api`` are the API's settings.
"""

from __future__ import annotations

from cryptopay.adapters.bootstrap import Services

__all__ = ["Services"]
