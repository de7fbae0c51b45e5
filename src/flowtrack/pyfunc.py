"""MLflow's generic model interface: ``flowtrack.pyfunc.load_model(uri).predict(df)``,
which checks the input against the model's signature first."""

from __future__ import annotations

from .tracking.flavors.saved_model import PyFuncModel
from .tracking.flavors.saved_model import load_pyfunc as load_model

__all__ = ["PyFuncModel", "load_model"]
