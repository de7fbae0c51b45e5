"""Metaflow's ``metaflow.metaflow_current`` module path: the same ``current`` object
(and its class ``Current``) as ``flowtrack.current``, for code that imports it from
there."""

from __future__ import annotations

from .flow._current import Current, current

__all__ = ["Current", "current"]
