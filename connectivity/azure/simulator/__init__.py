"""ARM-compatible Azure simulator the real azure-mgmt-* clients talk to through ``base_url``.

Standard library and ``cryptography`` only: it must run in tests, the demo and beside a
Celery worker without Django. See ``control.py`` for the seed format and control operations.

Endpoints on ``base_url``:
- ARM: ``/subscriptions/...`` (VNets, peerings, private DNS, resolver rulesets, resource
  groups), ``/{scope}/providers/Microsoft.Authorization/{roleDefinitions,roleAssignments,
  permissions}``, LRO status under ``.../locations/{loc}/operations/{id}`` and
  ``.../privateDnsOperationStatuses/{id}``.
- Entra ID: ``/{tenant}/v2.0/.well-known/openid-configuration``, ``/{tenant}/oauth2/v2.0/token``
  (``authority=base_url`` with ``disable_instance_discovery=True``); for people (identity.py)
  ``/{tenant}/oauth2/v2.0/authorize`` (a sign-in page listing the seeded people), the
  authorization-code grant with PKCE on the same token endpoint, RS256 id tokens and
  ``/{tenant}/discovery/v2.0/keys``.
- Control (unauthenticated JSON): ``GET /_simulator/state``, ``POST /_simulator/reset``,
  ``POST /_simulator/seed``, ``GET|POST|DELETE /_simulator/faults``,
  ``GET /_simulator/principal?app_id=&tenant_id=``, ``POST /_simulator/token``,
  ``GET /_simulator/resource?id=``, ``POST /_simulator/identity/next-id-token``,
  ``POST /_simulator/customer/{grant,revoke,delete-peering,vnet,assign-role,address-space}``;
  ``GET /_simulator/`` lists them with their bodies (``control_api.py``).
"""

from __future__ import annotations

from . import privatelink
from .control import Control, SimulatorError
from .server import AzureSimulator

privatelink.register()

__all__ = ["AzureSimulator", "Control", "SimulatorError"]
