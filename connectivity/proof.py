"""Proof of control: the platform acts in (or reports on) a customer's VNet only for the
organisation that proved it controls that VNet.

How it works, and why it holds on real Azure:

- Every request has its own random ``proof`` (``models.new_control_proof``), shown only to the
  requesting organisation (grant page, grant package, ``grant.sh``).
- The customer grants the platform its custom role on the VNet with
  ``az role assignment create ... --description "Connectivity Portal proof of control: <proof>"``
  (a second request for the same VNet appends its proof to the existing assignment's
  description with ``az role assignment update``).
- Writing a role assignment (and so its description) at the VNet needs
  ``Microsoft.Authorization/roleAssignments/write`` there: exactly what a customer needs to grant
  the role at all, and what nobody outside the VNet's tenant holds. A VNet tag would need VNet
  write rights, which a network team that may only assign roles can lack.
- The custom role includes ``Microsoft.Authorization/roleAssignments/read``, so the platform can
  list its own assignments at the VNet and read the description. Only an assignment whose
  principal is the platform's service principal, at the VNet or above it, counts.
- Another organisation that files a request for the same VNet gets its own proof, which the
  VNet owner never put into any description: its pre-flight fails on the proof, and it learns
  nothing about the VNet. A proof from another request (even of the same organisation) does
  not count either: each request must be proved on its own.

``inspect`` answers the question; ``preflight`` turns the answer into the first customer-side
check, and ``require`` is called by provisioning before every write in the customer's scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from django.conf import settings

from connectivity.models import ConnectivityRequest

if TYPE_CHECKING:
    from connectivity.azure.roles import CustomerVNet

LABEL = "Your organisation proved control of the VNet"

Outcome = Literal["proved", "not_visible", "missing", "transient"]

#: Azure answers these when the platform may not (yet) list role assignments at the scope: the
#: grant is missing, still propagating, lacks roleAssignments/read, or the application is not
#: in the customer's tenant yet.
_NOT_VISIBLE_REASONS = frozenset({"permission_missing", "cross_tenant_not_authorized",
                                  "app_not_in_tenant", "wrong_tenant", "not_found"})


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    message: str

    @property
    def proved(self) -> bool:
        return self.outcome == "proved"


def _customer(request: ConnectivityRequest) -> CustomerVNet:
    from connectivity.azure import roles

    return roles.CustomerVNet(tenant_id=request.tenant_id, subscription_id=request.subscription_id,
                              resource_group=request.resource_group, vnet_name=request.vnet_name)


def create_command(request: ConnectivityRequest) -> str:
    """The ``az role assignment create`` that grants the role with this request's proof."""
    from connectivity.azure import roles

    commands = roles.grant_commands(_customer(request), app_id=settings.AZURE_CLIENT_ID,
                                    proof=request.proof)
    return commands[-1]


def update_command(request: ConnectivityRequest) -> str:
    """The command that adds this request's proof to an existing assignment's description."""
    from connectivity.azure import roles

    return roles.proof_update_command(_customer(request), app_id=settings.AZURE_CLIENT_ID,
                                      proof=request.proof)


def inspect(request: ConnectivityRequest) -> Answer:
    """Whether a role assignment of the platform at the request's VNet (or above it) carries
    this request's proof in its description. Reads only role assignments, never the VNet, so
    it reveals nothing about the VNet to an organisation that has not proved control."""
    from connectivity.azure import errors, gateway, roles

    scope = request.customer_vnet_id
    try:
        assignments = gateway.role_assignments_for_platform(scope=scope,
                                                            tenant_id=request.tenant_id)
    except errors.TransientAzureError as exc:
        return Answer("transient", f"Azure did not answer ({exc.message}); checking again shortly.")
    except errors.CustomerActionRequired as exc:
        if exc.reason not in _NOT_VISIBLE_REASONS:
            return Answer("missing", exc.message)
        return Answer("not_visible", (
            f"The platform (application {settings.AZURE_CLIENT_ID}) cannot read its role "
            f"assignments at {scope}. Assign the custom role from this request's role.json (it "
            f"includes {roles.PROOF_READ_ACTION}) at exactly this VNet, with this request's "
            f"proof in the description: {create_command(request)}. If the role was created "
            f"before it included that action, update it first: "
            f"{roles.role_definition_update_command()}."))
    except errors.GatewayError as exc:
        return Answer("missing", exc.message)
    if any(roles.description_carries(a.description, request.proof) for a in assignments):
        return Answer("proved", f"The platform's role assignment at {request.vnet_name} carries "
                                f"this request's proof ({request.proof}).")
    # Say the same whether or not some other assignment is visible: nothing here tells the
    # requester whether, or by whom, the VNet was granted before.
    return Answer("missing", (
        f"No role assignment of the platform at {scope} carries this request's proof of control "
        f"({request.proof}). Add it to the description of the platform's assignment on the VNet: "
        f"{update_command(request)} (or, if you have not assigned the role yet: "
        f"{create_command(request)}), then verify again."))


#: Seconds for which the pre-flight that just proved control also covers the creating writes
#: that follow it in the same provisioning (seconds later). Another organisation can neither
#: add a proof to nor keep one in this organisation's grant, so a proof read that recently
#: cannot have become someone else's; it saves an ARM call per write. Teardown and every other
#: write outside that window read the grant again.
FRESH_FOR = 60.0


def _just_proved(request: ConnectivityRequest) -> bool:
    from django.utils import timezone

    from connectivity.models import RequestState

    ran = request.preflight_ran_at
    if request.state != RequestState.PROVISIONING:
        return False
    if ran is None or (timezone.now() - ran).total_seconds() > FRESH_FOR:
        return False
    return any(isinstance(c, dict) and c.get("key") == "control_proved" and c.get("status") == "pass"
               for c in request.preflight or [])


def require(request: ConnectivityRequest) -> None:
    """Raise unless this request's proof is in place: called right before every write in the
    customer's scope, because a grant can change (or be replaced) at any time after
    pre-flight. Azure not answering is transient; anything else needs the customer."""
    from connectivity.azure.errors import CustomerActionRequired, TransientAzureError

    if _just_proved(request):
        return
    answer = inspect(request)
    if answer.proved:
        return
    if answer.outcome == "transient":
        raise TransientAzureError(answer.message, code="ProofCheckPending", reason="proof_pending")
    raise CustomerActionRequired(f"Proof of control: {answer.message}",
                                 code="ProofOfControlMissing", reason="proof_missing")
