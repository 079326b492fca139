"""Provisioning steps run by the workers (see tasks.py)."""

from __future__ import annotations


def advance(*, request_id: str) -> None:
    raise NotImplementedError("provisioning steps arrive with the provisioning workflow")
