"""Code lines of a connector: non-blank lines that are neither comments nor docstrings
(docs/toolkit.md, "How much code").

    python bench/connector_loc.py [FILE...]

Without arguments it counts the example Pipedrive-shaped connector built on the connector
toolkit and prints the figure against the 348 lines the same connector took without it
(issue 18), as a ratio.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

EXAMPLE = (Path(__file__).resolve().parent.parent / "docs" / "examples"
           / "crmsync-example-pipedrive" / "crmsync_example_pipedrive" / "__init__.py")
#: The same connector written without the toolkit (issue 18).
WITHOUT_TOOLKIT = 348


def docstring_lines(source: str) -> set[int]:
    """Line numbers of module, class and function docstrings."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                end = body[0].end_lineno or body[0].lineno
                lines.update(range(body[0].lineno, end + 1))
    return lines


def code_lines(path: Path) -> int:
    """Non-blank lines holding a token other than a comment, outside docstrings."""
    source = path.read_text(encoding="utf-8")
    skip = docstring_lines(source)
    code: set[int] = set()
    ignored = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
               tokenize.DEDENT, tokenize.ENDMARKER)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in ignored:
            code.update(n for n in range(token.start[0], token.end[0] + 1) if n not in skip)
    return len(code)


def main(argv: list[str]) -> None:
    paths = [Path(a) for a in argv] or [EXAMPLE]
    total = sum(code_lines(p) for p in paths)
    for path in paths:
        print(f"{code_lines(path):5d}  {path}")
    if not argv:
        print(f"{total} code lines with the toolkit, {WITHOUT_TOOLKIT} without: "
              f"{total / WITHOUT_TOOLKIT:.2f} of the size (goal: under 0.50)")


if __name__ == "__main__":
    main(sys.argv[1:])
