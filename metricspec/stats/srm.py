"""Sample-ratio mismatch: χ² goodness of fit of exposed units against the declared split.

A mismatch means assignment or exposure logging is broken, so every comparison is suspect;
the engine reports it before any result and the decision becomes "invalid". The statistic
and p-value equal ``scipy.stats.chisquare(observed, f_exp=total·split)`` (reference 6).

Three outcomes: passed, failed, not run. A declared arm with no exposed units while others
have some fails whatever the p-value (with few units the χ² test has no power, yet an empty
arm is the most extreme mismatch there is). Without unit counts (no ``__units__`` rows) or
without any exposed unit the check did not run, and says why — it is never "passed".
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from scipy import stats

from metricspec.stats.results import SrmResult, SrmStatus

__all__ = ["srm_check"]


def srm_check(
    units: Mapping[str, int | None],
    split: Mapping[str, float],
    srm_alpha: float,
    *,
    excluded_multiple: int | None = None,
) -> SrmResult:
    """Return the sample-ratio check of observed ``units`` per variant against ``split``.

    Args:
        units: Exposed units kept per variant: None when the data lack the count, 0 for a
            declared arm without any exposed unit.
        split: Expected share per variant (summing to one).
        srm_alpha: Flag a mismatch when the p-value is below this.
        excluded_multiple: Units dropped for appearing in several variants (reported only).
    """
    expected_share = {v: float(s) for v, s in split.items()}
    missing = [v for v in split if units.get(v) is None]
    if missing:
        return SrmResult.insufficient(
            f"no exposed-unit counts (__units__ rows) for {', '.join(missing)}",
            expected_share,
            srm_alpha,
            excluded_multiple,
        )
    observed = {v: int(units[v] or 0) for v in split}
    total = sum(observed.values())
    if total <= 0:
        return SrmResult.insufficient(
            "no exposed units", expected_share, srm_alpha, excluded_multiple, observed
        )
    empty = [v for v, n in observed.items() if n == 0]
    stat = 0.0
    for v, share in expected_share.items():
        exp = total * share
        stat += (observed[v] - exp) ** 2 / exp
    p = float(stats.chi2.sf(stat, len(split) - 1))
    if not (math.isfinite(stat) and math.isfinite(p)):
        return SrmResult.insufficient(
            "χ² statistic is not finite", expected_share, srm_alpha, excluded_multiple, observed
        )
    flagged = p < srm_alpha or bool(empty)
    reason = None
    if empty:
        shares = ", ".join(f"{v} (expected {expected_share[v] * 100:g}%)" for v in empty)
        reason = f"no exposed units in {shares}"
    return SrmResult(
        status=SrmStatus.FAILED if flagged else SrmStatus.PASSED,
        observed=observed,
        expected_share=expected_share,
        chi2=stat,
        p_value=p,
        flagged=flagged,
        srm_alpha=srm_alpha,
        excluded_multiple=excluded_multiple,
        reason=reason,
    )
