"""The settings of the service in the current folder, plus the overrides in SSO_TEST_SETTINGS (JSON).

Reproduces a service whose own config/settings.py redefines a shared setting:
the defect the fingerprint comparison exists to catch.
"""

import json
import os

from config.settings import *  # noqa: F403

globals().update(json.loads(os.environ.get("SSO_TEST_SETTINGS", "{}")))
