"""What the training commands share: where the public sets are, and the commit a fitted file
records in its provenance."""

from __future__ import annotations

import subprocess

from qa.config import PROJECT_ROOT

SHARED = PROJECT_ROOT.parent / "shared" / "datasets"
#: the sets the reader trains on (their "fit" articles): DuReader-robust's sample is left out,
#: its licence being non-commercial
DEFAULT_SETS = (SHARED / "cmrc2018_trial.json", SHARED / "drcd_dev_zhs.json",
                SHARED / "drcd_test_zhs.json", SHARED / "cail2019_dev.json")


def commit() -> str:
    """``git describe`` of the project (``-dirty`` when it has uncommitted changes), or
    "unknown" outside a checkout."""
    try:
        return subprocess.run(["git", "-C", str(PROJECT_ROOT), "describe", "--always", "--dirty"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
