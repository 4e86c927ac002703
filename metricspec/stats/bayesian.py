"""Bayesian readouts: a Gaussian posterior of the effect, chance to win, risk, credible intervals.

The model is gbstats' effect model (`gbstats.bayesian.tests.EffectBayesianABTest`): the data
enter only through the frequentist estimate of the effect and its standard error, treated as
a Gaussian likelihood Δ̂ ~ N(Δ, SE²); with a Gaussian prior Δ ~ N(m₀, s₀²) the posterior is
Gaussian with precision 1/SE² + 1/s₀² and mean (Δ̂/SE² + m₀/s₀²)/precision. Without a prior
(the default, gbstats' improper flat prior) the posterior is N(Δ̂, SE²).

The prior is declared on the relative scale (a lift of 0.1 = +10 %, as gbstats' default
``prior_type="relative"``); the absolute readout rescales it by the control value, mean by
|μ_c| and variance by μ_c², as gbstats does. The standard errors are the engine's, so the
readout inherits every variance convention of docs/statistics.md (delta method for ratios,
CUPED, the relative lift dividing by |μ_c|).

* chance to win: the posterior probability that the effect is in the metric's desired
  direction (P(Δ > 0), or P(Δ < 0) for a metric to decrease);
* risk (expected loss): of shipping the treatment, E[max(−Δ, 0)] in the desired direction —
  what is lost on average if the treatment is in fact worse; of keeping control,
  E[max(Δ, 0)]; both from the truncated-normal means (gbstats ``get_risk``);
* credible interval: the central (1 − α) posterior interval (α not corrected for multiple
  metrics: the posterior of each metric stands on its own).

The decision rule (`BayesianSettings`): a metric wins when its chance to win is at least
``chance_to_win`` and the relative risk of shipping is below ``max_risk``; it loses when the
chance to win is at most 1 − ``chance_to_win`` and the relative risk of keeping control is
below ``max_risk``; otherwise it is flat. Under an A/A test with the flat prior the chance to
win is Φ(z) of the frequentist z-statistic, so a false "win" has probability at most
1 − ``chance_to_win`` (the risk condition only lowers it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from metricspec.stats.results import Serialisable, finite

__all__ = [
    "BayesianPrior",
    "BayesianResult",
    "BayesianSettings",
    "Posterior",
    "bayes_verdict",
    "posterior",
    "readout",
    "risks",
]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BayesianPrior:
    """A Gaussian prior on the relative lift (0.1 = +10 %); ``sd=None`` is the flat prior."""

    mean: float = 0.0
    sd: float | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.mean):
            raise ValueError("prior mean must be finite")
        if self.sd is not None and not (math.isfinite(self.sd) and self.sd > 0):
            raise ValueError(f"prior sd must be positive and finite, got {self.sd}")

    @property
    def proper(self) -> bool:
        """Whether the prior is a proper Gaussian (otherwise flat, improper)."""
        return self.sd is not None

    def describe(self) -> str:
        """Return the prior as a reader writes it."""
        if self.sd is None:
            return "flat (improper) prior"
        return f"Gaussian prior on the relative lift, mean {self.mean:g}, sd {self.sd:g}"


@dataclass(frozen=True, slots=True)
class BayesianSettings:
    """The experiment's Bayesian analysis: the default prior and the decision rule.

    Attributes:
        prior: Prior of every metric without its own (`MetricSpec.prior`).
        chance_to_win: Threshold of the posterior probability of improvement to ship.
        max_risk: Largest relative expected loss of the chosen arm (0.01 = 1 % of control).
    """

    prior: BayesianPrior = BayesianPrior()
    chance_to_win: float = 0.95
    max_risk: float = 0.01

    def __post_init__(self) -> None:
        if not 0.5 < self.chance_to_win < 1.0:
            raise ValueError(f"chance to win must be in (0.5, 1), got {self.chance_to_win}")
        if not (math.isfinite(self.max_risk) and self.max_risk > 0):
            raise ValueError(f"max risk must be positive, got {self.max_risk}")

    def summary(self) -> dict[str, object]:
        """Return the settings for the analysis' settings record."""
        return {
            "prior": self.prior.describe(),
            "chance_to_win": self.chance_to_win,
            "max_risk": self.max_risk,
            "rule": self.rule(),
        }

    def rule(self) -> str:
        """Return the decision rule in words."""
        return (
            f"win when the chance to beat control is at least {self.chance_to_win:.0%} and the "
            f"risk (expected relative loss) of shipping is below {self.max_risk:.2%}; loss when "
            f"the chance is at most {1 - self.chance_to_win:.0%} and the risk of keeping "
            f"control is below {self.max_risk:.2%}; flat otherwise"
        )


@dataclass(frozen=True, slots=True)
class Posterior(Serialisable):
    """The posterior of one effect (absolute difference or relative lift)."""

    mean: float | None
    sd: float | None
    ci_lower: float | None
    ci_upper: float | None
    chance_to_win: float | None
    risk_treatment: float | None
    risk_control: float | None


@dataclass(frozen=True, slots=True)
class BayesianResult(Serialisable):
    """Bayesian readout of one comparison, beside the frequentist one."""

    absolute: Posterior
    relative: Posterior
    prior: str
    ci_level: float


def posterior(
    estimate: Array, se: Array, prior_mean: Array, prior_var: Array, proper: bool
) -> tuple[Array, Array]:
    """Return the posterior mean and sd of N(estimate, se²) under a N(m, v) or flat prior."""
    est, var = np.asarray(estimate, float), np.asarray(se, float) ** 2
    if not proper:
        return est, np.sqrt(var)
    prec = 1.0 / var + 1.0 / prior_var
    return (est / var + prior_mean / prior_var) / prec, np.sqrt(1.0 / prec)


def risks(mean: Array, sd: Array) -> tuple[Array, Array]:
    """Return (E[max(Δ, 0)], E[max(−Δ, 0)]) for Δ ~ N(mean, sd²)."""
    z = mean / sd
    dens = sd * stats.norm.pdf(z)
    return mean * stats.norm.cdf(z) + dens, dens - mean * stats.norm.cdf(-z)


def _one(
    estimate: float,
    se: float,
    prior_mean: float,
    prior_var: float,
    proper: bool,
    alpha: float,
    decrease: bool,
) -> Posterior:
    mean, sd = posterior(
        np.array([estimate]), np.array([se]), np.array([prior_mean]), np.array([prior_var]), proper
    )
    up, down = risks(mean, sd)
    win_p = stats.norm.cdf(0.0, mean, sd) if decrease else stats.norm.sf(0.0, mean, sd)
    lo, hi = stats.norm.ppf([alpha / 2, 1 - alpha / 2], mean[0], sd[0])
    risk_t, risk_c = (up[0], down[0]) if decrease else (down[0], up[0])
    return Posterior(
        finite(mean[0]),
        finite(sd[0]),
        finite(lo),
        finite(hi),
        finite(win_p[0]),
        finite(risk_t),
        finite(risk_c),
    )


def readout(
    estimates: tuple[float, float, float, float],
    control: float,
    prior: BayesianPrior,
    alpha: float,
    decrease: bool,
) -> BayesianResult:
    """Return the Bayesian readout of one comparison from its frequentist estimates.

    ``control`` is the control arm's unadjusted value, which rescales the relative prior to
    the absolute scale (gbstats: mean × |μ_c|, variance × μ_c²). ``estimates`` are the
    difference, its SE, the relative lift and its SE.
    """
    diff, se, lift, lift_se = estimates
    var = prior.sd**2 if prior.sd is not None else 1.0
    absolute = _one(
        diff, se, prior.mean * abs(control), var * control**2, prior.proper, alpha, decrease
    )
    relative = _one(lift, lift_se, prior.mean, var, prior.proper, alpha, decrease)
    return BayesianResult(absolute, relative, prior.describe(), 1.0 - alpha)


def bayes_verdict(result: BayesianResult, settings: BayesianSettings, directed: bool) -> str:
    """Return "win", "loss", "flat" or "changed" (no desired direction) by the rule."""
    r = result.relative
    if r.chance_to_win is None or r.risk_treatment is None or r.risk_control is None:
        return "insufficient data"
    p = r.chance_to_win
    if not directed:
        return "changed" if max(p, 1 - p) >= settings.chance_to_win else "flat"
    if p >= settings.chance_to_win and r.risk_treatment < settings.max_risk:
        return "win"
    if p <= 1 - settings.chance_to_win and r.risk_control < settings.max_risk:
        return "loss"
    return "flat"
