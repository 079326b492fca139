"""What approval will create in Azure, spelled out for the approver before they click.

Each kind lists its own plan (``Kind.planned_resources``), with the names and ids its steps use,
so the plan is what the workers do.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from connectivity.kinds.base import PLATFORM, PlannedResource
from connectivity.models import ConnectivityRequest

__all__ = ["PLATFORM", "PlannedResource", "planned_resources"]


def planned_resources(request: ConnectivityRequest) -> list[PlannedResource]:
    try:
        return list(request.kind_def.planned_resources(request))
    except ValidationError as exc:  # a field stored before its rule existed: say which
        return [PlannedResource("The plan cannot be derived from the request's fields: "
                                + " ".join(exc.messages), "", "")]
    except (ValueError, IndexError):  # a malformed cluster VNet id: say so, keep the page up
        return [PlannedResource("The plan cannot be derived: the cluster's VNet id is malformed.",
                                request.cluster.vnet_id, "")]
