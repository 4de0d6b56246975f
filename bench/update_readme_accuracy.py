"""Write ``roofline accuracy --format markdown`` into the README between its accuracy markers:
``python bench/update_readme_accuracy.py`` (tests/test_accuracy.py checks the two agree)."""

from __future__ import annotations

from pathlib import Path

from simulator.accuracy import accuracy_table, format_markdown
from simulator.io import write_text

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- accuracy:start -->", "<!-- accuracy:end -->"


def main() -> None:
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    write_text(README, f"{head}{START}\n{format_markdown(accuracy_table())}\n{END}{tail}")
    print(f"updated {README}")


if __name__ == "__main__":
    main()
