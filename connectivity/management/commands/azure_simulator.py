"""``manage.py azure_simulator``: run the bundled ARM simulator until Ctrl-C.

A thin wrapper: the simulator package itself never imports Django, so tests and the Celery
worker's environment can run it without settings.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from connectivity.azure.simulator import AzureSimulator


class Command(BaseCommand):
    help = "Run the bundled ARM-compatible Azure simulator (HTTPS on loopback) until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8443)
        parser.add_argument("--seed", default=None, help="JSON seed document to load at start")
        parser.add_argument(
            "--cert-dir", default=".run", help="where simulator-ca.pem and the server key go"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        cert_dir = Path(options["cert_dir"])
        simulator = AzureSimulator(
            host=options["host"], port=options["port"], seed_file=options["seed"],
            cert_dir=cert_dir,
        )
        simulator.start()
        self.stdout.write(f"Azure simulator listening on {simulator.base_url}")
        self.stdout.write(f"CA certificate: {simulator.ca_path}")
        self.stdout.write(f"Control API: {simulator.base_url}/_simulator/state")
        self.stdout.flush()
        stop = threading.Event()

        def _stop(signum: int, frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        try:
            while not stop.wait(0.5):
                pass
        finally:
            simulator.stop()
            self.stdout.write("Azure simulator stopped.")
