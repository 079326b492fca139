"""ARM-compatible Azure simulator the real azure-mgmt-* clients talk to through ``base_url``.

Standard library and ``cryptography`` only: it must run in tests, the demo and beside a
Celery worker without Django. See ``control.py`` for the seed format and control operations.
"""

from __future__ import annotations

from .control import Control, SimulatorError
from .server import AzureSimulator

__all__ = ["AzureSimulator", "Control", "SimulatorError"]
