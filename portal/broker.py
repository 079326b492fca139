"""The Redis broker transport, made to survive Redis restarting under a worker.

kombu 5.7 closes a channel after the connection lost its client when Redis drops the
connection; restoring the worker's unacknowledged messages then raises ``AttributeError``
(``'NoneType' object has no attribute 'hostname'``), which kombu does not expect, and the worker
exits with "Unrecoverable error" instead of reconnecting. Skipping that restore loses nothing:
the messages are still in Redis's unacked hash, which the visibility timeout restores, and
whatever a restarted Redis forgot is re-enqueued by the reconciler (the database is the source
of truth). ``CELERY_BROKER_TRANSPORT`` points Celery here when the broker is Redis.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis as kombu_redis

logger = logging.getLogger(__name__)


class QoS(kombu_redis.QoS):
    """Restores, acks and rejects on a channel whose connection is gone become no-ops instead
    of crashing the worker. A task that finishes after the reconnect acks on the old channel;
    its message is then redelivered after the visibility timeout and runs again, which every
    task is written to survive (see connectivity/tasks.py)."""

    def _forget(self, delivery_tag: Any = None) -> int:
        """Drop what this channel delivered (all of it, or one tag); returns how many."""
        delivered = self._delivered
        if delivered is None:
            return 0
        if delivery_tag is None:
            count = len(delivered)
            delivered.clear()
            return count
        return 1 if delivered.pop(delivery_tag, None) is not None else 0

    def _connection_gone(self) -> bool:
        return getattr(getattr(self.channel, "connection", None), "client", None) is None

    def restore_unacked(self, client: Any = None) -> Any:
        if client is None and self._connection_gone():
            logger.warning(
                "Redis connection gone: leaving %d unacknowledged message(s) to the visibility "
                "timeout and the reconciler", self._forget())
            return None
        return super().restore_unacked(client)

    def ack(self, delivery_tag: Any) -> None:
        if self._connection_gone():
            logger.warning("Redis connection gone: ack of %s left to the visibility timeout",
                           delivery_tag)
            self._forget(delivery_tag)
            return
        super().ack(delivery_tag)

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        if self._connection_gone():
            logger.warning("Redis connection gone: reject of %s left to the visibility timeout",
                           delivery_tag)
            self._forget(delivery_tag)
            return
        super().reject(delivery_tag, requeue=requeue)


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel
