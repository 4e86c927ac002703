"""Terminal rendering with rich: sample-ratio check first, then metrics, guardrails and the
decision with its reasons."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from metricspec.report.experiment import ExperimentReport, MetricRow
from metricspec.report.monitor import MonitorReport
from metricspec.safetext import printable

_VERDICT_STYLE = {"win": "bold green", "loss": "bold red", "flat": "dim", "changed": "yellow",
                  "insufficient data": "yellow"}
_STATUS_STYLE = {"pass": "green", "fail": "bold red", "inconclusive": "yellow",
                 "insufficient data": "yellow"}
LABEL_WIDTH = 40  # columns of a label in a table
_DECISION_STYLE = {"ship": "bold white on green", "don't ship": "bold white on red",
                   "inconclusive": "bold black on yellow",
                   "cannot analyse": "bold black on yellow"}
_SRM_MARK = {"passed": ("✓ ", "green"), "failed": ("✗ ", "bold red"),
             "not_run": ("– ", "yellow")}


def plain(text: object, style: str = "", *, multiline: bool = False) -> Text:
    """Text from a spec or a warehouse as a terminal shows it: never rich markup, and with
    control characters (ANSI escapes, carriage returns, bells) made visible."""
    return Text(printable(str(text), keep="\n" if multiline else ""), style=style)


def _metrics_table(rows: tuple[MetricRow, ...], title: str, segments: bool = False) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold", expand=False)
    several = len({r.treatment for r in rows}) > 1
    columns = [("metric", "left"), ("role", "left")]
    if segments:
        columns.insert(0, ("segment", "left"))
    if several:
        columns.append(("treatment", "left"))
    columns += [("control", "right"), ("treatment" if not several else "value", "right"),
                ("Δ", "right"), ("lift", "right"), ("CI of Δ", "right"), ("p", "right"),
                ("adj. p", "right"), ("verdict", "left")]
    for name, justify in columns:
        # A long label is cut (…), so it cannot squeeze the numbers out of the table.
        table.add_column(name, justify=justify, no_wrap=name != "verdict",  # type: ignore[arg-type]
                         max_width=LABEL_WIDTH if name in ("metric", "segment") else None,
                         min_width=12 if name == "verdict" else None)
    for r in rows:
        cells: list[str | Text] = [r.label, r.role]
        if segments:
            cells.insert(0, f"{r.segment}={r.segment_value}")
        if several:
            cells.append(r.treatment)
        cells += [r.control, r.treatment_value, r.absolute, r.relative, r.interval, r.p_value,
                  r.adjusted_p_value]
        table.add_row(*[plain(cell) for cell in cells],
                      plain(r.verdict + (f" ({r.note})" if r.note else ""),
                            _VERDICT_STYLE.get(r.verdict, "")))
    return table


def render_experiment(report: ExperimentReport, console: Console,
                      show_segments: bool = True) -> None:
    header = Text.assemble(plain(report.label, "bold"), "\n",
                           plain(f"experiment {report.name}", "dim"))
    if report.description:
        header.append("\n")
        header.append_text(plain(report.description, "italic", multiline=True))
    header.append("\n")
    header.append_text(plain(f"window {report.window} · unit {report.unit} · "
                             f"{report.variants}"))
    header.append("\n")
    header.append_text(plain(f"warehouse {report.warehouse}", "dim"))
    console.print(Panel(header, expand=False))
    # passed ✓, failed ✗, not run – (a check that did not run is never shown as passed)
    srm_mark, srm_style = _SRM_MARK.get(report.srm_status, ("– ", "yellow"))
    console.print(Text.assemble(("Sample ratio ", "bold"), (srm_mark, srm_style),
                                plain(report.srm, srm_style)))
    if report.srm_ok is False:
        console.print(Text("The split differs from the design: the results below cannot be "
                           "trusted until the assignment is fixed.", style="bold red"))
    console.print()
    console.print(_metrics_table(report.metrics, "Metrics"))
    if report.guardrails:
        table = Table(title="Guardrails", title_justify="left", header_style="bold")
        for name in ("metric", "treatment", "margin", "estimate", "one-sided bound", "status"):
            table.add_column(name, max_width=LABEL_WIDTH if name == "metric" else None,
                             no_wrap=name == "metric")
        for g in report.guardrails:
            table.add_row(*[plain(cell) for cell in (g.label, g.treatment, g.margin,
                                                     g.estimate, g.bound)],
                          plain(g.status, _STATUS_STYLE.get(g.status, "")))
        console.print(table)
    if show_segments and report.segments:
        console.print(_metrics_table(report.segments, "Segments (exploratory)", segments=True))
    decision = Text(f" {report.decision.upper()} ",
                    style=_DECISION_STYLE.get(report.decision, "bold white on red"))
    reasons = Group(*[plain(f"• {reason}") for reason in report.reasons])
    console.print(Panel(Group(Text.assemble(("Decision ", "bold"), decision), reasons),
                        expand=False))
    console.print(plain("Conventions: " + "; ".join(report.conventions), "dim"))


def render_monitor(report: MonitorReport, console: Console) -> None:
    title = f"{report.kind} {report.name}: {report.metric} {report.rule}"
    if report.status == "insufficient_data":
        windows = report.coverage[0] if report.coverage else 0
        console.print(Text.assemble(("– ", "yellow"), plain(title, "bold"), plain(
            f" — insufficient data {report.range}: none of {windows} window(s) had "
            f"{report.min_n} or more events")))
        return
    if not report.alerts:
        judged = ""
        if report.coverage is not None and report.coverage[1] < report.coverage[0]:
            judged = (f" ({report.coverage[1]} of {report.coverage[0]} window(s) had enough "
                      f"data)")
        console.print(Text.assemble(("✓ ", "green"), plain(title, "bold"),
                                    plain(f" — no window in alert {report.range}{judged}")))
        return
    table = Table(title=plain(f"✗ {title} — {len(report.alerts)} window(s) in alert "
                              f"{report.range}"),
                  title_justify="left", title_style="bold red", header_style="bold")
    for column in report.columns:
        table.add_column(plain(column),
                         justify="left" if column in report.text_columns else "right")
    for alert in report.alerts:
        table.add_row(*[plain(cell) for cell in alert])
    console.print(table)
