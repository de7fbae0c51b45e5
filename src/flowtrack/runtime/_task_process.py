"""``python -m flowtrack.runtime._task_process JOB_FILE MANIFEST_FD``: one task attempt
in a fresh interpreter (the local executor's way to run a ``@pypi`` step).

The local executor has already pointed fd 1 and 2 at its pipes and put this process
in its own process group; this reads the job, loads the flow from the code package,
runs the task entry point and writes the manifest to ``MANIFEST_FD``, exactly as a
forked child does.
"""

from __future__ import annotations

import os
import sys

from ._code import install_as_main
from ._local import die_with_parent, line_buffered_stdio, report_crash, report_manifest
from ._task import run_task
from ._task_job import job_store, load_job_flow, read_job


def main(argv: list[str]) -> int:
    job_path, manifest_fd = argv[1], int(argv[2])
    die_with_parent()
    line_buffered_stdio()
    try:
        job = read_job(job_path)
        flow_cls, module = load_job_flow(job)
        install_as_main(module)
        manifest = run_task(job.spec, flow_cls, job_store(job.store_url))
        report_manifest(manifest_fd, manifest)
    except BaseException:  # noqa: BLE001 - the executor reports a crash without a manifest
        report_crash()
        return 1
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    os._exit(code)  # no interpreter teardown: nothing is left to flush
