"""What `metricspec init` writes besides the example specs: the configuration, a GitHub
Actions workflow, a pre-commit configuration, editor settings and a short README.

The workflow is also the example of docs/ci.md (a test compares them), and every
`metricspec` command in it is checked against the command line's real commands and options.
"""

from __future__ import annotations

# bundled example specs copied into a new project: a small subset that checks on its own
EXAMPLE_SPECS = (
    "sources.mspec",
    "quality.mspec",
    "operations.yaml",
    "monitors.mspec",
    "experiments/summarizer_v2.mspec",
    "experiments/prompt_template_v3.yaml",
)

CONFIG = """\
# metricspec configuration: found by walking up from the current folder. Paths are relative
# to this file; ${NAME} is read from the environment. Command-line options and environment
# variables (METRICSPEC_WAREHOUSE) win over these values.

# spec files or folders
specs = ["specs"]

# the warehouse `run`, `query` and `monitor` use, e.g. "postgresql://analyst:${PGPASSWORD}@db/prod"
warehouse = "duckdb:///metricspec.duckdb"

# dialects `compile` writes (see `metricspec compile --help`)
dialects = ["duckdb"]

# output folders of `compile` and `docs`
out = "build"
site = "site"
"""

WORKFLOW = """\
# metricspec: check and compile the specs, and post what a pull request changes in meaning.
name: metricspec

on:
  pull_request:
    paths: ["specs/**", "metricspec.toml"]

permissions:
  contents: read
  pull-requests: write

jobs:
  specs:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0  # the base branch must be in the clone for the diff
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: pip install metricspec
      - name: Check
        run: metricspec check --format github
      - name: Compile
        run: metricspec compile --quiet
      - name: Semantic diff
        id: diff
        run: |
          set +e
          metricspec diff "origin/$GITHUB_BASE_REF" HEAD --format markdown > diff.md
          echo "status=$?" >> "$GITHUB_OUTPUT"
          metricspec diff "origin/$GITHUB_BASE_REF" HEAD --format github --no-sql
          exit 0
      - name: Post the diff on the pull request
        env:
          GH_TOKEN: ${{ github.token }}
          PR: ${{ github.event.pull_request.number }}
        run: |
          gh pr comment "$PR" --body-file diff.md --edit-last ||
            gh pr comment "$PR" --body-file diff.md
      - name: Fail on a breaking change
        if: steps.diff.outputs.status != '0'
        run: |
          echo "::error::metricspec diff: a breaking change; see the pull request comment"
          exit 1
"""

PRE_COMMIT = """\
# pre-commit hooks: `pre-commit install`, then every commit that touches specs is checked.
# The hooks run the metricspec installed in your environment (`language: system`).
repos:
  - repo: local
    hooks:
      - id: metricspec-check
        name: metricspec check
        entry: metricspec check --quiet
        language: system
        pass_filenames: false
        files: ^(specs/.*\\.(mspec|ya?ml)|metricspec\\.toml)$
      - id: metricspec-compile
        name: metricspec compile
        entry: metricspec compile --quiet
        language: system
        pass_filenames: false
        files: ^(specs/.*\\.(mspec|ya?ml)|metricspec\\.toml)$
"""

VSCODE = """\
{
  "yaml.schemas": {
    "./schema/metricspec.schema.json": ["specs/**/*.yaml", "specs/**/*.yml"]
  }
}
"""

GITIGNORE = """\
build/
site/
demo-reports/
metricspec.duckdb
"""

README = """\
# Metric specs

Metrics, KPI trees, experiments and monitors, defined once and reviewed like code
(metricspec).

```console
$ metricspec check                 # every problem, with file:line:col, no warehouse needed
$ metricspec compile               # SQL for each dialect of metricspec.toml into build/
$ metricspec demo                  # build the example warehouse (DuckDB) and run these specs
$ metricspec query csat --since -7d --by channel
$ metricspec run summarizer_v2     # an experiment's report
```

- `metricspec.toml`: where the specs are, the default warehouse, dialects, output folders.
- `specs/`: example specs to adapt (the DSL in `.mspec`, the same language in `.yaml`).
- `.github/workflows/metricspec.yml`: checks, compiles and comments the semantic diff on
  every pull request.
- `.pre-commit-config.yaml`: `pre-commit install` checks specs before each commit.
- `schema/metricspec.schema.json` and `.vscode/settings.json`: completion and validation of
  the YAML specs in editors.
"""
