"""MLflow's generic model interface: ``flowtrack.pyfunc.load_model(uri).predict(df)``,
which checks the input against the model's signature first."""

from __future__ import annotations

from .tracking._models import PyFuncModel
from .tracking._models import load_pyfunc as load_model

__all__ = ["PyFuncModel", "load_model"]
