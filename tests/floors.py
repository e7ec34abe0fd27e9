"""How a quality floor is set: a regression guard with an honest margin, not the last number one
machine measured.

The rule, kept here and used by every quality test: a floor is the lowest value measured on the
CPU kinds at hand (Intel Xeon with AVX-512 VNNI / AMX, AMD EPYC with AVX2 only) minus a margin of
two standard errors of a share over the ``n`` questions it is measured on, and never less than
three points: ``measured - max(0.03, 2 * sqrt(q * (1 - q) / n))`` with ``q = (p * n + 1) / (n + 2)``
(one success and one failure added, so a share of 1.0 over a few questions still gets its
margin), rounded down to 0.01. A test
keeps the *measured* value (with where and when it was measured) and derives its floor with
``floor_of``; when a change moves a measurement, the measurement is updated, never the margin.
int8 kernels differ by CPU, so a share can move by a question or two between CPU kinds; the
margin absorbs that, a real regression of several points does not pass.
"""

from __future__ import annotations

import math

MIN_MARGIN = 0.03


def floor_of(measured: float, n: int) -> float:
    """The floor of a share ``measured`` over ``n`` questions (see the module docstring)."""
    n = max(1, n)
    q = (min(max(measured, 0.0), 1.0) * n + 1) / (n + 2)
    margin = max(MIN_MARGIN, 2 * math.sqrt(q * (1 - q) / n))
    return math.floor((measured - margin) * 100 + 1e-9) / 100
