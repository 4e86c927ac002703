"""Terminal rendering with rich: sample-ratio check first, then metrics, guardrails and the
decision with its reasons."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from metricspec.report.diagnostics import (
    bulleted,
    render_adjusted,
    render_diagnostics,
    render_not_run,
)
from metricspec.report.experiment import ExperimentReport, MetricRow
from metricspec.report.monitor import MonitorReport
from metricspec.safetext import printable

_VERDICT_STYLE = {"win": "bold green", "loss": "bold red", "flat": "dim", "changed": "yellow",
                  "insufficient data": "yellow"}
_STATUS_STYLE = {"pass": "green", "fail": "bold red", "inconclusive": "yellow",
                 "insufficient data": "yellow"}
_DECISION_STYLE = {"ship": "bold white on green", "don't ship": "bold white on red",
                   "inconclusive": "bold black on yellow",
                   "cannot analyse": "bold black on yellow"}
_SRM_MARK = {"passed": ("✓ ", "green"), "failed": ("✗ ", "bold red"),
             "not_run": ("– ", "yellow")}


def plain(text: object, style: str = "", *, multiline: bool = False) -> Text:
    """Text from a spec or a warehouse as a terminal shows it: never rich markup, and with
    control characters (ANSI escapes, carriage returns, bells) made visible."""
    return Text(printable(str(text), keep="\n" if multiline else ""), style=style)


def _needed_width(columns: list[tuple[str, list[str], bool]]) -> int:
    """Columns a table needs to show every cell in full: a column that may wrap needs its
    longest word, one that may not its longest cell (each plus two of padding and a rule)."""
    total = 1
    for header, cells, wraps in columns:
        texts = [header, *cells]
        if wraps:
            total += max(cell_len(word) for text in texts for word in text.split() or [""])
        else:
            total += max(cell_len(text) for text in texts)
        total += 3
    return total


def _verdict(r: MetricRow) -> str:
    return r.verdict + (f" ({r.note})" if r.note else "")


def _metrics_columns(rows: tuple[MetricRow, ...], segments: bool,
                     with_n: bool) -> list[tuple[str, str, list[str], bool]]:
    """(header, justify, cells, may wrap) of the metrics table."""
    several = len({r.treatment for r in rows}) > 1
    columns: list[tuple[str, str, list[str], bool]] = []
    if segments:
        columns.append(("segment", "left", [f"{r.segment}={r.segment_value}" for r in rows],
                        True))
    columns += [("metric", "left", [r.label for r in rows], True),
                ("role", "left", [r.role for r in rows], False)]
    if several:
        columns.append(("treatment", "left", [r.treatment for r in rows], False))
    if with_n:
        columns.append(("n", "right", [f"{r.control_n} / {r.treatment_n}" for r in rows],
                        False))
    columns += [
        ("control", "right", [r.control for r in rows], False),
        ("value" if several else "treatment", "right", [r.treatment_value for r in rows],
         False),
        ("Δ", "right", [r.absolute for r in rows], False),
        ("lift", "right", [r.relative for r in rows], False),
        ("CI of Δ", "right", [r.interval for r in rows], False),
        ("p", "right", [r.p_value for r in rows], False),
        ("adj. p", "right", [r.adjusted_p_value for r in rows], False),
        ("verdict", "left", [_verdict(r) for r in rows], True)]
    return columns


def _table(title: str, columns: list[tuple[str, str, list[str], bool]],
           styles: list[str]) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold", expand=False)
    for header, justify, cells, wraps in columns:
        # a column that wraps keeps room for its longest word: rich would otherwise fold it
        longest = max(cell_len(word) for text in (header, *cells) for word in text.split()
                      or [""])
        table.add_column(header, justify=justify, no_wrap=not wraps,  # type: ignore[arg-type]
                         overflow="fold", min_width=longest if wraps else None)
    for i, style in enumerate(styles):  # the style is the verdict's or the status's
        row = [plain(cells[i]) for _, _, cells, _ in columns]
        verdict = next(j for j, (h, *_) in enumerate(columns) if h in ("verdict", "status"))
        row[verdict].stylize(style)
        table.add_row(*row)
    return table


def _metrics_section(rows: tuple[MetricRow, ...], title: str, width: int,
                     segments: bool = False) -> RenderableType:
    """The metrics as a table when it fits ``width`` in full (with n per arm if there is
    room), else one block per metric."""
    styles = [_VERDICT_STYLE.get(r.verdict, "") for r in rows]
    for with_n in (True, False):
        columns = _metrics_columns(rows, segments, with_n)
        if _needed_width([(h, c, w) for h, _, c, w in columns]) <= width:
            return _table(title, columns, styles)
    blocks: list[RenderableType] = [Text(title, style="italic")]
    for r, style in zip(rows, styles, strict=True):
        head = Text.assemble(plain(r.label, "bold"), plain(f" · {r.role} · {r.treatment}"))
        if segments:
            head = Text.assemble(plain(f"{r.segment}={r.segment_value} · ", "bold"), head)
        lines = [f"control {r.control} (n {r.control_n}) · treatment {r.treatment_value} "
                 f"(n {r.treatment_n})",
                 f"Δ {r.absolute} · lift {r.relative} · CI {r.interval}",
                 f"p {r.p_value} · adj. p {r.adjusted_p_value}"]
        body = [plain(line) for line in lines]
        body.append(Text.assemble("verdict ", plain(_verdict(r), style)))
        blocks.append(Group(head, Padding(Group(*body), (0, 0, 0, 2))))
    return Group(*blocks)


def _guardrail_section(report: ExperimentReport, width: int) -> RenderableType:
    rows = report.guardrails
    columns: list[tuple[str, str, list[str], bool]] = [
        ("metric", "left", [g.label for g in rows], True),
        ("treatment", "left", [g.treatment for g in rows], False),
        ("margin", "right", [g.margin for g in rows], False),
        ("estimate", "right", [g.estimate for g in rows], False),
        ("one-sided bound", "right", [g.bound for g in rows], False),
        ("status", "left", [g.status for g in rows], False),
        ("why", "left", [g.reason for g in rows], True)]
    styles = [_STATUS_STYLE.get(g.status, "") for g in rows]
    # the reason wraps: it needs room for a few words a line, not just its longest one
    needed = _needed_width([(h, c, w) for h, _, c, w in columns]) + 20
    if needed <= width:
        return _table("Guardrails", columns, styles)
    blocks: list[RenderableType] = [Text("Guardrails", style="italic")]
    for g, style in zip(rows, styles, strict=True):
        body = [plain(f"margin {g.margin} · estimate {g.estimate} · one-sided bound {g.bound}"),
                Text.assemble("status ", plain(g.status, style)), plain(g.reason, "dim")]
        blocks.append(Group(Text.assemble(plain(g.label, "bold"), plain(f" · {g.treatment}")),
                            Padding(Group(*body), (0, 0, 0, 2))))
    return Group(*blocks)


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
    if report.scan_summary:
        header.append("\n")
        header.append_text(plain(report.scan_summary, "dim"))
    if report.pinned:
        header.append("\n")
        header.append_text(plain(report.pinned, "dim"))
    console.print(Panel(header, expand=False))
    # passed ✓, failed ✗, not run – (a check that did not run is never shown as passed)
    srm_mark, srm_style = _SRM_MARK.get(report.srm_status, ("– ", "yellow"))
    console.print(Text.assemble(("Sample ratio ", "bold"), (srm_mark, srm_style),
                                plain(report.srm, srm_style)))
    if report.srm_ok is False:
        console.print(Text("The split differs from the design: the results below cannot be "
                           "trusted until the assignment is fixed.", style="bold red"))
    if report.diagnostics is not None:
        render_diagnostics(report.diagnostics, console)
    else:
        render_not_run(console)
    console.print()
    console.print(_metrics_section(report.metrics, "Metrics", console.width))
    render_adjusted(report.adjusted, console)
    if report.guardrails:
        console.print(_guardrail_section(report, console.width))
    if show_segments and report.segments:
        console.print(_metrics_section(report.segments, "Segments (exploratory)",
                                       console.width, segments=True))
    decision = Text(f" {report.decision.upper()} ",
                    style=_DECISION_STYLE.get(report.decision, "bold white on red"))
    reasons = Group(*[bulleted(plain(reason)) for reason in report.reasons])
    console.print(Panel(Group(Text.assemble(("Decision ", "bold"), decision), reasons),
                        expand=False))
    if report.designs:
        console.print(Panel(Group(*[bulleted(plain(line)) for line in report.designs]),
                            title="Design", title_align="left", expand=False))
    console.print(plain("Conventions: " + "; ".join(report.conventions), "dim"))


def render_monitor(report: MonitorReport, console: Console) -> None:
    _render_monitor(report, console)
    if report.scan_summary:
        console.print(plain(f"  scanned: {report.scan_summary}", "dim"))


def _render_monitor(report: MonitorReport, console: Console) -> None:
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
