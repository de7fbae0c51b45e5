"""Metaflow's ``metaflow.metaflow_current`` module path: the same ``current`` object
(and its class ``Current``) as ``flowtrack.current``, and the ``Parallel`` namedtuple of
``current.parallel``, for code that imports them from there."""

from __future__ import annotations

from .flow._current import Current, Parallel, current

__all__ = ["Current", "Parallel", "current"]
