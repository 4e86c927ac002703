"""Write a synthetic spec repository of N metrics, for the compile-scaling benchmark.

The repository looks like a large real one: the five `support.*` sources of the demo
warehouse plus synthetic event tables, so there are about N/25 sources; metrics of every
kind (ratios with filters, averages, percentiles, sums, distinct counts, derived arithmetic,
weighted composites, rolling windows); one experiment per 50 metrics with ~10 metrics each,
one KPI tree and one monitor per 100 metrics. Files hold 50 metrics each, one in five of
them written in YAML, as a team would split them. The output is deterministic.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     counts = write_repo(tmp, 100)
    >>> counts["metrics"], counts["sources"], counts["experiments"], counts["kpis"]
    (100, 5, 2, 1)
"""

from __future__ import annotations

from pathlib import Path

METRICS_PER_FILE = 50
METRICS_PER_SOURCE = 25
METRICS_PER_EXPERIMENT = 50
METRICS_PER_KPI = 100
METRICS_PER_MONITOR = 100

SUPPORT_SOURCES = """\
source users "Users" = table support.users {
  entity user_id: string
  time signup_ts: timestamp
  dimension plan: string, region: string, locale: string
}

source assignments "Experiment exposures" = table support.assignments {
  entity user_id: string
  time assigned_ts: timestamp
  dimension platform: string
  column experiment_id: string, variant: string
}

source conversations "Conversations" = table support.conversations {
  entity user_id: string, conversation_id: string
  time started_ts: timestamp
  dimension channel: string, model_version: string, locale: string
  column ended_ts: timestamp, turns: integer, escalated: boolean, escalation_turn: integer
  column resolved: boolean
}

source messages "Messages" = table support.messages {
  entity user_id: string, conversation_id: string, message_id: integer
  time ts: timestamp
  dimension channel: string, model_version: string, role: string
  column turn: integer, latency_ms: number, prompt_tokens: integer, completion_tokens: integer
  column prompt_cost_usd: number, completion_cost_usd: number, cost_usd: number
  column hallucinated: boolean, is_retry: boolean, is_correction: boolean
}

source feedback "Feedback" = table support.feedback {
  entity user_id: string, conversation_id: string, feedback_id: integer
  time ts: timestamp
  dimension channel: string
  column thumbs: string, csat_score: integer, effort_score: integer
}
"""

SYNTHETIC_SOURCE = """\
source {name} "Synthetic events {i}" = table events.{name} {{
  entity user_id: string, session_id: string
  time event_ts: timestamp
  dimension channel: string, region: string, model_version: string
  column amount: number, latency_ms: number, tokens: integer, score: integer
  column ok: boolean, flagged: boolean, status: string
}}
"""

# Base-metric templates per source family: (function, expression). `{s}` is the source.
SUPPORT_BASE = [
    ("ratio", "count(feedback where thumbs = 'up') / count(feedback where thumbs is not null)"),
    ("avg", "avg(feedback.csat_score where channel <> 'voice')"),
    ("ratio", "count(conversations where escalated) / count(conversations)"),
    ("ratio", "count(conversations where resolved and (escalation_turn is null "
              "or escalation_turn > 2)) / count(conversations)"),
    ("pct", "p95(messages.latency_ms where role = 'assistant')"),
    ("ratio", "count(messages where role = 'assistant' and hallucinated) "
              "/ count(messages where role = 'assistant')"),
    ("ratio", "sum(messages.cost_usd) / count(messages where role = 'user')"),
    ("avg", "avg(messages.completion_tokens where role = 'assistant')"),
    ("count", "count(conversations where channel in ('chat', 'email'))"),
    ("avg", "avg(feedback.effort_score)"),
    ("ratio", "count(messages where role = 'user' and is_retry) "
              "/ count(messages where role = 'user')"),
    ("pct", "p50(messages.latency_ms where role = 'assistant' and channel = 'chat')"),
    ("sum", "sum(messages.prompt_tokens where model_version like 'support-llm-2026%')"),
    ("distinct", "count_distinct(conversations.user_id where turns >= 2)"),
]
SYNTHETIC_BASE = [
    ("ratio", "count({s} where ok) / count({s})"),
    ("avg", "avg({s}.amount where status = 'done')"),
    ("pct", "p95({s}.latency_ms where channel = 'chat')"),
    ("ratio", "sum({s}.amount) / count({s} where not flagged)"),
    ("avg", "avg({s}.score)"),
    ("ratio", "count({s} where flagged and status in ('open', 'pending')) / count({s})"),
    ("count", "count({s} where tokens between 10 and 500)"),
    ("pct", "quantile({s}.tokens where ok, 0.9)"),
    ("sum", "sum({s}.tokens)"),
    ("distinct", "count_distinct({s}.session_id where region = 'eu')"),
]


def _metrics(n: int, sources: list[str]) -> list[tuple[str, str, str]]:
    """Return (name, kind, expression) for n metrics: 70% base, 30% built on earlier ones."""
    out: list[tuple[str, str, str]] = []
    ratios: list[str] = []
    base = 0
    for i in range(n):
        name = f"m{i:05d}"
        slot = i % 10
        if slot == 7 and len(ratios) >= 3:
            a, b, c = ratios[-1], ratios[-2], ratios[-3]
            out.append((name, "weighted", f"weighted({a}: 0.5, {b}: 0.3, 1 - {c}: 0.2)"))
        elif slot == 8 and len(ratios) >= 2:
            out.append((name, "derived", f"{ratios[-1]} * {ratios[-2]}"))
        elif slot == 9 and ratios:
            out.append((name, "derived", f"1 - {ratios[-1]}"))
        elif slot == 6 and ratios:
            out.append((name, "rolling", f"rolling({ratios[-1]}, 7 days)"))
        else:
            # Runs of ten base metrics share a source, so an experiment (drawn from 50
            # consecutive metrics) touches about four sources, as real ones do.
            source = sources[base // 10 % len(sources)]
            if source in ("messages", "conversations", "feedback"):
                kind, expr = SUPPORT_BASE[(base + base // 10) % len(SUPPORT_BASE)]
            else:
                kind, expr = SYNTHETIC_BASE[(base + base // 10) % len(SYNTHETIC_BASE)]
                expr = expr.format(s=source)
            base += 1
            out.append((name, kind, expr))
            if kind == "ratio":
                ratios.append(name)
    return out


def _direction(kind: str) -> str:
    """Percentiles (latencies, token counts) are better low; everything else high."""
    return "down" if kind == "pct" else "up"


def _dsl_metric(name: str, kind: str, expr: str, i: int) -> str:
    direction = _direction(kind)
    fmt = "percent" if kind in ("ratio", "weighted", "derived", "rolling") else "number"
    return (f'metric {name} "Metric {i}" = {expr} {{\n'
            f'  description "Synthetic {kind} metric number {i}."\n'
            f'  direction {direction}; format {fmt}; owner "team-{i % 7}"; tags bench, {kind}\n'
            f"}}\n")


def _yaml_metric(name: str, kind: str, expr: str, i: int) -> str:
    direction = _direction(kind)
    fmt = "percent" if kind in ("ratio", "weighted", "derived", "rolling") else "number"
    quoted = expr.replace('"', '\\"')
    return (f"  {name}:\n    label: Metric {i}\n    description: Synthetic {kind} metric {i}.\n"
            f'    expr: "{quoted}"\n    direction: {direction}\n    format: {fmt}\n'
            f"    owner: team-{i % 7}\n    tags: [bench, {kind}]\n")


def _experiment(j: int, chosen: list[str], guardrails: list[str],
                directions: dict[str, str]) -> str:
    primary, secondary = chosen[0], chosen[1:]
    lines = [
        f'experiment exp_{j:04d} "Synthetic experiment {j}" {{',
        '  owner "experimentation"',
        "  unit user_id",
        f"  assignment assignments variant variant where experiment_id = 'exp_{j:04d}'",
        "  variants control 50% control, treatment 50%",
        "  window 2026-10-01 .. 2026-10-14",
        f"  primary {primary}",
        f"  secondary {', '.join(secondary)}",
    ]
    lines += [f"  guardrail {g} max_increase 10%" if directions[g] == "down"
              else f"  guardrail {g} max_decrease 5%" for g in guardrails]
    lines.append("  alpha 0.05; power 0.8; mde 2% relative; correction holm")
    if j % 2 == 0:
        lines.append("  cuped 14 days")
    if j % 3 == 0:
        lines.append("  segments platform")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_repo(root: str | Path, n_metrics: int) -> dict[str, int]:
    """Write a synthetic spec repo of `n_metrics` metrics under `root`; return object counts."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    n_sources = max(5, n_metrics // METRICS_PER_SOURCE)
    synthetic = [f"ev_{k:04d}" for k in range(n_sources - 5)]
    (root / "sources.mspec").write_text(
        SUPPORT_SOURCES + "".join(SYNTHETIC_SOURCE.format(name=s, i=k)
                                  for k, s in enumerate(synthetic)), encoding="utf-8")
    event_sources = ["messages", "conversations", "feedback", *synthetic]
    metrics = _metrics(n_metrics, event_sources)
    kinds = {name: kind for name, kind, _ in metrics}
    directions = {name: _direction(kind) for name, kind in kinds.items()}

    # Metric files: 50 metrics each; every fifth file is YAML.
    (root / "metrics").mkdir(exist_ok=True)
    for f, start in enumerate(range(0, n_metrics, METRICS_PER_FILE)):
        chunk = metrics[start:start + METRICS_PER_FILE]
        if f % 5 == 4:
            body = "metrics:\n" + "".join(_yaml_metric(n, k, e, start + i)
                                          for i, (n, k, e) in enumerate(chunk))
            (root / "metrics" / f"group_{f:04d}.yaml").write_text(body, encoding="utf-8")
        else:
            body = "\n".join(_dsl_metric(n, k, e, start + i) for i, (n, k, e) in enumerate(chunk))
            (root / "metrics" / f"group_{f:04d}.mspec").write_text(body, encoding="utf-8")

    # Experiments: one per 50 metrics, ~10 metrics each drawn from that block of 50 (no
    # rolling windows: an experiment analyses one window); 2 guardrails (a percentile if any).
    (root / "experiments").mkdir(exist_ok=True)
    n_exp = max(1, n_metrics // METRICS_PER_EXPERIMENT)
    for j in range(n_exp):
        block = [name for name, kind, _ in metrics[j * 50:(j + 1) * 50] if kind != "rolling"]
        pcts = [n for n in block if kinds[n] == "pct"]
        chosen = [n for n in block if kinds[n] != "pct"][:8]
        guardrails = (pcts[:1] + [n for n in block if kinds[n] == "ratio"
                                  and n not in chosen][:1]) or chosen[-1:]
        (root / "experiments" / f"exp_{j:04d}.mspec").write_text(
            _experiment(j, chosen, guardrails, directions), encoding="utf-8")

    # KPI trees: one per 100 metrics; the north star is a product metric with drivers.
    n_kpi = max(1, n_metrics // METRICS_PER_KPI)
    kpis = []
    for k in range(n_kpi):
        block = metrics[k * 100:(k + 1) * 100]
        products = [(name, expr) for name, kind, expr in block
                    if kind == "derived" and " * " in expr]
        star, expr = products[0]
        left, right = expr.split(" * ")
        drivers = [name for name, kind, _ in block if kind in ("ratio", "avg", "pct")
                   and name not in (left, right)][:4]
        kpis.append(
            f'kpi tree_{k:04d} "Synthetic KPI tree {k}" {{\n  owner "team-{k % 7}"\n'
            f"  north_star {star}\n  {star} <- product({left}, {right})\n"
            f"  {left} <- drivers({drivers[0]}, {drivers[1]})\n"
            f"  {right} <- drivers({drivers[2]}, {drivers[3]})\n}}\n")
    (root / "kpis.mspec").write_text("\n".join(kpis), encoding="utf-8")

    # Monitors: one per 100 metrics, on a ratio metric.
    n_mon = max(1, n_metrics // METRICS_PER_MONITOR)
    ratios = [name for name, kind, _ in metrics if kind == "ratio"]
    monitors = []
    for k in range(n_mon):
        metric = ratios[(k * 7) % len(ratios)]
        rule = ("below baseline by 15%" if k % 2 == 0 else "zscore above 4")
        monitors.append(
            f'monitor mon_{k:04d} "Synthetic monitor {k}" {{\n  owner "team-{k % 7}"\n'
            f"  metric {metric}\n  every 1 hour\n  baseline trailing 1 day\n"
            f"  alert when {rule}\n  min_n 200\n}}\n")
    (root / "monitors.mspec").write_text("\n".join(monitors), encoding="utf-8")
    return {"metrics": n_metrics, "sources": n_sources, "experiments": n_exp,
            "kpis": n_kpi, "monitors": n_mon}
