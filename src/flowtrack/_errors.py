"""The exception hierarchy every user-facing error in flowtrack derives from.

A ``FlowtrackError`` carries a message written for the user: one paragraph that names
the thing at fault and says how to fix it. The CLI prints it without a traceback
(``--traceback`` shows one); library callers catch the specific subclasses.
"""

from __future__ import annotations


class FlowtrackError(Exception):
    """Base of all errors a user can cause; ``str(err)`` is the whole message."""

    headline = "Error"
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MetaflowStyleError(FlowtrackError):
    """An error built with Metaflow's exception constructor (``msg="", lineno=None,
    source_file=None``), for the names ported code raises itself."""

    def __init__(self, msg: str = "", lineno: int | None = None,
                 source_file: str | None = None) -> None:
        super().__init__(msg)
        self.line_no, self.source_file = lineno, source_file


class ConfigurationError(FlowtrackError):
    headline = "Configuration error"


class GraphError(FlowtrackError):
    """The flow's DAG breaks a rule; carries the step, file and line at fault."""

    headline = "Flow graph error"

    def __init__(self, message: str, *, step: str | None = None, file: str | None = None,
                 line: int | None = None, rule: str | None = None) -> None:
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        full = f"{where}{message}"
        if rule:
            full += f" [rule: {rule}]"
        super().__init__(full)
        self.step, self.file, self.line, self.rule = step, file, line, rule


class ParameterError(FlowtrackError):
    headline = "Parameter error"


class ArtifactError(FlowtrackError):
    """A value assigned to ``self`` could not be stored or read back."""

    headline = "Artifact error"


class StepError(FlowtrackError):
    """A step was used wrongly at run time (bad ``self.next``, merge conflict...)."""

    headline = "Step error"


class MergeArtifactsError(StepError):
    headline = "Merge error"


class RunFailedError(FlowtrackError):
    headline = "Run failed"


class RunInterruptedError(RunFailedError):
    headline = "Run interrupted"
    exit_code = 130


class LintError(FlowtrackError):
    headline = "Lint error"


class NotFoundError(FlowtrackError, KeyError):
    """A flow, run, step, task or artifact named by the user does not exist."""

    headline = "Not found"

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return self.message


class StoreError(FlowtrackError):
    headline = "Store error"
