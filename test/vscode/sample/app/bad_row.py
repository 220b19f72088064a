"""Parses a malformed line: Run File in Pod shows the traceback with local paths you can click."""
from app.util import parse_row

print(parse_row("pears,two,0.75"))
