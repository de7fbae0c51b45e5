"""The local resource budget: ``@resources`` as a concurrency limit on one machine.

Tasks of steps with ``@resources(cpu=, memory=)`` reserve that much of the
machine's cores and memory while they run; a task waits while the reservation
would overrun. Tasks without ``@resources`` reserve nothing (``--max-workers``
alone limits them). A request larger than the machine is clamped to the machine,
with a warning, so the task can still run alone.
"""

from __future__ import annotations

import os
from typing import Any


def machine_memory_mb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 20)
    except (ValueError, OSError, AttributeError):
        return 8192.0


class ResourceBudget:
    def __init__(self, console: Any, cpus: float | None = None,
                 memory_mb: float | None = None) -> None:
        self.total_cpu = float(cpus or os.cpu_count() or 1)
        self.total_memory = float(memory_mb or machine_memory_mb())
        self.used_cpu = 0.0
        self.used_memory = 0.0
        self.console = console
        self._warned: set[str] = set()

    def _clamp(self, step: str, cpu: float, memory: float) -> tuple[float, float]:
        if (cpu > self.total_cpu or memory > self.total_memory) and step not in self._warned:
            self._warned.add(step)
            self.console.error(
                f"Step '{step}' asks for @resources(cpu={cpu:g}, memory={memory:g}) but this "
                f"machine has {self.total_cpu:g} CPUs and {self.total_memory:.0f} MB; its tasks "
                "will run one at a time with the whole machine.")
        return min(cpu, self.total_cpu), min(memory, self.total_memory)

    def acquire(self, step: str, cpu: float, memory: float, others_running: bool) -> bool:
        if not cpu and not memory:
            return True
        cpu, memory = self._clamp(step, cpu, memory)
        fits = (self.used_cpu + cpu <= self.total_cpu + 1e-9
                and self.used_memory + memory <= self.total_memory + 1e-9)
        if not fits and others_running:
            return False
        self.used_cpu += cpu
        self.used_memory += memory
        return True

    def release(self, cpu: float, memory: float) -> None:
        if not cpu and not memory:
            return
        cpu, memory = min(cpu, self.total_cpu), min(memory, self.total_memory)
        self.used_cpu = max(0.0, self.used_cpu - cpu)
        self.used_memory = max(0.0, self.used_memory - memory)
