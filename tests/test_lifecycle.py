"""Every allowed and every forbidden transition, and the race of two approvals."""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections

from connectivity import lifecycle, services
from connectivity.lifecycle import TRANSITIONS, TransitionError
from connectivity.models import ConnectivityRequest, RequestEvent, RequestState
from tests.factories import PeeringRequestFactory

ALL_STATES = list(RequestState.values)
ALLOWED = [(a, b) for a in ALL_STATES for b in ALL_STATES if b in TRANSITIONS[a]]
FORBIDDEN = [(a, b) for a in ALL_STATES for b in ALL_STATES if b not in TRANSITIONS[a]]


def test_every_state_has_a_rule() -> None:
    assert set(TRANSITIONS) == set(ALL_STATES)
    assert {"rejected", "cancelled", "removed"} == lifecycle.TERMINAL_STATES


@pytest.mark.django_db
@pytest.mark.parametrize(("from_state", "to_state"), ALLOWED)
def test_allowed_transition_moves_and_writes_an_event(from_state: str, to_state: str,
                                                      approver) -> None:
    request = PeeringRequestFactory(state=from_state)
    lifecycle.transition(request, to=to_state, actor=approver, action="test", message="why")
    request.refresh_from_db()
    assert request.state == to_state
    event = RequestEvent.objects.get(request=request)
    assert (event.from_state, event.to_state, event.actor, event.message) == (
        from_state, to_state, approver, "why")
    assert event.actor_label == approver.email


@pytest.mark.django_db
@pytest.mark.parametrize(("from_state", "to_state"), FORBIDDEN)
def test_forbidden_transition_is_refused_and_changes_nothing(from_state: str, to_state: str) -> None:
    request = PeeringRequestFactory(state=from_state)
    with pytest.raises(TransitionError) as caught:
        lifecycle.transition(request, to=to_state, actor=None, action="test")
    assert RequestState(to_state).label in caught.value.message
    request.refresh_from_db()
    assert request.state == from_state
    assert not RequestEvent.objects.filter(request=request).exists()


@pytest.mark.django_db
def test_stale_instance_is_told_the_current_state() -> None:
    request = PeeringRequestFactory(state=RequestState.PENDING_APPROVAL)
    ConnectivityRequest.objects.filter(pk=request.pk).update(state=RequestState.REJECTED)
    with pytest.raises(TransitionError, match="now Rejected"):
        lifecycle.transition(request, to=RequestState.APPROVED, actor=None, action="approved",
                             from_states=[RequestState.PENDING_APPROVAL])
    assert request.state == RequestState.REJECTED


@pytest.mark.django_db
def test_system_actor_is_labelled_system() -> None:
    request = PeeringRequestFactory(state=RequestState.PROVISIONING)
    lifecycle.transition(request, to=RequestState.ACTIVE, actor=None, action="active",
                         azure_request_ids=["abc"])
    event = request.events.get()
    assert event.actor_label == "system"
    assert event.azure_request_ids == ["abc"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_approvals_exactly_one_wins(approver, django_user_model) -> None:
    from django.contrib.auth.models import Group

    second = django_user_model.objects.create_user(email="approver2@platform.example",
                                                   password="x" * 16, is_staff=True)
    second.groups.add(Group.objects.get(name="approver"))
    request = PeeringRequestFactory(
        state=RequestState.PENDING_APPROVAL,
        preflight=[{"key": "k", "label": "l", "status": "pass", "message": ""}])
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def approve(actor) -> None:
        close_old_connections()
        barrier.wait()
        try:
            services.request_approve(
                request=ConnectivityRequest.objects.get(pk=request.pk), actor=actor)
            result = "won"
        except TransitionError as exc:
            result = f"lost: {exc.message}"
        finally:
            close_old_connections()
        with lock:
            outcomes.append(result)

    from unittest import mock

    with mock.patch.object(services, "enqueue_advance"):
        threads = [threading.Thread(target=approve, args=(a,)) for a in (approver, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)

    assert sorted(o.split(":")[0] for o in outcomes) == ["lost", "won"]
    assert any("now Approved" in o for o in outcomes)
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    assert RequestEvent.objects.filter(request=request, action="approved").count() == 1
