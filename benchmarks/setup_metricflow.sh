#!/usr/bin/env bash
# Install MetricFlow (dbt-metricflow with the DuckDB adapter) in its own virtual environment,
# for benchmarks/metricflow_compare.py. MetricFlow never enters metricspec's environment or
# dependencies: the benchmark runs it as a separate program.
#
#   bash benchmarks/setup_metricflow.sh            # -> .engines/metricflow-venv
#   MF_VENV=/tmp/mf bash benchmarks/setup_metricflow.sh
#
# Pins first (the combination seen to work on this machine); if they cannot be resolved,
# the newest releases. The script prints which one it installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MF_VENV:-$ROOT/.engines/metricflow-venv}"
PYTHON="${PYTHON:-python3}"

if [ -x "$VENV/bin/mf" ] && "$VENV/bin/python" -c "import metricflow, dbt_metricflow" 2>/dev/null; then
  echo "MetricFlow already installed in $VENV"
else
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  if ! "$VENV/bin/pip" install --quiet "dbt-metricflow[dbt-duckdb]==0.15.0" "dbt-core>=1.11,<1.12"; then
    echo "pinned install failed; trying the newest releases" >&2
    "$VENV/bin/pip" install --quiet "dbt-metricflow[dbt-duckdb]"
  fi
fi
"$VENV/bin/pip" list 2>/dev/null | grep -iE '^(metricflow|dbt-metricflow|dbt-core|dbt-duckdb|duckdb|dbt-semantic-interfaces|sqlglot) '
echo "MetricFlow venv: $VENV"
