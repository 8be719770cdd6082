"""Test-wide settings.

Hypothesis explores new examples on every local run, which is how it finds bugs; on CI
(``CI=true``) it is derandomized so a run is reproducible and a landing is never blocked by an
example nobody has seen locally.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")
