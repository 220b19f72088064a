"""Totals data/input.csv. Run File in Pod runs it in the pod from the project's root, with the
root importable: the package import and the relative data path work as they do here."""
from pathlib import Path

from app.util import parse_row, total

lines = Path("data/input.csv").read_text().splitlines()[1:]
rows = [parse_row(line) for line in lines if line.strip()]
print(f"{len(rows)} orders, total {total(rows):.2f}")
