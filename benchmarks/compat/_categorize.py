"""Failure categories for ``metaflow_core.py``, derived from a failed pair's output.

A category names what flowtrack would have to build or change for the pair to get
further, as far as the output tells: a Metaflow name or module the shim could not
alias (``missing in flowtrack: metaflow.card``), a command-line option the checker
uses (``missing CLI option: dump --private``), an exception a step raised
(``step failed: AttributeError: ...``), a checker's assertion, a timeout. Messages are
normalised (run ids, flow class names, paths) so that pairs of different tests and
graphs with the same cause share a category.

When Metaflow's ``CliCheck`` fails because a ``test_flow.py`` command it ran failed, it
keeps that command's stderr to itself; the diagnosis then runs the command once more in
the pair's directory (``FLOWTRACK_TRACEBACK=1``) to read click's or flowtrack's error.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

# names that Metaflow's test/core gets from its own test extension (test/core/
# metaflow_extensions/test_org), not from Metaflow itself
EXTENSION_NAMES = {
    "metaflow.test_step_decorator", "metaflow.test_flow_decorator", "metaflow.tl_value",
    "metaflow.plugins.nondecoplugin", "metaflow.plugins.frameworks",
    "metaflow.plugins.frameworks.pytorch", "metaflow.metaflow_config",
    "metaflow.exception.MetaflowTestException",
}

TEST_CARDS = "metaflow.plugins.cards.card_modules.test_cards"

LACKS = re.compile(r"flowtrack has no equivalent of (metaflow[\w.]*)(?: \((\w+)[^)]*\))?")
CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")
NO_MODULE = re.compile(r"No module named '([\w.]+)'")
CALLED = re.compile(r"CalledProcessError: Command '(\[.*\])' returned non-zero exit status")
STEP_FAILED = re.compile(r"Step '(\w+)' \(task [^)]*\) failed: (.*?)(?:\. Fix the step.*)?$")
NO_OPTION = re.compile(r"No such option:? '?(-[\w-]+)'?")
NO_COMMAND = re.compile(r"No such command:? '?([\w-]+)'?")
LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ (?:\[[^\]]*\] )?")
EXC_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Failed|Lacks|Exit|Interrupt|"
                      r"Mismatch|Missing|NotFound|Warning)|[A-Za-z_][\w.]*\.[A-Z]\w*)(: .*)?$")
FROM_IMPORT = re.compile(r"from (metaflow[\w.]*) import \(?(\w+)")
HEADLINE = re.compile(r"^(Error|[A-Z][A-Za-z ]{2,40}): ")
GROUPS = {"tag", "card"}  # CLI groups: their subcommand is part of the command's name


def diagnose(stage: str, procs: list, pair_dir: Path, env: dict) -> tuple[str, str, list[str]]:
    """(category, first error line, key lines) for a pair that failed at ``stage``."""
    proc = _culprit(stage, procs)
    if proc.timed_out:
        return f"timeout ({proc.stage})", f"{proc.stage} did not finish in time", _tail(proc)
    if stage == "run-should-fail":
        return ("run succeeded but the test expects it to fail (SHOULD_FAIL)", "run exited 0",
                _tail(proc))
    if proc.stage.startswith("check:"):
        return _diagnose_check(proc, pair_dir, env)
    category, reason, lines = _diagnose_flow(proc)
    if stage == "run-id" and not category.startswith("missing"):
        category = f"no run-id file after {proc.stage}: {category}"
    return category, reason, lines


def _culprit(stage: str, procs: list):
    """The process whose output explains the failure."""
    by_stage = {p.stage: p for p in procs}
    resume = by_stage.get("resume")
    if stage == "run-id":
        return resume or by_stage["run"]
    if stage.startswith("check:") and resume is not None and resume.rc:
        return resume  # run_tests.py runs the checks after a failed resume too
    return by_stage.get(stage) or by_stage.get("run") or procs[-1]


# -- flow processes (run, resume) ----------------------------------------------------

def _diagnose_flow(proc) -> tuple[str, str, list[str]]:
    exc_line, block = last_exception(proc.stderr)
    line = exc_line or error_paragraph(proc.stderr) or _last_line(proc.stdout)
    step = STEP_FAILED.search(line)
    if step:
        inner = step.group(2)
        _, task_block = last_exception(_strip_log_prefixes(proc.stdout))
        category = (_name_category(inner, task_block)
                    or f"step failed: {_short(inner, task_block)}")
        return category, normalize(line), (task_block or _tail(proc))[-12:]
    named = _name_category(line, block)
    if named is None:
        usage = _usage_category(proc.stderr, _command_words(proc.cmd))
        message = re.sub(r"^(Run|Resume) failed: ", "", normalize(line))
        named = usage or f"{proc.stage} failed: {message}"
    return named, normalize(line), (block or _tail(proc))[-12:]


def _short(message: str, block: list[str]) -> str:
    """``Type: message``, normalised; a bare ``AssertionError`` gets its assert line."""
    message = normalize(message.split("; available:")[0])
    if message.rstrip(": ").endswith("AssertionError") and block:
        source = _failing_source(block)
        return f"AssertionError at `{source}`" if source else message
    return message


# -- checkers -----------------------------------------------------------------------

def _diagnose_check(proc, pair_dir: Path, env: dict) -> tuple[str, str, list[str]]:
    exc_line, block = last_exception(proc.stderr)
    line = exc_line or error_paragraph(proc.stderr) or _last_line(proc.stdout)
    lines = (block or _tail(proc))[-12:]
    called = CALLED.search(line)
    if called:
        return _diagnose_cli_call(ast.literal_eval(called.group(1)), line, pair_dir, env)
    named = _name_category(line, block)
    if named:
        return named, normalize(line), lines
    if "object is not iterable" in line and "Flow" in line:
        return ("FlowSpec instance not iterable (checkers do `for step in flow`)",
                normalize(line), lines)
    if "AssertLogFailed" in line and proc.stage == "check:CliCheck":
        return _diagnose_cli_log(proc, line, pair_dir, env), normalize(line), lines
    return f"check: {_check_detail(line, block)}", normalize(line), lines


def _check_detail(line: str, block: list[str]) -> str:
    """A checker's exception: type plus what was checked, without per-run values."""
    kind = line.split(":", 1)[0].rsplit(".", 1)[-1]
    if kind == "AssertArtifactFailed":
        found = re.search(r"expected (\w+)(\[\w+\])?=", line)
        what = "not found" if "key was not found" in line else "differs"
        return f"AssertArtifactFailed: artifact {found.group(1) if found else '?'} {what}"
    if kind in ("ExpectationFailed", "AssertionError", "AssertLogFailed", "AssertCardFailed"):
        source = _failing_source(block, prefer="check_flow.py")
        detail = f" at `{source}`" if source else ""
        if kind == "AssertLogFailed":
            detail = " (Task.stdout/stderr differs)" if "task." in line else " (log differs)"
        return f"{kind}{detail}"
    return normalize(line)


def _diagnose_cli_call(cmd: list[str], line: str, pair_dir: Path,
                       env: dict) -> tuple[str, str, list[str]]:
    """A ``test_flow.py`` command the CLI checker ran failed: run it again to see why."""
    words = _command_words(cmd)
    rerun = _rerun(cmd, pair_dir, env)
    usage = _usage_category(rerun.stderr, words)
    err_line, block = last_exception(rerun.stderr)
    err_line = err_line or error_paragraph(rerun.stderr) or "(no error output)"
    category = (usage or _name_category(err_line, block)
                or f"CLI `{words}` failed: {normalize(err_line)}")
    key = [f"$ {' '.join(cmd[1:])}"] + (block or rerun.stderr.strip().splitlines())[-10:]
    return category, normalize(line), key


def _diagnose_cli_log(proc, line: str, pair_dir: Path, env: dict) -> str:
    """CliCheck compares ``logs --stdout|--stderr``'s *stdout*: see where the text went."""
    found = re.search(r"Task '([^']+)' expected (\w+) log", line)
    if not found:
        return "check: AssertLogFailed (CLI logs differ)"
    top = [o for o in proc.cmd[4:] if o != "--quiet"]
    cmd = [proc.cmd[0], "test_flow.py", *top, "--quiet", "logs", f"--{found.group(2)}",
           found.group(1)]
    rerun = _rerun(cmd, pair_dir, env)
    if not rerun.stdout.strip() and rerun.stderr.strip():
        return f"CLI `logs --{found.group(2)}` prints the log on stderr (checker reads stdout)"
    return f"check: AssertLogFailed (CLI `logs --{found.group(2)}` text differs)"


def _rerun(cmd: list[str], pair_dir: Path, env: dict) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, cwd=pair_dir, env={**env, "FLOWTRACK_TRACEBACK": "1"},
                              capture_output=True, text=True, errors="replace", timeout=120)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, -1, "", "rerun timed out")


def _command_words(cmd: list[str]) -> str:
    """``dump`` or ``tag list``: the flow subcommand of a ``test_flow.py`` command line."""
    try:
        args = cmd[cmd.index("test_flow.py") + 1:]
    except ValueError:
        return "?"
    words = [a for a in args if not a.startswith("-")]
    if not words:
        return "?"
    return " ".join(words[:2]) if words[0] in GROUPS and len(words) > 1 else words[0]


def _usage_category(stderr: str, words: str) -> str | None:
    """click's usage errors: a missing option or command, or another usage mistake."""
    if "Usage:" not in stderr and "Error: No such" not in stderr:
        return None
    if (m := NO_OPTION.search(stderr)):
        return f"missing CLI option: {words} {m.group(1)}"
    if (m := NO_COMMAND.search(stderr)):
        return f"missing CLI command: {m.group(1)}"
    error = [ln for ln in stderr.splitlines() if ln.startswith("Error:")]
    return f"CLI usage error: {words}: {normalize(error[-1][7:]) if error else '?'}"


# -- shared helpers -----------------------------------------------------------------

def _name_category(line: str, block: list[str] | None = None) -> str | None:
    """A Metaflow name or module the shim has no flowtrack object for."""
    if (m := LACKS.search(line)):
        return _missing(m.group(1))
    if (m := CANNOT_IMPORT.search(line)) and m.group(2).startswith("metaflow"):
        return _missing(f"{m.group(2)}.{m.group(1)}")
    if (m := NO_MODULE.search(line)) and m.group(1).startswith("metaflow"):
        # name what the failing line imports, not just its first missing package
        source = FROM_IMPORT.match(_failing_source(block or []))
        if source and source.group(1).startswith(m.group(1)):
            return _missing(f"{source.group(1)}.{source.group(2)}")
        return _missing(m.group(1))
    return None


def _missing(qualname: str) -> str:
    if qualname in EXTENSION_NAMES or any(qualname.startswith(n + ".") for n in EXTENSION_NAMES):
        return f"Metaflow extension (test_org) not supported: {qualname}"
    if qualname.startswith(TEST_CARDS):  # card types Metaflow ships for its own tests
        return f"missing in flowtrack: {TEST_CARDS} (Metaflow's test card types)"
    return f"missing in flowtrack: {qualname}"


def last_exception(text: str) -> tuple[str, list[str]]:
    """The exception line of the last traceback in ``text`` and that traceback's lines."""
    lines = text.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.startswith("Traceback (most recent call")]
    if not starts:
        return "", []
    block = []
    for ln in lines[starts[-1]:]:
        block.append(ln)
        if len(block) > 1 and not ln.startswith(" ") and EXC_LINE.match(ln):
            return ln.strip(), block
    return (block[-1].strip() if block else ""), block


def _failing_source(block: list[str], prefer: str = "") -> str:
    """The source line under the innermost frame (or the innermost frame in ``prefer``)."""
    frames = [i for i, ln in enumerate(block) if ln.lstrip().startswith('File "')]
    if prefer:
        frames = [i for i in frames if prefer in block[i]] or frames
    for i in reversed(frames):
        if i + 1 < len(block) and not block[i + 1].lstrip().startswith('File "'):
            return normalize(block[i + 1].strip())[:80]
    return ""


def _strip_log_prefixes(text: str) -> str:
    return "\n".join(LOG_PREFIX.sub("", ln) for ln in text.splitlines())


def normalize(message: str) -> str:
    """Drop what differs between pairs with the same cause: ids, flow names, paths."""
    message = re.sub(r"/\S*/pairs/[^/\s]+/", "", message)
    message = re.sub(r"\[(SQL|parameters): .*?\]\s|\(Background on this error at: \S+\)", "",
                     message)
    message = re.sub(r"\b\w+Flow\b", "<Flow>", message)
    message = re.sub(r"\d{6,}", "<id>", message)
    message = re.sub(r"\s+", " ", message).strip()
    return message if len(message) <= 160 else message[:157] + "..."


def error_paragraph(text: str) -> str:
    """flowtrack's one-paragraph error (``Run failed: ...``, possibly several lines), joined;
    else the last line."""
    lines = [ln.rstrip() for ln in text.strip().splitlines()]
    starts = [i for i, ln in enumerate(lines) if HEADLINE.match(ln)]
    if not starts:
        return _last_line(text)
    return " ".join(ln.strip() for ln in lines[starts[-1]:] if ln.strip())


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _tail(proc, n: int = 12) -> list[str]:
    text = proc.stderr.strip() or proc.stdout.strip()
    return text.splitlines()[-n:]
