"""The pre-run lint: pyflakes over the flow file, failing on real errors only.

Like Metaflow's pylint step, it catches mistakes (undefined names, syntax errors)
before a run starts instead of in the middle of it. Style findings such as unused
imports are reported but do not stop the run.
"""

from __future__ import annotations

from pathlib import Path

from pyflakes import api, messages
from pyflakes.reporter import Reporter

from .._errors import LintError

FATAL = (messages.UndefinedName, messages.UndefinedLocal, messages.UndefinedExport,
         messages.DuplicateArgument, messages.ReturnOutsideFunction,
         messages.YieldOutsideFunction, messages.ContinueOutsideLoop, messages.BreakOutsideLoop,
         messages.MultiValueRepeatedKeyLiteral, messages.TooManyExpressionsInStarredAssignment,
         messages.TwoStarredExpressions)


class _Collector(Reporter):
    def __init__(self) -> None:
        self.fatal: list[str] = []
        self.warnings: list[str] = []

    def unexpectedError(self, filename: str, msg: str) -> None:  # noqa: N802 - pyflakes API
        self.fatal.append(f"{filename}: {msg}")

    def syntaxError(self, filename: str, msg: str, lineno: int, offset: int | None,  # noqa: N802
                    text: str | None) -> None:
        self.fatal.append(f"{filename}:{lineno}: syntax error: {msg}")

    def flake(self, message: messages.Message) -> None:
        target = self.fatal if isinstance(message, FATAL) else self.warnings
        target.append(str(message))


def lint_file(path: str) -> list[str]:
    """Lint one file; raise LintError on errors, return the warnings."""
    try:
        source = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LintError(f"Cannot read the flow file {path} to lint it ({exc}); skip the lint "
                        "with --no-lint.") from None
    collector = _Collector()
    api.check(source, path, collector)
    if collector.fatal:
        raise LintError("The flow file has errors:\n  " + "\n  ".join(collector.fatal)
                        + "\nFix them, or skip this check with --no-lint.")
    return collector.warnings
