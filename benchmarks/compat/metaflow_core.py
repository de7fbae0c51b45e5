"""How much of Metaflow's own core test suite passes on flowtrack.

Metaflow tests its core with ``test/core/run_tests.py``: for every graph
(``graphs/*.json``) x test (``tests/*.py``) pair that its ``FlowFormatter`` accepts, it
generates ``test_flow.py`` and ``check_flow.py``, runs ``python test_flow.py
<top_options> run <run_options>`` (and ``resume`` for resume tests), then runs
``check_flow.py`` once per checker of the context: ``CliCheck`` (which drives
``test_flow.py dump/logs/tag ...``) and ``MetadataCheck`` (the client API). This harness
does the same for the context ``python3-all-local`` with the ``cli`` executor, but on
flowtrack: a generated ``metaflow`` package first on ``PYTHONPATH`` aliases every
Metaflow name to flowtrack's (see ``_shim.py``; Metaflow names flowtrack lacks become
placeholders that fail when used). It prints one line per pair, the pass rate, and the
failures grouped by test class and by a failure category derived from the output.

Metaflow's tests are read at run time from a git snapshot of Metaflow (``--metaflow-git``,
a bare git directory): ``test/core``, ``test/extensions`` and the ``metaflow`` package
are extracted into a temporary directory. Metaflow's test extensions
(``test/core/metaflow_extensions`` and the card packages of ``test/extensions``) are
installed the way flowtrack takes extensions, as entry points (``_extension_loader.py``). The real ``metaflow`` package is only used, in a child process, to
enumerate the pairs and generate their code with Metaflow's own ``FlowFormatter``
(``_generate.py``); every flow and checker runs on flowtrack. Nothing of Metaflow's is
copied into this repository.

Run (the whole suite takes about 25 minutes on 2 cores, now that nearly every pair
runs all its checkers)::

    python benchmarks/compat/metaflow_core.py --jobs 2
    python benchmarks/compat/metaflow_core.py --tests BasicArtifactTest --graphs nested-branches
    python benchmarks/compat/metaflow_core.py --jobs 2 --json results.json --keep /tmp/mfcore
    python benchmarks/compat/metaflow_core.py --list            # the pairs, without running

``--flowtrack-src DIR`` measures another flowtrack source tree than the installed one
(e.g. ``git archive HEAD src | tar -x -C /tmp/ft``, then ``--flowtrack-src /tmp/ft/src``).
After the summary a probe lists the options and commands of ``test_flow.py`` that
Metaflow's runner and ``CliCheck`` use and flowtrack's ``--help`` lacks
(``_cli_surface.py``), since a pair only shows its first failure.

Each pair runs in a fresh directory (its cwd, with ``FLOWTRACK_HOME`` inside it,
``FLOWTRACK_USER=tester`` and the context's ``env``) under a per-pair ``--timeout``.
Temporary directories are removed unless ``--keep DIR`` is given, which keeps every
pair's directory plus ``output.txt`` (each process's output, clipped).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _categorize  # noqa: E402
import _cli_surface  # noqa: E402
import _shim  # noqa: E402

DEFAULT_GIT = "/work/.mirror/Netflix+metaflow/repo"
DEFAULT_CONTEXT = "python3-all-local"
GENERATOR = Path(__file__).resolve().with_name("_generate.py")

# Metaflow's top-level options in the context -> flowtrack's (None: dropped), and why.
# Keys are whole options (``--datastore=local``; ``--datastore=s3`` is not dropped) or
# option names (the value is kept). Options in no table pass through unchanged, so a
# context flowtrack cannot serve fails visibly.
TOP_OPTIONS = {
    "--metadata=local": (None, "flowtrack's metadata is always its local store in "
                               "FLOWTRACK_HOME, which is what Metaflow's local metadata is"),
    "--datastore=local": (None, "flowtrack's default blob store is local "
                                "(FLOWTRACK_HOME/blobs), like Metaflow's local datastore"),
    "--environment=local": (None, "flowtrack has no environment backends: tasks run in the "
                                  "caller's interpreter, which is --environment=local"),
    "--event-logger=nullSidecarLogger": (None, "flowtrack has no event-logger sidecars; the "
                                               "null logger records nothing"),
    "--no-pylint": ("--no-lint", "flowtrack's switch to skip the lint before run/resume"),
    "--quiet": ("--quiet", "same option"),
}
# run/resume options: flowtrack has each under the same name, so they pass unchanged.
RUN_OPTIONS = {
    "--max-workers": ("--max-workers", "same option"),
    "--max-num-splits": ("--max-num-splits", "same option"),
    "--tag": ("--tag", "same option"),
    "--run-id-file": ("--run-id-file", "same option (added by run_tests.py)"),
}
# check_flow.py gets the mapped top-level options too (run_tests.py passes the context's):
# CliCheck hands them to every `test_flow.py dump/logs/tag ...` it runs, unchanged.

CLIP = 40_000  # characters kept of each stream of each process (head and tail)
_print_lock = threading.Lock()
_live_groups: set[int] = set()  # process groups of running commands, killed on Ctrl-C
_stopping = threading.Event()  # set on Ctrl-C: start no more commands


# -- options and snapshot -----------------------------------------------------------

def map_options(options: list[str], table: dict) -> list[str]:
    """Translate Metaflow options with ``table``; unknown ones pass through unchanged."""
    mapped = []
    for option in options:
        name, eq, value = option.partition("=")
        if option in table:
            target = table[option][0]
        else:
            target = table.get(name, (name, ""))[0]
            target = target and f"{target}{eq}{value}"
        if target is not None:
            mapped.append(target)
    return mapped


def extract_snapshot(git_dir: str, rev: str, dest: Path) -> str:
    """Extract ``test/core``, ``test/extensions`` and ``metaflow/`` of ``rev`` into
    ``dest``; return the commit."""
    commit = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", rev], check=True,
                            capture_output=True, text=True).stdout.strip()
    archive = subprocess.run(["git", "--git-dir", git_dir, "archive", "--format=tar", commit,
                              "test/core", "test/extensions", "metaflow"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        try:
            tar.extractall(dest, filter="data")
        except TypeError:  # Pythons before the extraction filters (3.10.12, 3.11.4)
            tar.extractall(dest)  # our own snapshot's archive
    return commit


def generate_pairs(python: str, src: Path, context: str) -> dict:
    """Enumerate the context's pairs with Metaflow's own code (see ``_generate.py``)."""
    core = src / "test" / "core"
    out = src / "pairs.json"
    env = {**_base_env(), "PYTHONPATH": f"{src}:{core}"}
    proc = subprocess.run([python, str(GENERATOR), str(core), context, str(out)], env=env,
                          cwd=core, capture_output=True, text=True, timeout=600)
    if proc.returncode:
        sys.exit(f"generating the pairs with Metaflow's FlowFormatter failed:\n{proc.stderr}")
    return json.loads(out.read_text(encoding="utf-8"))


def select(pairs: list[dict], tests: str, graphs: str) -> list[dict]:
    """The pairs whose test class and graph name are in the comma lists (empty: all)."""
    want_tests = {t.lower() for t in tests.split(",") if t}
    want_graphs = {g.lower() for g in graphs.split(",") if g}
    return [p for p in pairs
            if (not want_tests or p["test"].lower() in want_tests)
            and (not want_graphs or p["graph"].lower() in want_graphs)]


# -- running one pair ---------------------------------------------------------------

@dataclass
class Proc:
    """One process of a pair: what ran, how it ended, its (clipped) output."""

    stage: str
    cmd: list[str]
    rc: int
    seconds: float
    stdout: str
    stderr: str
    timed_out: bool = False


@dataclass
class PairResult:
    test: str
    graph: str
    passed: bool
    seconds: float
    stage: str = ""
    category: str = ""
    first_error: str = ""  # the error line the category was derived from
    key_lines: list[str] = field(default_factory=list)
    also: list[str] = field(default_factory=list)  # categories of later failed checkers


def _clip(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    if len(text) <= 2 * CLIP:
        return text
    return f"{text[:CLIP]}\n[... {len(text) - 2 * CLIP} characters clipped ...]\n{text[-CLIP:]}"


def run_process(stage: str, cmd: list[str], cwd: Path, env: dict, timeout: float) -> Proc:
    """Run ``cmd`` in its own process group; on timeout kill the whole group."""
    if _stopping.is_set():
        raise RuntimeError("interrupted")
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    _live_groups.add(proc.pid)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=max(timeout, 1))
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid)
        out, err = proc.communicate()
    finally:
        _kill_group(proc.pid)  # and stray task processes of a finished command
        _live_groups.discard(proc.pid)
    return Proc(stage, cmd, proc.returncode, time.monotonic() - start, _clip(out), _clip(err),
                timed_out)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _locale() -> str:
    """run_tests.py sets en_US.UTF-8; fall back to C.UTF-8 where that is not installed."""
    try:
        names = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout
    except OSError:
        return "C.UTF-8"
    return "en_US.UTF-8" if "en_US.utf8" in names.split() else "C.UTF-8"


_LOCALE = _locale()


def _base_env() -> dict:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": _LOCALE,
            "LC_ALL": _LOCALE, "PYTHONIOENCODING": "utf_8"}


def pair_env(context: dict, pair_dir: Path, pythonpath: list[str]) -> dict:
    """The environment run_tests.py builds, plus flowtrack's home and user."""
    env = {"USER": os.environ.get("USER", "tester")}
    nonce = str(uuid.uuid4())
    env.update({k: v.format(nonce=nonce) for k, v in context["env"].items()})
    env.update(_base_env())
    env.update({"FLOWTRACK_HOME": str(pair_dir / ".flowtrack"), "FLOWTRACK_USER": "tester",
                "PYTHONPATH": ":".join([*pythonpath, str(pair_dir)])})
    return env


def prepare_pair_dir(pair: dict, pair_dir: Path, core: Path) -> None:
    """Write the generated scripts and copy what run_tests.py copies."""
    pair_dir.mkdir(parents=True)
    (pair_dir / "test_flow.py").write_text(pair["flow_code"], encoding="utf-8")
    (pair_dir / "check_flow.py").write_text(pair["check_code"], encoding="utf-8")
    shutil.copytree(core / "metaflow_test", pair_dir / "metaflow_test")
    for name in pair["copy_files"]:
        shutil.copy2(core / "tests" / name, pair_dir / name)


@dataclass
class Setup:
    """What every pair shares."""

    python: str
    core: Path
    pythonpath: list[str]  # the shim, then --flowtrack-src if given
    work: Path
    context: dict
    top: list[str]
    run_opts: list[str]
    timeout: float
    keep: bool


def flow_command(setup: Setup, mode: str, args: list[str]) -> list[str]:
    """``run_tests.run_cmd``: python -B test_flow.py TOP MODE ARGS --run-id-file run-id RUN."""
    return [setup.python, "-B", "test_flow.py", *setup.top, mode, *args,
            "--run-id-file", "run-id", *setup.run_opts]


def execute_pair(pair: dict, setup: Setup, pair_dir: Path, env: dict) -> tuple[list[Proc], str]:
    """Run the pair as run_tests.run_test does; return its processes and the failed stage."""
    deadline = time.monotonic() + setup.timeout
    procs: list[Proc] = []

    def step(stage: str, cmd: list[str]) -> Proc:
        procs.append(run_process(stage, cmd, pair_dir, env, deadline - time.monotonic()))
        return procs[-1]

    run = step("run", flow_command(setup, "run", []))
    if run.timed_out:
        return procs, "run"
    if run.rc:
        if pair["should_resume"]:
            args = [pair["resume_step"]] if pair["resume_step"] else []
            if step("resume", flow_command(setup, "resume", args)).timed_out:
                return procs, "resume"
        elif not pair["should_fail"]:
            return procs, "run"
    elif pair["should_fail"]:
        return procs, "run-should-fail"
    if not (pair_dir / "run-id").exists():
        return procs, "run-id"
    run_id = (pair_dir / "run-id").read_text()
    failed = ""
    for check in setup.context["checks"]:
        klass = setup.context["check_defs"][check]["class"]
        proc = step(f"check:{klass}", [setup.python, "check_flow.py", klass, run_id, *setup.top])
        if proc.rc and not failed:
            failed = proc.stage
    return procs, failed


def run_pair(pair: dict, setup: Setup) -> PairResult:
    """Run one pair in a fresh directory and classify its failure, if any."""
    start = time.monotonic()
    pair_dir = setup.work / "pairs" / f"{pair['test']}--{pair['graph']}"
    prepare_pair_dir(pair, pair_dir, setup.core)
    env = pair_env(setup.context, pair_dir, setup.pythonpath)
    procs: list[Proc] = []
    try:
        procs, failed = execute_pair(pair, setup, pair_dir, env)
        result = PairResult(pair["test"], pair["graph"], not failed, 0.0, stage=failed)
        if failed and not _stopping.is_set():
            diagnosis = _categorize.diagnose(failed, procs, pair_dir, env)
            result.category, result.first_error, result.key_lines = diagnosis
            result.also = _later_check_failures(failed, procs, pair_dir, env, result.category)
    except Exception as exc:  # a harness bug must not stop the other pairs
        result = PairResult(pair["test"], pair["graph"], False, 0.0, stage="harness",
                            category=f"harness error: {type(exc).__name__}",
                            first_error=str(exc)[:200])
    result.seconds = time.monotonic() - start
    if setup.keep:
        _write_output(pair_dir / "output.txt", procs, result)
    else:
        shutil.rmtree(pair_dir, ignore_errors=True)
    return result


def _later_check_failures(failed: str, procs: list[Proc], pair_dir: Path, env: dict,
                          first: str) -> list[str]:
    """Categories of the checkers that failed after the first one (masked in the summary)."""
    later = [p for p in procs if p.stage.startswith("check:") and p.rc and p.stage != failed]
    found = [_categorize.diagnose(p.stage, procs, pair_dir, env)[0] for p in later]
    return [c for c in dict.fromkeys(found) if c != first]


def _write_output(path: Path, procs: list[Proc], result: PairResult) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(asdict(result), indent=1) + "\n")
        for proc in procs:
            f.write(f"\n===== {proc.stage}: rc={proc.rc} {proc.seconds:.1f}s "
                    f"timed_out={proc.timed_out}\n$ {' '.join(proc.cmd)}\n")
            f.write(f"----- stdout\n{proc.stdout}\n----- stderr\n{proc.stderr}\n")


# -- reporting ----------------------------------------------------------------------

def print_line(result: PairResult) -> None:
    status = "PASS" if result.passed else "FAIL"
    why = "" if result.passed else f"  [{result.category}] {result.first_error}"
    with _print_lock:
        print(f"{status} {result.test:44} {result.graph:32} {result.seconds:6.1f}s{why}",
              flush=True)


def print_summary(results: list[PairResult], examples: int) -> None:
    """Pass rate, failures by test class and by category, examples of the largest."""
    total = len(results)
    passed = sum(r.passed for r in results)
    print(f"\n== {passed}/{total} pairs passed ({100.0 * passed / max(total, 1):.1f}%)")
    reached = sum(r.passed or r.stage.startswith("check:") for r in results)
    stages = Counter(r.stage for r in results if not r.passed)
    print(f"   {reached}/{total} got through run/resume to the checkers; failed at: "
          + ", ".join(f"{stage} {n}" for stage, n in stages.most_common()))
    _print_by_test(results)
    ranked = _rank_categories(results)
    failed = total - passed
    print(f"\n== failures by category ({failed} pairs, {len(ranked)} categories; "
          "'+N later': N more pairs where a later checker failed this way too)")
    later = Counter(c for r in results for c in r.also)
    for category, members in ranked:
        extra = f" +{later[category]} later" if later[category] else ""
        print(f"{len(members):4}{extra:10}  {category}   <- "
              f"{_classes_text(Counter(r.test for r in members))}")
    for category in sorted(set(later) - {c for c, _ in ranked}):
        print(f"   0 +{later[category]} later  {category}")
    print(f"\n== the {min(examples, len(ranked))} largest categories, one example each")
    for category, members in ranked[:examples]:
        example = members[0]
        print(f"\n-- {category} ({len(members)}): {example.test} / {example.graph}, "
              f"failed at {example.stage}")
        for line in example.key_lines:
            print(f"     {line}")


def _rank_categories(results: list[PairResult]) -> list[tuple[str, list[PairResult]]]:
    by_category: dict[str, list[PairResult]] = defaultdict(list)
    for result in results:
        if not result.passed:
            by_category[result.category].append(result)
    return sorted(by_category.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def print_cli_surface(missing: list[str]) -> None:
    print("\n== command-line surface Metaflow's runner and CliCheck use that flowtrack "
          "lacks (from --help; pairs that fail earlier do not show these)")
    print("   " + ("\n   ".join(missing) if missing else "(none)"))


def _print_by_test(results: list[PairResult]) -> None:
    by_test: dict[str, list[PairResult]] = defaultdict(list)
    for result in results:
        by_test[result.test].append(result)
    print("\n== by test class (failed/pairs: categories)")
    for test, members in sorted(by_test.items()):
        bad = [r for r in members if not r.passed]
        cats = Counter(r.category for r in bad)
        text = "; ".join(f"{c} x{n}" for c, n in cats.most_common())
        print(f"{test:44} {len(bad):2}/{len(members):<2} {text or 'all pass'}")


def _classes_text(classes: Counter) -> str:
    shown = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in classes.most_common(6))
    more = len(classes) - 6
    return shown + (f", +{more} more classes" if more > 0 else "")


def shim_table(python: str, pythonpath: list[str]) -> dict:
    """What every shim entry resolves to, and which flowtrack it found."""
    env = {**_base_env(), "PYTHONPATH": ":".join(pythonpath)}
    proc = subprocess.run(_shim.describe_command(python), env=env, capture_output=True,
                          text=True, timeout=120)
    if proc.returncode:
        sys.exit(f"the metaflow shim does not import:\n{proc.stderr}")
    return json.loads(proc.stdout)


def print_header(commit: str, gen: dict, chosen: list[dict], setup: Setup,
                 shim: dict) -> None:
    counts = gen["counts"]
    print(f"Metaflow snapshot {commit[:12]}: {counts['tests']} tests x {counts['graphs']} "
          f"graphs; {counts['valid'] + counts['excluded']} valid pairs, "
          f"{counts['excluded']} excluded by context {gen['context']['name']!r} "
          f"({', '.join(sorted({e[0] for e in gen['excluded']}))}), "
          f"{counts['valid']} to run; {len(chosen)} selected.")
    print(f"flow command: python -B test_flow.py {' '.join(setup.top)} run|resume "
          f"--run-id-file run-id {' '.join(setup.run_opts)}")
    print(f"flowtrack measured: {shim['flowtrack']}")
    lacking = [row[0] for row in shim["rows"] if row[2] == "placeholder"]
    print(f"shim placeholders (flowtrack lacks): {', '.join(lacking)}\n", flush=True)


# -- main ---------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--metaflow-git", default=DEFAULT_GIT,
                   help="bare git directory of a Metaflow snapshot (default: %(default)s)")
    p.add_argument("--rev", default="HEAD", help="revision of the snapshot (default: HEAD)")
    p.add_argument("--context", default=DEFAULT_CONTEXT, help="context of contexts.json")
    p.add_argument("--tests", default="", help="comma list of test classes (default: all)")
    p.add_argument("--graphs", default="", help="comma list of graph names (default: all)")
    p.add_argument("--jobs", type=int, default=2, help="pairs run at once (default: 2)")
    p.add_argument("--timeout", type=float, default=300, help="seconds per pair (default: 300)")
    p.add_argument("--python", default=sys.executable, help="interpreter with flowtrack")
    p.add_argument("--flowtrack-src", metavar="DIR",
                   help="measure the flowtrack package in DIR (e.g. `git archive` of a commit's "
                        "src/) instead of the installed one: DIR goes first on PYTHONPATH "
                        "after the shim")
    p.add_argument("--keep", metavar="DIR", help="keep every pair's directory and output here")
    p.add_argument("--json", metavar="FILE", help="write per-pair results as JSON")
    p.add_argument("--examples", type=int, default=10, help="categories shown with an example")
    p.add_argument("--list", action="store_true", help="list the selected pairs and exit")
    p.add_argument("--show-shim", action="store_true",
                   help="print what every alias of the metaflow shim resolves to, and exit")
    return p.parse_args(argv)


def make_work_dir(keep: str | None) -> Path:
    if keep:
        path = Path(keep).resolve()
        if path.exists() and any(path.iterdir()):
            sys.exit(f"--keep {path}: the directory must be empty or new")
        path.mkdir(parents=True, exist_ok=True)
        return path
    return Path(tempfile.mkdtemp(prefix="flowtrack-mfcore-"))


def run_all(chosen: list[dict], setup: Setup, jobs: int) -> list[PairResult]:
    """Run the pairs ``jobs`` at a time, printing each result as it comes."""
    results = []
    pool = ThreadPoolExecutor(max_workers=max(jobs, 1))
    try:
        futures = [pool.submit(run_pair, pair, setup) for pair in chosen]
        for future in as_completed(futures):
            results.append(future.result())
            print_line(results[-1])
    except KeyboardInterrupt:
        _stopping.set()
        pool.shutdown(wait=False, cancel_futures=True)
        for pgid in list(_live_groups):
            _kill_group(pgid)
        raise
    pool.shutdown()
    order = {(p["test"], p["graph"]): i for i, p in enumerate(chosen)}
    return sorted(results, key=lambda r: order[(r.test, r.graph)])


def write_json(path: str, commit: str, gen: dict, setup: Setup, shim: dict,
               cli_missing: list[str], results: list[PairResult]) -> None:
    data = {
        "metaflow_commit": commit, "context": gen["context"]["name"], "counts": gen["counts"],
        "excluded": gen["excluded"], "top_options": setup.top, "run_options": setup.run_opts,
        "flowtrack": shim["flowtrack"], "shim": shim["rows"], "cli_missing": cli_missing,
        "passed": sum(r.passed for r in results), "total": len(results),
        "pairs": [{"pair": f"{r.test}/{r.graph}", **asdict(r)} for r in results],
    }
    Path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")


def make_setup(args: argparse.Namespace, work: Path, context: dict) -> Setup:
    core = work / "src" / "test" / "core"
    pythonpath = [str(_shim.write_shim(work / "shim", core / "metaflow_extensions",
                                       work / "src" / "test" / "extensions" / "packages"))]
    if args.flowtrack_src:
        pythonpath.append(str(Path(args.flowtrack_src).resolve()))
    return Setup(args.python, work / "src" / "test" / "core", pythonpath, work, context,
                 map_options(context["top_options"], TOP_OPTIONS),
                 map_options(context["run_options"], RUN_OPTIONS), args.timeout,
                 bool(args.keep))


def probe_cli(setup: Setup) -> list[str]:
    probe = setup.work / "cli-probe"
    env = {**_base_env(), "FLOWTRACK_HOME": str(probe / ".flowtrack"),
           "FLOWTRACK_USER": "tester", "PYTHONPATH": ":".join(setup.pythonpath)}
    return _cli_surface.missing_cli(setup.python, probe, env)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = make_work_dir(args.keep)
    try:
        commit = extract_snapshot(args.metaflow_git, args.rev, work / "src")
        gen = generate_pairs(args.python, work / "src", args.context)
        chosen = select(gen["pairs"], args.tests, args.graphs)
        if args.list:
            print("\n".join(f"{p['test']} {p['graph']}" for p in chosen))
            return 0
        setup = make_setup(args, work, gen["context"])
        shim = shim_table(args.python, setup.pythonpath)
        if args.show_shim:
            print(f"flowtrack: {shim['flowtrack']}")
            for name, target, status in shim["rows"]:
                print(f"{name:58} {target:44} {status}")
            return 0
        print_header(commit, gen, chosen, setup, shim)
        try:
            results = run_all(chosen, setup, args.jobs)
        except KeyboardInterrupt:
            print("\ninterrupted: the running pairs were stopped", file=sys.stderr)
            return 130
        print_summary(results, args.examples)
        cli_missing = probe_cli(setup)
        print_cli_surface(cli_missing)
        if args.json:
            write_json(args.json, commit, gen, setup, shim, cli_missing, results)
        return 0
    finally:
        if not args.keep:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: still clean up
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
