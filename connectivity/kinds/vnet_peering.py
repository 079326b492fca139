"""VNet peering: both sides of a peering between the customer's VNet and the cluster's, created
with a temporary role the customer grants on their VNet (and proves control of with this
request's proof).

ARM call budget per peering (tests/bench/bench_provisioning.py counts them, by operation):

- approved at once (provisioning reuses a pre-flight that passed seconds before): 3. Both PUTs,
  and one read of the cluster side once it reads Connected; Azure says Connected there only
  when the other side exists and is Connected too, so that read is also what the connections
  view shows at activation, and no revoke check follows it (the customer side was written
  with the grant moments before: the periodic revoke watch checks it).
- approved later: 7. Pre-flight 4 (the proof's role assignments, the permissions API, both
  VNets; plus a token for the customer's tenant), then the same 3.
- each run of ``wait_connected`` that finds the cluster side not Connected yet: 1 read while
  that side is still being created, 2 once it is done (the customer side too, to find a side
  that failed or went).
- a write more than ``proof.FRESH_FOR`` (60 s) after the pre-flight that proved control reads
  the role assignments again first (+1 per write); a request resumed at ``wait_connected``
  long after its sides were written reads the customer side too (+1), which also answers the
  revoke check.
- teardown: the proof read, a read and a DELETE per side, then 1-2 reads per run of
  ``remove_wait``.

On real Azure each side takes about 11-21 s; the two run at once."""

from __future__ import annotations

import logging
import shlex
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from connectivity import validators
from connectivity.kinds.base import (
    PLATFORM,
    Active,
    Kind,
    Next,
    Outcome,
    PlannedResource,
    Poll,
    Reading,
    Removed,
    SpecField,
    SpecForm,
    api_text,
    form_text,
    gateway,
    numbered,
    platform_tenant,
    progress,
    vnet_lock,
)
from connectivity.models import ConnectionStatus, ConnectivityRequest, RequestKind, RequestState
from connectivity.preflight import (
    PASS,
    Check,
    make_check,
    make_pending,
    overlaps_between,
    reserved_space_check,
    retry_deadline,
    role_granted_check,
    transient_deadline,
)

S = RequestState
logger = logging.getLogger(__name__)

ROLE_LABEL = "Platform holds the role on your VNet"
VNET_LABEL = "Your VNet exists and is readable"
OVERLAP_LABEL = "Address spaces do not overlap"
GATEWAY_LABEL = "Remote gateway available"
PAIR_LABEL = "No other peering between the two VNets"


def cluster_peering_name(request: ConnectivityRequest) -> str:
    """The cluster-side peering's name: fixed per request, so a repeated PUT finds it."""
    return _peering_name(request, request.vnet_name)


def customer_peering_name(request: ConnectivityRequest) -> str:
    return _peering_name(request, request.cluster.vnet_id.rstrip("/").rsplit("/", 1)[-1])


def _peering_name(request: ConnectivityRequest, towards: str) -> str:
    return f"cp-{request.short_id}-to-{towards}"[:80]


def _role_check(request: ConnectivityRequest, gateway: Any, errors: Any) -> Check:
    from connectivity.azure import roles

    scope = request.customer_vnet_id
    app_id = settings.AZURE_CLIENT_ID
    return role_granted_check(
        request, label=ROLE_LABEL, scope=scope, required=roles.required_actions(),
        role="the role", on=request.vnet_name, update_from="this request's instructions",
        earlier_hint=" If you assigned it earlier, check it is assigned at exactly this scope.",
        assign_hint=f"Assign the custom role to the application at exactly this scope (az role "
                    f"assignment create --assignee {app_id} --scope {scope} ...), then verify "
                    "again.")


SCOPE_LABEL = "Not one of the platform's own networks"


def _scope_check(request: ConnectivityRequest) -> Check:
    """Also refused at create; checked again because clusters are added after requests."""
    from connectivity import scopes

    problems = scopes.platform_scope_errors(tenant_id=request.tenant_id,
                                            subscription_id=request.subscription_id,
                                            vnet_id=request.customer_vnet_id)
    return make_check("not_platform_scope", SCOPE_LABEL, not problems,
                  "The VNet is outside the platform's tenant and subscriptions." if not problems
                  else " ".join(m for messages in problems.values() for m in messages))


def _control_check(request: ConnectivityRequest) -> Check:
    """The first customer-side check: nothing else reads the customer's VNet until it passes
    (see connectivity/proof.py for why the proof holds)."""
    from connectivity import proof

    answer = proof.inspect(request)
    if answer.proved:
        return make_check("control_proved", proof.LABEL, True, answer.message)
    if answer.outcome == "transient":
        return make_pending("control_proved", proof.LABEL, answer.message,
                        retry_until=transient_deadline(request, "control_proved"),
                        transient=True)
    if answer.outcome == "not_visible":
        # Right after granting, Azure may not show the new assignment yet: as for the role.
        until = retry_deadline(request, "control_proved", settings.GRANT_PROPAGATION_WINDOW)
        if timezone.now() < until:
            return make_pending(
                "control_proved", proof.LABEL,
                f"{answer.message} A role assigned in the last minutes may still be propagating "
                f"in Azure (up to 30 minutes); the portal re-checks by itself until "
                f"{until:%H:%M} UTC.", retry_until=until)
    return make_check("control_proved", proof.LABEL, False, answer.message)


APP_LABEL = "The platform's application is in your tenant"


def _app_check(request: ConnectivityRequest) -> Check:
    """Before anything else in the customer's tenant: the platform can sign in there only once
    its application was added (admin consent or `az ad sp create`); say which one to do."""
    from connectivity.azure import errors, gateway, roles

    app_id = settings.AZURE_CLIENT_ID
    try:
        present = gateway.platform_app_in_tenant(tenant_id=request.tenant_id)
    except errors.TransientAzureError as exc:
        return make_pending("app_in_tenant", APP_LABEL,
                            f"Microsoft Entra ID did not answer ({exc.message}); checking again "
                            "shortly.", retry_until=transient_deadline(request, "app_in_tenant"),
                            transient=True)
    except errors.GatewayError as exc:
        return make_check("app_in_tenant", APP_LABEL, False, exc.message)
    if present:
        return make_check("app_in_tenant", APP_LABEL, True,
                          f"The platform's application {app_id} can sign in to your tenant.")
    return make_check(
        "app_in_tenant", APP_LABEL, False,
        f"The platform's application {app_id} is not in tenant {request.tenant_id} yet. A tenant "
        f"administrator opens {roles.admin_consent_url(request.tenant_id, app_id)} once and "
        "accepts; or, if your tenant lets you create service principals, run "
        f"`{roles.service_principal_command(app_id)}` (the grant script does this too). "
        "Then verify again.")


def peering_checks(request: ConnectivityRequest) -> list[Check]:
    from connectivity.azure import errors, gateway

    platform_tenant = settings.AZURE_PLATFORM_TENANT_ID
    cluster = request.cluster
    dependent = [("vnet_readable", VNET_LABEL), ("address_space", OVERLAP_LABEL),
                 ("pair_not_peered", PAIR_LABEL)]
    if request.use_remote_gateways:
        dependent.append(("remote_gateway", GATEWAY_LABEL))
    # The customer side is judged with the customer's grant alone: never in the platform's own
    # scopes (where the platform holds rights anyway), and only once this request proved
    # control; until then no check reads the VNet, so nothing about it is shown.
    from connectivity import proof

    scope = _scope_check(request)
    if scope["status"] != PASS:
        return [scope] + [make_pending(key, label, f"Checked once the request targets your own "
                                   f"VNet (see: {SCOPE_LABEL}).")
                          for key, label in [("control_proved", proof.LABEL),
                                             ("role_granted", ROLE_LABEL), *dependent]]
    app = _app_check(request)
    if app["status"] != PASS:
        return [scope, app] + [make_pending(key, label, "Checked once the platform's "
                                            f"application is in your tenant (see: {APP_LABEL}).")
                               for key, label in [("control_proved", proof.LABEL),
                                                  ("role_granted", ROLE_LABEL), *dependent]]
    control = _control_check(request)
    if control["status"] != PASS:
        return [scope, app, control] + [
            make_pending(key, label, f"Checked once your organisation proved control of "
                     f"{request.vnet_name} (see: {control['label']}).")
            for key, label in [("role_granted", ROLE_LABEL), *dependent]]
    role = _role_check(request, gateway, errors)
    checks = [scope, app, control, role]
    if role["status"] != PASS:
        return checks + [make_pending(key, label, f"Checked once the platform can read "
                                  f"{request.vnet_name} (see: {ROLE_LABEL}).")
                         for key, label in dependent]
    try:
        customer, cluster_vnet = gateway.at_once(
            lambda: gateway.vnet_get(vnet_id=request.customer_vnet_id, tenant_id=request.tenant_id),
            lambda: gateway.vnet_get(vnet_id=cluster.vnet_id, tenant_id=platform_tenant))
    except errors.TransientAzureError as exc:
        until = transient_deadline(request, "vnet_readable")
        return checks + [make_pending(key, label, f"Azure did not answer ({exc.message}); checking "
                                  "again shortly.", retry_until=until, transient=True)
                         for key, label in dependent]
    except errors.GatewayError as exc:
        return checks + [make_check("vnet_readable", VNET_LABEL, False, exc.message)] + [
            make_pending(key, label, "Checked once the VNet can be read.")
            for key, label in dependent[1:]]
    checks.append(make_check("vnet_readable", VNET_LABEL, True,
                         f"{customer.name} ({', '.join(customer.address_prefixes)}) in "
                         f"{customer.location or 'its region'}."))

    own_names = {cluster_peering_name(request).lower(), customer_peering_name(request).lower()}
    conflicts: list[str] = []
    for prefix_owner, peerings in ((cluster_vnet, cluster_vnet.peerings),
                                   (customer, customer.peerings)):
        for peering in peerings:
            points_at_pair = peering.remote_vnet_id.lower() in (
                customer.id.lower(), cluster_vnet.id.lower())
            if points_at_pair and peering.name.lower() not in own_names:
                conflicts.append(f"{peering.name} on {prefix_owner.name}")
    checks.append(make_check(
        "pair_not_peered", PAIR_LABEL, not conflicts,
        "No other peering connects the two VNets." if not conflicts else
        f"A peering between the two VNets already exists ({'; '.join(conflicts)}). Azure allows "
        "one per direction: delete it, or ask support to adopt it."))

    problems = [f"with {cluster.name}'s VNet: {o}"
                for o in overlaps_between(customer.address_prefixes, cluster_vnet.address_prefixes)]
    for peering in cluster_vnet.peerings:
        if peering.remote_vnet_id.lower() == customer.id.lower():
            continue
        other = peering.remote_vnet_id.rstrip("/").rsplit("/", 1)[-1]
        problems += [f"with {other}, already peered to {cluster.name}: {o}" for o in
                     overlaps_between(customer.address_prefixes, peering.remote_address_prefixes)]
    for peering in customer.peerings:
        if peering.remote_vnet_id.lower() == cluster_vnet.id.lower():
            continue
        other = peering.remote_vnet_id.rstrip("/").rsplit("/", 1)[-1]
        problems += [f"{cluster.name}'s VNet with {other}, already peered to yours: {o}" for o in
                     overlaps_between(cluster_vnet.address_prefixes, peering.remote_address_prefixes)]
    checks.append(make_check(
        "address_space", OVERLAP_LABEL, not problems,
        f"{', '.join(customer.address_prefixes)} overlaps nothing on {cluster.name}." if not problems
        else "Azure cannot peer overlapping networks. Overlaps " + "; ".join(problems)
        + ". Use a VNet with a different address space."))
    checks.append(reserved_space_check(customer.address_prefixes, customer.name))

    if request.use_remote_gateways:
        checks.append(make_check(
            "remote_gateway", GATEWAY_LABEL, customer.has_gateway,
            f"{customer.name} has a gateway." if customer.has_gateway else
            f"'Use remote gateways' needs a VPN or ExpressRoute gateway in {customer.name}, and it "
            "has none. Add one, or turn the option off."))
    return checks


# --- Private DNS zone -------------------------------------------------------------------------


#: Each organisation's private DNS zones live in a resource group of their own in the platform's

def revoke_command(request: ConnectivityRequest) -> str:
    """The exact ``az role assignment delete`` the customer runs when the peering works."""
    from connectivity.azure import roles

    customer = roles.CustomerVNet(request.tenant_id, request.subscription_id,
                                  request.resource_group, request.vnet_name)
    commands = roles.revoke_commands(customer, app_id=settings.AZURE_CLIENT_ID)
    return next(c for c in commands if c.startswith("az role assignment delete"))


def customer_peering_delete_command(request: ConnectivityRequest) -> str:

    q = shlex.quote
    return (f"az network vnet peering delete --subscription {q(request.subscription_id)} "
            f"--resource-group {q(request.resource_group)} --vnet-name {q(request.vnet_name)} "
            f"--name {q(customer_peering_name(request))}")


@dataclass(frozen=True)
class _Side:
    """One side of the peering: the VNet it lives on and what it says."""

    vnet_id: str
    name: str
    remote_vnet_id: str
    tenant_id: str
    remote_tenant_id: str
    allow_gateway_transit: bool
    use_remote_gateways: bool
    resource_key: str


def _side(request: ConnectivityRequest, on: str) -> _Side:
    """``on="cluster"``: the platform's side, on the cluster VNet; ``"customer"``: theirs."""
    cluster = request.cluster
    if on == "cluster":
        return _Side(cluster.vnet_id, cluster_peering_name(request), request.customer_vnet_id,
                     platform_tenant(), request.tenant_id, allow_gateway_transit=False,
                     use_remote_gateways=request.use_remote_gateways,
                     resource_key="cluster_peering_id")
    return _Side(request.customer_vnet_id, customer_peering_name(request), cluster.vnet_id,
                 request.tenant_id, platform_tenant(),
                 allow_gateway_transit=request.use_remote_gateways, use_remote_gateways=False,
                 resource_key="customer_peering_id")


def _put(request: ConnectivityRequest, side: _Side) -> Any:
    """Start creating one side (the caller holds its VNet) and return at once."""
    return gateway().peering_create(
        vnet_id=side.vnet_id, name=side.name, remote_vnet_id=side.remote_vnet_id,
        tenant_id=side.tenant_id, remote_tenant_id=side.remote_tenant_id,
        allow_forwarded_traffic=request.allow_forwarded_traffic,
        use_remote_gateways=side.use_remote_gateways,
        allow_gateway_transit=side.allow_gateway_transit, wait=False)


def _start_peering(request: ConnectivityRequest, on: str) -> Any:
    """Start creating one side and return at once: ``wait_connected`` reads both sides later.

    The first run PUTs without reading (the name is this request's own, and the PUT is
    idempotent); a re-run (a redelivered task, a side gone or Disconnected, a failed
    provisioning) reads first and leaves a side that is there or still being created alone."""
    side = _side(request, on)
    if request.azure_resources.get(side.resource_key):
        existing = gateway().peering_get(vnet_id=side.vnet_id, name=side.name,
                                         tenant_id=side.tenant_id)
        if (existing is not None and progress(existing.provisioning_state) != "failed"
                and existing.peering_state.lower() != "disconnected"):
            return existing
    with vnet_lock(side.vnet_id, request):
        return _put(request, side)


#: The customer side the cluster step of this thread's task started alongside its own, for the
#: customer step that follows in the same task: (request pk, the side as Azure answered or
#: None, the failure or None, its Azure request ids). Taken once; a later customer step of
#: another request on this thread drops it, one of the same request uses the same PUT's answer.
_alongside = threading.local()


def _start_both(request: ConnectivityRequest) -> Any:
    """The first run of the cluster step starts both sides at once: the two PUTs are
    independent (each names the other VNet, and whichever finishes second connects both, which
    is how Terraform's provider creates them too), so the task waits one ARM round trip, not
    two. It returns the cluster side and leaves the customer side, or its failure, to the
    customer step that follows. A cluster side that failed fails the step as before (its retry
    PUTs both again, which is idempotent; teardown deletes both sides by name whatever was
    recorded)."""
    ours, theirs = _side(request, "cluster"), _side(request, "customer")

    gw = gateway()

    def customer_side() -> tuple[Any, Exception | None, list[str]]:
        # What it did goes to the customer step's timeline entry (and its failure to that
        # step's retry), not to this one.
        with gw.capture_request_ids(apart=True) as ids:
            try:
                return _put(request, theirs), None, ids
            except Exception as exc:
                return None, exc, ids

    with vnet_lock(ours.vnet_id, request), vnet_lock(theirs.vnet_id, request):
        cluster_peering, customer_outcome = gw.at_once(lambda: _put(request, ours), customer_side)
    _alongside.started = (request.pk, *customer_outcome)
    return cluster_peering


def _taken_alongside(request: ConnectivityRequest) -> Any:
    """The customer side ``_start_both`` started in this task, once, with its Azure request
    ids recorded in this step's capture (and its failure raised here, as if this step had
    made the call); None when this task started none."""
    started, _alongside.started = getattr(_alongside, "started", None), None
    if not started or started[0] != request.pk:
        return None
    _, peering, failure, ids = started
    gateway().add_request_ids(ids)
    if failure is not None:
        raise failure
    return peering


def _require_control(request: ConnectivityRequest) -> None:
    """Before every write that acts on the customer's VNet (the cluster side's ``peer/action``
    on it, the customer side itself): the requesting organisation's proof must still be in the
    grant. A missing proof raises ``CustomerActionRequired`` (→ action_needed with what to run),
    so nothing is written, even after an approval that overrode pre-flight."""
    from connectivity import proof

    proof.require(request)


def _step_cluster_peering(request: ConnectivityRequest) -> Outcome:
    cluster = request.cluster
    again = bool(request.azure_resources.get("cluster_peering_id"))
    _require_control(request)
    first = not again and not request.azure_resources.get("customer_peering_id")
    peering = _start_both(request) if first else _start_peering(request, "cluster")
    # Only started: the customer side is started at once, in the same task.
    return Next("customer_peering", numbered(
                request, f"Peering {peering.name} on {cluster.name}'s VNet: "
                f"{peering.provisioning_state}, {peering.peering_state}.", again=again),
                {"cluster_peering_id": peering.id}, follow=True)


def _step_customer_peering(request: ConnectivityRequest) -> Outcome:
    again = bool(request.azure_resources.get("customer_peering_id"))
    _require_control(request)
    peering = _taken_alongside(request) or _start_peering(request, "customer")
    # Both sides started moments apart: reading before Azure's Retry-After tells nothing new.
    return Next("wait_connected", numbered(
                request, f"{_customer_side_started(request)} {peering.provisioning_state}, "
                f"{peering.peering_state}.", again=again),
                {"customer_peering_id": peering.id}, after=peering.retry_after)


def _customer_side_started(request: ConnectivityRequest) -> str:
    """How the timeline entry of the step that wrote the customer side begins."""
    return f"Peering {customer_peering_name(request)} on {request.vnet_name}:"


def _step_wait_connected(request: ConnectivityRequest) -> Outcome:
    """Read both sides (the only place the engine follows the two operations): a side gone,
    Disconnected or whose provisioning failed is started again; both Connected is active;
    anything else is polled again later, never waited for in a worker.

    The cluster side is read first. It reads Connected only once the other side exists and is
    Connected too, so one read tells both, and it is what the connections view shows at
    activation. When this request wrote the customer side moments ago (``proof.FRESH_FOR``)
    that is all: the grant was in place then, so the revoke check at activation is left to the
    periodic revoke watch. Otherwise (a request resumed at this step long after) the customer
    side is read too, with the grant, which answers the revoke check's question as well. While
    the cluster side's own operation is still running the customer side is not read: nothing
    can be Connected before both are done, and a customer side that failed meanwhile is found
    on the next run."""
    from connectivity.azure.errors import CustomerActionRequired

    gw = gateway()
    cluster = request.cluster
    ours = gw.peering_get(vnet_id=cluster.vnet_id, name=cluster_peering_name(request),
                          tenant_id=platform_tenant())
    theirs_id = request.azure_resources.get("customer_peering_id")
    connected = ours is not None and ours.connected and bool(theirs_id)
    if connected and _customer_side_written_moments_ago(request):
        assert ours is not None
        return Active(f"Both peerings report Connected ({ours.name} and its remote side).",
                      {"cluster_peering_id": ours.id, "customer_peering_id": theirs_id},
                      reading=_reading(request, ours, None, "Connected"), grant_in_use=True)
    if ours is None or ours.peering_state.lower() == "disconnected":
        return Next("cluster_peering", numbered(request, f"The peering on {cluster.name}'s VNet is "
                    f"{'missing' if ours is None else 'Disconnected'}; creating it again."))
    ours_progress = progress(ours.provisioning_state)
    if ours_progress == "failed":
        return Next("cluster_peering", numbered(request, f"Azure reports the peering on "
                    f"{cluster.name}'s VNet {ours.provisioning_state}; creating it again."))
    if ours_progress == "running" and theirs_id and not connected:
        return Poll(f"Waiting for both sides to report Connected ({cluster.name}: "
                    f"{ours.peering_state}, {ours.provisioning_state} in Azure).")
    try:
        theirs = gw.peering_get(vnet_id=request.customer_vnet_id,
                                name=customer_peering_name(request),
                                tenant_id=request.tenant_id)
    except CustomerActionRequired:
        if not connected:
            raise
        # Resumed long after, and the customer already revoked the grant: the cluster side
        # speaks for both, and the revoke check at activation completes the request.
        return Active(f"Both peerings report Connected ({ours.name} and its remote side).",
                      {"cluster_peering_id": ours.id, "customer_peering_id": theirs_id},
                      reading=_reading(request, ours, None, "Connected"))
    if theirs is None or theirs.peering_state.lower() == "disconnected":
        return Next("customer_peering", numbered(request, f"The peering on {request.vnet_name} is "
                    f"{'missing' if theirs is None else 'Disconnected'}; creating it again."))
    if progress(theirs.provisioning_state) == "failed":
        return Next("customer_peering", numbered(request, f"Azure reports the peering on "
                    f"{request.vnet_name} {theirs.provisioning_state}; creating it again."))
    if ours.connected and theirs.connected:
        return Active(f"Both peerings report Connected ({ours.name}, {theirs.name}).",
                      {"cluster_peering_id": ours.id, "customer_peering_id": theirs.id},
                      reading=_reading(request, ours, theirs, theirs.peering_state),
                      grant_in_use=True)
    return Poll(f"Waiting for both sides to report Connected ({cluster.name}: "
                f"{ours.peering_state}, {request.vnet_name}: {theirs.peering_state}).")


def _customer_side_written_moments_ago(request: ConnectivityRequest) -> bool:
    """Whether this request created (or re-created) its customer side with the customer's grant
    within ``proof.FRESH_FOR`` seconds: the step's own timeline entry says when."""
    from datetime import timedelta

    from connectivity import proof

    since = timezone.now() - timedelta(seconds=proof.FRESH_FOR)
    return request.events.filter(
        action="step_done", created_at__gte=since,
        message__startswith=_customer_side_started(request)).exists()


def _step_remove_customer_peering(request: ConnectivityRequest) -> Outcome:
    """Teardown never writes in the customer's scope without this request's proof either; but
    it must still end the connectivity, so without the proof it skips the customer side
    (removing the platform's side disconnects it) and tells the customer how to delete theirs."""
    from connectivity.azure.errors import CustomerActionRequired

    name = customer_peering_name(request)
    try:
        _require_control(request)
        with vnet_lock(request.customer_vnet_id, request):
            gone = gateway().peering_delete(vnet_id=request.customer_vnet_id, name=name,
                                             tenant_id=request.tenant_id, wait=False)
    except CustomerActionRequired as exc:
        if exc.reason not in ("permission_missing", "cross_tenant_not_authorized",
                              "app_not_in_tenant", "proof_missing"):
            raise
        # The role was revoked, as it should be after activation: remove the platform's side
        # (which ends the connectivity) and tell the customer how to tidy up theirs.
        return Next("remove_cluster_peering",
                    f"The platform may no longer delete {name} on {request.vnet_name}.",
                    {"customer_peering_left": True})
    return Next("remove_cluster_peering",
                f"Deleting {name} on {request.vnet_name}." if gone else
                f"{name} on {request.vnet_name} was already gone.")


def _step_remove_cluster_peering(request: ConnectivityRequest) -> Outcome:
    cluster = request.cluster
    name = cluster_peering_name(request)
    with vnet_lock(cluster.vnet_id, request):
        gone = gateway().peering_delete(vnet_id=cluster.vnet_id, name=name,
                                         tenant_id=platform_tenant(), wait=False)
    return Next("remove_wait", f"Deleting {name} on {cluster.name}'s VNet." if gone else
                f"{name} on {cluster.name}'s VNet was already gone.")


def _step_remove_wait(request: ConnectivityRequest) -> Outcome:
    """Both deletes were started; removed once neither side reads back (the customer's side is
    not read when it was left to the customer)."""
    gw = gateway()
    cluster = request.cluster
    name = cluster_peering_name(request)
    if gw.peering_get(vnet_id=cluster.vnet_id, name=name, tenant_id=platform_tenant()):
        return Poll(f"Waiting for Azure to delete {name} on {cluster.name}'s VNet.")
    from connectivity.azure.errors import CustomerActionRequired

    left = bool(request.azure_resources.get("customer_peering_left"))
    theirs = customer_peering_name(request)
    try:
        still_there = not left and gw.peering_get(
            vnet_id=request.customer_vnet_id, name=theirs, tenant_id=request.tenant_id)
    except CustomerActionRequired:
        still_there = None  # the role went meanwhile, as it should: its delete was started
    if still_there:
        return Poll(f"Waiting for Azure to delete {theirs} on {request.vnet_name}.")
    message = f"Deleted {name} on {cluster.name}'s VNet."
    if left:
        message += (" The peering on your side is now Disconnected and does nothing; delete it "
                    f"with: {customer_peering_delete_command(request)}")
    return Removed(message)


# --- The spec ---------------------------------------------------------------------------------


def _check_box(s: SpecField) -> Any:
    from django import forms

    return forms.BooleanField(label=s.label, help_text=s.help_text, required=False)


def _api_bool(s: SpecField) -> Any:
    from rest_framework import serializers

    return serializers.BooleanField(required=False)


SPEC = (
    SpecField("tenant_id", "Tenant ID", "Your Microsoft Entra tenant (Directory) ID, a GUID.",
              validate=lambda v: validators.validate_guid(v, "Tenant ID"), form=form_text(60),
              api=api_text(64, "Peering: your Entra tenant id (GUID).")),
    SpecField("vnet_resource_id", "VNet resource ID",
              "Optional: paste the full ID from the VNet's JSON view in the Azure portal and the "
              "three fields below are filled from it.", form=form_text(400, required=False),
              form_only=True),
    SpecField("subscription_id", "Subscription ID", "The subscription that holds your VNet, a GUID.",
              validate=lambda v: validators.validate_guid(v, "Subscription ID"),
              form=form_text(60, required=False),
              api=api_text(64, "Peering: the VNet's subscription id (GUID).")),
    SpecField("resource_group", "Resource group", validate=validators.validate_resource_group,
              form=form_text(120, required=False), api=api_text(90)),
    SpecField("vnet_name", "VNet name", validate=validators.validate_vnet_name,
              form=form_text(80, required=False), api=api_text(64)),
    SpecField("vnet_id", "VNet resource ID", api_only=True,
              api=api_text(400, "Peering: the full VNet resource id, instead of subscription_id, "
                                 "resource_group and vnet_name.")),
    SpecField("allow_forwarded_traffic", "Allow forwarded traffic",
              "Accept traffic forwarded by a network appliance in the other VNet.",
              validate=bool, default=False, form=_check_box, api=_api_bool),
    SpecField("use_remote_gateways", "Use remote gateways",
              "Only if your VNet has a VPN or ExpressRoute gateway the cluster should use.",
              validate=bool, default=False, form=_check_box, api=_api_bool),
)


class PeeringFormBase(SpecForm):
    """The VNet may be given as its full resource id instead of its three parts."""

    PARTS = ("subscription_id", "resource_group", "vnet_name")

    def clean_vnet_resource_id(self) -> str:
        value = (self.cleaned_data.get("vnet_resource_id") or "").strip()
        if value:
            self._parsed = validators.parse_vnet_id(value)
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        parsed = getattr(self, "_parsed", None)
        if parsed is not None:
            data.update(subscription_id=parsed.subscription_id,
                        resource_group=parsed.resource_group, vnet_name=parsed.vnet_name)
            for name in self.PARTS:
                self.errors.pop(name, None)
        elif not self.errors.get("vnet_resource_id"):
            for name in self.PARTS:
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, f"{self.fields[name].label} is required "
                                         "(or paste the VNet resource ID).")
        return data


# --- The kind ---------------------------------------------------------------------------------


def _customer(request: ConnectivityRequest) -> Any:
    from connectivity.azure import roles

    return roles.CustomerVNet(tenant_id=request.tenant_id, subscription_id=request.subscription_id,
                              resource_group=request.resource_group, vnet_name=request.vnet_name)


# States in which a request holds, or is on its way to holding, a connection to its VNet.
_LIVE_STATES = frozenset({S.AWAITING_GRANT, S.PENDING_APPROVAL, S.APPROVED, S.PROVISIONING,
                          S.ACTION_NEEDED, S.ACTIVE, S.DEGRADED, S.COMPLETED, S.FAILED,
                          S.REMOVING})


class VNetPeering(Kind):
    key = RequestKind.VNET_PEERING.value
    label = RequestKind.VNET_PEERING.label
    description = ("Peer your Azure VNet with the cluster's VNet, both directions. You grant the "
                   "platform a temporary role on your VNet.")
    spec = SPEC
    form_base = PeeringFormBase
    needs_grant = True
    identity_fields = ("subscription_id", "resource_group", "vnet_name")
    first_step = "cluster_peering"
    first_remove_step = "remove_customer_peering"
    steps = {
        "cluster_peering": _step_cluster_peering,
        "customer_peering": _step_customer_peering,
        "wait_connected": _step_wait_connected,
        "remove_customer_peering": _step_remove_customer_peering,
        "remove_cluster_peering": _step_remove_cluster_peering,
        "remove_wait": _step_remove_wait,
    }
    resource_labels = {
        "cluster_peering_id": "Peering on the cluster's VNet",
        "customer_peering_id": "Peering on your VNet",
    }
    # Set when the platform could no longer delete the customer's side: it is left for them.
    left_behind_notes = {"customer_peering_left": "customer_peering_id"}
    noun = "a VNet peering"
    has_dependents = True
    degraded_advice = ("If a side was deleted, grant the role again and verify: the portal "
                       "re-creates what is missing.")

    def target(self, request: ConnectivityRequest) -> str:
        return request.vnet_name

    def api_input(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """``vnet_id`` instead of its three parts."""
        if attrs.get("vnet_id"):
            given = [n for n in ("subscription_id", "resource_group", "vnet_name") if attrs.get(n)]
            if given:
                raise ValidationError({"vnet_id": [
                    "Give either vnet_id or subscription_id, resource_group and vnet_name, "
                    "not both."]})
            try:
                ref = validators.parse_vnet_id(attrs["vnet_id"])
            except ValidationError as exc:
                raise ValidationError({"vnet_id": exc.messages}) from None
            attrs.update(subscription_id=ref.subscription_id, resource_group=ref.resource_group,
                         vnet_name=ref.vnet_name)
        attrs.pop("vnet_id", None)
        return attrs

    def create_errors(self, cleaned: dict[str, Any]) -> dict[str, list[str]]:
        from connectivity import scopes

        return scopes.platform_scope_errors(
            tenant_id=cleaned["tenant_id"], subscription_id=cleaned["subscription_id"],
            vnet_id=(f"/subscriptions/{cleaned['subscription_id']}/resourceGroups/"
                     f"{cleaned['resource_group']}/providers/Microsoft.Network/virtualNetworks/"
                     f"{cleaned['vnet_name']}"))

    def after_create(self, request: ConnectivityRequest) -> None:
        _tell_other_organisations(request)

    # --- grant ---
    def role_actions(self) -> list[str]:
        from connectivity.azure import roles

        return roles.required_actions()

    def grant_scope(self, request: ConnectivityRequest) -> str:
        return request.customer_vnet_id

    def grant_tenant(self, request: ConnectivityRequest) -> str:
        return request.tenant_id

    def grant_instructions(self, request: ConnectivityRequest) -> Any:
        from connectivity.azure import roles

        return roles.instructions(_customer(request), app_id=settings.AZURE_CLIENT_ID,
                                  proof=request.proof)

    def grant_formats(self, request: ConnectivityRequest, *, role_name: str | None = None) -> Any:
        from connectivity.azure import grant_formats

        return grant_formats.formats(_customer(request), app_id=settings.AZURE_CLIENT_ID,
                                     proof=request.proof, role_name=role_name)

    def revoke_command(self, request: ConnectivityRequest) -> str:
        return revoke_command(request)

    def role_gone_message(self, request: ConnectivityRequest) -> str:
        return f"The platform's role on {request.vnet_name} is gone."

    def grant_gone_message(self, request: ConnectivityRequest) -> str:
        return (f"The platform's role on {request.vnet_name} is gone; the peering keeps working "
                "without it.")

    def revoke_reminder_message(self, request: ConnectivityRequest) -> str:
        return (f"the platform still holds its role on {request.vnet_name}. Remove it with: "
                f"{revoke_command(request)}")

    # --- pre-flight, health, resources ---
    def checks(self, request: ConnectivityRequest) -> list[Check]:
        return peering_checks(request)

    def read_status(self, request: ConnectivityRequest) -> Reading | None:
        return read_status(request)

    def sync(self, request: ConnectivityRequest, reading: Reading, *, first_seen: bool) -> Reading:
        return sync_peering(request, reading, first_seen=first_seen)

    def sync_command(self, request: ConnectivityRequest) -> str:
        return sync_command(request)

    def leftover_command(self, request: ConnectivityRequest) -> str:
        """After removal, the command that deletes the customer's own (now useless) side."""
        if (request.azure_resources or {}).get("customer_peering_left"):
            return customer_peering_delete_command(request)
        return ""

    def planned_resources(self, request: ConnectivityRequest) -> list[PlannedResource]:
        from connectivity.azure import resource_ids

        cluster = request.cluster
        plan = [PlannedResource(
            f"VNet peering {cluster.name} → {request.vnet_name}",
            resource_ids.peering_id(cluster.vnet_id, cluster_peering_name(request)), PLATFORM)]
        if request.customer_vnet_id:
            plan.append(PlannedResource(
                f"VNet peering {request.vnet_name} → {cluster.name}",
                resource_ids.peering_id(request.customer_vnet_id, customer_peering_name(request)),
                f"customer subscription {request.subscription_id}, with the role they granted"))
        return plan


def _tell_other_organisations(request: ConnectivityRequest) -> None:
    """One organisation per customer VNet: when another organisation files for a VNet that an
    organisation has a live or in-progress request for, that first organisation is told (an
    event on each such request's timeline, one email to its owners and the requests'
    creators). The newcomer is told nothing about it, and can only proceed with its own
    proof of control, which the VNet's owner alone can put into their grant."""
    from connectivity import notifications
    from connectivity.lifecycle import record_event

    others = list(
        same_vnet(ConnectivityRequest.objects.filter(kind=request.kind, state__in=_LIVE_STATES),
                  request)
        .exclude(organization_id=request.organization_id)
        .select_related("organization", "created_by", "cluster"))
    by_organisation: dict[int, list[ConnectivityRequest]] = {}
    for other in others:
        record_event(
            request=other, actor=None, action="vnet_claim_attempt",
            message=(f"Another organisation filed a request for {other.vnet_name}. It cannot "
                     "act on your VNet: it would need its own proof of control in your role "
                     "assignment's description. Never add a proof you did not get from this "
                     "portal yourself; tell support if you did not expect this."))
        by_organisation.setdefault(other.organization_id, []).append(other)
    for claimed in by_organisation.values():
        notifications.notify_vnet_claim_attempt(claimed)


def same_vnet(queryset: QuerySet[ConnectivityRequest],
              request: ConnectivityRequest) -> QuerySet[ConnectivityRequest]:
    return queryset.filter(spec__subscription_id__iexact=request.subscription_id,
                           spec__resource_group__iexact=request.resource_group,
                           spec__vnet_name__iexact=request.vnet_name)


H = ConnectionStatus.Health


def read_status(request: ConnectivityRequest) -> Reading | None:
    """Both sides' peeringState and peeringSyncLevel. The customer side is read only while the
    platform may (after revocation the cluster side speaks for both: it turns Disconnected when
    the other side is deleted). None: Azure did not answer, try later."""
    from connectivity.azure.errors import CustomerActionRequired, GatewayError

    gw = gateway()
    cluster = request.cluster
    try:
        ours = gw.peering_get(vnet_id=cluster.vnet_id, name=cluster_peering_name(request),
                              tenant_id=platform_tenant())
    except GatewayError as exc:
        logger.info("health check for %s postponed: %s", request.pk, exc.message)
        return None
    theirs = None
    theirs_state = "unknown"
    try:
        theirs = gw.peering_get(vnet_id=request.customer_vnet_id,
                                name=customer_peering_name(request), tenant_id=request.tenant_id)
        theirs_state = theirs.peering_state if theirs is not None else "missing"
    except CustomerActionRequired:
        pass  # no role any more: the cluster side speaks for both
    except GatewayError as exc:
        logger.info("health check for %s postponed: %s", request.pk, exc.message)
        return None
    return _reading(request, ours, theirs, theirs_state)


def _reading(request: ConnectivityRequest, ours: Any, theirs: Any, theirs_state: str) -> Reading:
    """The connection as the two sides read (``theirs`` None: not read, ``theirs_state`` says
    what is known of it: missing, unknown, or Connected as the cluster side reports it)."""
    cluster = request.cluster
    labels = VNetPeering.resource_labels
    ours_state = ours.peering_state if ours is not None else "missing"
    ours_sync = (ours.sync_level if ours is not None else None) or ""
    theirs_sync = (theirs.sync_level if theirs is not None else None) or ""
    parts = [
        {"label": labels["cluster_peering_id"], "name": cluster_peering_name(request),
         "state": ours_state, "sync_level": ours_sync},
        {"label": labels["customer_peering_id"], "name": customer_peering_name(request),
         "state": theirs_state, "sync_level": theirs_sync},
    ]
    prefixes = list(ours.remote_address_prefixes) if ours is not None else []
    healthy = ours_state.lower() == "connected" and theirs_state.lower() in ("connected", "unknown")
    states = f"{cluster.name}: {ours_state}, {request.vnet_name}: {theirs_state}"
    if not healthy:
        return Reading(H.DEGRADED, f"{ours_state} / {theirs_state}", parts=parts,
                       address_prefixes=prefixes,
                       reason=f"Azure reports the peering is no longer Connected ({states}).")
    out_of_sync = [s for s in (ours_sync, theirs_sync) if s and s.lower() != "fullyinsync"]
    if out_of_sync:
        assert ours is not None
        unsynced = []
        changes = []
        # A side whose own knowledge of the remote VNet is stale reads Local(AndRemote)NotInSync.
        if "local" in ours_sync.lower():
            unsynced.append("cluster")
            changes.append(_change(request.vnet_name, ours.remote_address_prefixes,
                                   ours.remote_vnet_prefixes))
        if theirs is not None and "local" in theirs_sync.lower():
            unsynced.append("customer")
            changes.append(_change(f"{cluster.name}'s VNet", theirs.remote_address_prefixes,
                                   theirs.remote_vnet_prefixes))
        if not unsynced:  # only the customer side could tell, and it cannot be read
            unsynced.append("cluster")
        return Reading(H.NEEDS_SYNC, f"Connected, {out_of_sync[0]}", parts=parts,
                       address_prefixes=prefixes, unsynced=unsynced,
                       new_prefixes=list(ours.remote_vnet_prefixes or prefixes),
                       reason=" ".join(changes) or "An address space changed; the peering "
                                                   "must be synced.")
    return Reading(H.OK, f"Connected, {ours_sync or 'FullyInSync'}", parts=parts,
                   address_prefixes=prefixes)


def _change(what: str, known: Any, now: Any) -> str:
    known, now = list(known), list(now)
    added = [p for p in now if p not in known]
    gone = [p for p in known if p not in now]
    bits = []
    if added:
        bits.append(f"added {', '.join(added)}")
    if gone:
        bits.append(f"removed {', '.join(gone)}")
    return (f"{what}'s address space changed ({'; '.join(bits) or 'reordered'}): now "
            f"{', '.join(now) or 'none'}; routes to the new prefixes work once the peering is "
            "synced.")


# --- peering sync -----------------------------------------------------------------------------


def sync_command(request: ConnectivityRequest) -> str:
    """What the customer runs to sync their side themselves."""
    q = shlex.quote
    return (f"az network vnet peering sync --subscription {q(request.subscription_id)} "
            f"--resource-group {q(request.resource_group)} --vnet-name {q(request.vnet_name)} "
            f"--name {q(customer_peering_name(request))}")


def _sync_overlaps(request: ConnectivityRequest, new_prefixes: list[str]) -> list[str]:
    """Overlap checks on the new address space, as pre-flight does for a new peering: the
    cluster VNet, and every other VNet peered to it."""
    cluster_vnet = gateway().vnet_get(vnet_id=request.cluster.vnet_id, tenant_id=platform_tenant())
    found = [f"with {request.cluster.name}'s VNet: {o}"
             for o in overlaps_between(new_prefixes, cluster_vnet.address_prefixes)]
    ours = cluster_peering_name(request).lower()
    for other in cluster_vnet.peerings:
        if other.name.lower() == ours:
            continue
        found += [f"with {other.remote_vnet_id.rsplit('/', 1)[-1]}: {o}"
                  for o in overlaps_between(new_prefixes, other.remote_address_prefixes)]
    return found


def sync_peering(request: ConnectivityRequest, reading: Reading, *, first_seen: bool) -> Reading:
    """A peering out of sync: re-run the overlap checks on the new prefixes, then sync each
    stale side (``syncRemoteAddressSpace=true``) under the VNet's lease, after checking this
    request's proof of control (the sync acts on the customer's VNet). Without the grant the
    customer is told what to run (their side) or to grant again (the platform's side). Returns
    the reading to store: fresh after a sync, else the stale one with what to do."""
    from connectivity import proof
    from connectivity.azure.errors import CustomerActionRequired, GatewayError
    from connectivity.kinds.base import VNetBusy
    from connectivity.lifecycle import record_event

    def tell(message: str) -> Reading:
        reading.reason = f"{reading.reason} {message}".strip()
        if first_seen:
            record_event(request=request, actor=None, action="needs_sync", message=reading.reason)
        return reading

    try:
        overlaps = _sync_overlaps(request, reading.new_prefixes)
    except GatewayError as exc:
        return tell(f"Not synced yet: {exc.message}")
    if overlaps:
        return tell("Not synced: the new address space overlaps " + "; ".join(overlaps)
                    + ". Change it so that it does not overlap, and the portal syncs the peering.")
    try:
        proof.require(request)
    except CustomerActionRequired:
        if reading.unsynced == ["customer"]:
            return tell(f"Sync your side with: {sync_command(request)}")
        return tell("The platform syncs its side once it holds its role on your VNet again: "
                    "run the grant page's commands; the next health check syncs the peering."
                    + (f" Sync your side with: {sync_command(request)}"
                       if "customer" in reading.unsynced else ""))
    except GatewayError as exc:
        return tell(f"Not synced yet: {exc.message}")
    cluster = request.cluster
    gw = gateway()
    sides = {
        "cluster": dict(vnet_id=cluster.vnet_id, name=cluster_peering_name(request),
                        remote_vnet_id=request.customer_vnet_id, tenant_id=platform_tenant(),
                        remote_tenant_id=request.tenant_id, allow_gateway_transit=False,
                        use_remote_gateways=request.use_remote_gateways),
        "customer": dict(vnet_id=request.customer_vnet_id, name=customer_peering_name(request),
                         remote_vnet_id=cluster.vnet_id, tenant_id=request.tenant_id,
                         remote_tenant_id=platform_tenant(),
                         allow_gateway_transit=request.use_remote_gateways,
                         use_remote_gateways=False),
    }
    done = []
    try:
        for side in reading.unsynced:
            args = sides[side]
            with vnet_lock(str(args["vnet_id"]), request):
                gw.peering_create(**args, allow_forwarded_traffic=request.allow_forwarded_traffic,
                                  sync_remote_address_space=True, wait=True)
            done.append("the platform's side" if side == "cluster" else "your side")
    except (GatewayError, VNetBusy) as exc:
        return tell(f"Not synced yet: {getattr(exc, 'message', str(exc))}")
    record_event(request=request, actor=None, action="peering_synced",
                 message=f"{reading.reason} Synced {' and '.join(done)} of the peering.")
    fresh = read_status(request)
    return fresh if fresh is not None else reading
