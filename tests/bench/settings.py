"""Production settings with the benchmark's baseline views mounted (tests/bench/urls.py).

Only `tests/bench/bench_api.py` runs the portal under this module; production serves
`portal.urls`, which never names the baseline.
"""

from __future__ import annotations

from portal.settings.production import *  # noqa: F403

ROOT_URLCONF = "tests.bench.urls"
