"""Print the workflow inventory: ``python -m execution_plane.catalog [--format text|markdown]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from execution_plane.catalog.inventory import INVENTORY, SUPPORTING
from execution_plane.catalog.record import WorkflowRecord

# plugins/execution_plane/catalog/__main__.py -> the repository root, where dags/ lives.
REPO_ROOT = Path(__file__).resolve().parents[3]

_HEADERS = ("key", "spec class", "rule class", "differs", "why", "implementation")
_DIFFERS_MARK = "*"


def dag_file_candidates(dag_id: str, repo_root: Path) -> list[Path]:
    """Where a DAG's file lives (docs/adr/0002-one-workflow-one-place.md): a workflow's ``dag.py``, another
    DAG of a workflow (``<dag_id>_dag.py``), or a toolkit DAG at the top of ``dags/``."""
    found = sorted((repo_root / "dags" / "workflows").glob(f"*/{dag_id}_dag.py"))
    return [
        Path("dags") / "workflows" / dag_id / "dag.py",
        Path("dags") / f"{dag_id}.py",
        *(path.relative_to(repo_root) for path in found),
    ]


def implementation_status(record: WorkflowRecord, repo_root: Path) -> str:
    """Whether the workflow has a DAG, and whether that DAG's file is in the repository."""
    if record.implementation is None:
        return "not implemented"
    candidates = dag_file_candidates(record.implementation, repo_root)
    present = [path for path in candidates if (repo_root / path).is_file()]
    dag_file, presence = (present[0], "present") if present else (candidates[0], "missing")
    return f"dag: {record.implementation} ({dag_file} {presence})"


def _text_row(record: WorkflowRecord, repo_root: Path) -> tuple[str, ...]:
    return (
        record.key,
        record.spec_class.value,
        record.rule_class.value,
        _DIFFERS_MARK if record.disagrees_with_spec else "",
        ", ".join(record.classification.criteria),
        implementation_status(record, repo_root),
    )


def render_text(records: Sequence[WorkflowRecord], repo_root: Path) -> str:
    """A fixed-width table with short reasons (the criteria that decided each class)."""
    rows = [_HEADERS, *(_text_row(record, repo_root) for record in records)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_HEADERS))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    differing = sum(record.disagrees_with_spec for record in records)
    return "\n".join(
        [
            line(rows[0]),
            line(["-" * width for width in widths]),
            *(line(row) for row in rows[1:]),
            "",
            f"{len(records)} workflows; {_DIFFERS_MARK} marks the {differing} where the rule's class differs "
            "from the spec's table (the rule's class applies).",
        ]
    )


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(records: Sequence[WorkflowRecord], repo_root: Path) -> str:
    """A markdown table with the full reasons."""
    lines = [
        "| " + " | ".join(header.capitalize() for header in _HEADERS) + " |",
        "|" + "|".join("---" for _ in _HEADERS) + "|",
    ]
    for record in records:
        cells = (
            f"`{record.key}`",
            record.spec_class.value,
            record.rule_class.value,
            "**yes**" if record.disagrees_with_spec else "",
            "; ".join(record.rule_reasons),
            implementation_status(record, repo_root),
        )
        lines.append("| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m execution_plane.catalog",
        description="Print the workflow inventory and the class the Temporal Candidate Rule gives each one.",
    )
    parser.add_argument("--format", choices=("text", "markdown"), default="text", help="table format")
    args = parser.parse_args(argv)
    render = render_markdown if args.format == "markdown" else render_text
    print(render(INVENTORY, REPO_ROOT))
    print("\nSupporting DAGs (the Compensation Logic Template, for every durable workflow):\n")
    print(render(SUPPORTING, REPO_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
