"""Fixtures for the reliability experiments: small tmpfs file systems that fill up.

``small_disk(size)`` mounts a tmpfs of that size (root only; the kernel refuses it
elsewhere) and unmounts it afterwards. Where mounting is not allowed the test is
skipped, saying so: these experiments need a real full disk, not an imitation.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _mount_tmpfs(target: Path, size: str) -> str | None:
    """Mount; None when it worked, else why not."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs",
                           str(target)], capture_output=True, text=True)
    return None if done.returncode == 0 else (done.stderr.strip() or "mount failed")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    mounted: list[Path] = []

    def make(size: str) -> Path:
        target = tmp_path / f"disk{len(mounted)}"
        target.mkdir()
        why_not = _mount_tmpfs(target, size)
        if why_not:
            pytest.skip(f"disk-full experiment skipped: cannot mount a {size} tmpfs here "
                        f"({why_not})")
        mounted.append(target)
        return target

    yield make
    for target in mounted:
        subprocess.run(["umount", "-l", str(target)], check=False)
