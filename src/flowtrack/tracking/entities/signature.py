"""Model signatures: the columns (name and type) a model takes and returns, inferred
from an example as MLflow does, stored in the model's ``MLmodel`` file as MLflow's
JSON, and enforced before ``predict`` with errors that name the column at fault."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidParameterError

# MLflow's column types, from the numpy dtype kinds that map to them
_TYPES = {"b": "boolean", "i": "long", "u": "long", "f": "double", "U": "string",
          "S": "binary", "O": "string", "M": "datetime"}
_CASTABLE = {"double": ("double", "float", "long", "integer"),
             "float": ("float", "long", "integer"), "long": ("long", "integer"),
             "integer": ("integer",), "boolean": ("boolean",), "string": ("string",),
             "binary": ("binary",), "datetime": ("datetime",)}


@dataclass(frozen=True)
class ColSpec:
    type: str
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "required": True}
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass(frozen=True)
class Schema:
    columns: tuple[ColSpec, ...] = ()

    @property
    def has_names(self) -> bool:
        return all(c.name is not None for c in self.columns)

    def to_json(self) -> str:
        return json.dumps([c.to_dict() for c in self.columns])

    @staticmethod
    def from_json(text: str) -> Schema:
        return Schema(tuple(ColSpec(c["type"], c.get("name")) for c in json.loads(text)))


@dataclass(frozen=True)
class ModelSignature:
    inputs: Schema
    outputs: Schema | None = None
    params: Any = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": self.inputs.to_json(),
                "outputs": self.outputs.to_json() if self.outputs else None, "params": None}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ModelSignature:
        outputs = data.get("outputs")
        return ModelSignature(Schema.from_json(data["inputs"]),
                              Schema.from_json(outputs) if outputs else None)


def infer_signature(model_input: Any, model_output: Any = None) -> ModelSignature:
    """The signature of a model from an example input (and output): a DataFrame's
    columns, a dict of columns, a 2-D array's columns or a 1-D array."""
    return ModelSignature(_schema(model_input),
                          None if model_output is None else _schema(model_output))


def _schema(data: Any) -> Schema:
    import numpy as np
    import pandas as pd

    if isinstance(data, dict):
        data = pd.DataFrame(data)
    if isinstance(data, pd.Series):
        return Schema((ColSpec(_type(data.dtype), None if data.name is None else str(data.name)),))
    if isinstance(data, pd.DataFrame):
        return Schema(tuple(ColSpec(_type(data[c].dtype, data[c]), str(c)) for c in data.columns))
    array = np.asarray(data)
    if array.ndim == 1:
        return Schema((ColSpec(_type(array.dtype)),))
    if array.ndim == 2:
        return Schema(tuple(ColSpec(_type(array.dtype)) for _ in range(array.shape[1])))
    raise InvalidParameterError(f"Cannot infer a signature from {array.ndim}-dimensional data; "
                                "pass a DataFrame, a dict of columns, or a 1- or 2-D array.")


def _type(dtype: Any, values: Any = None) -> str:
    kind = getattr(dtype, "kind", "O")
    if kind == "f" and getattr(dtype, "itemsize", 8) == 4:
        return "float"
    if kind == "i" and getattr(dtype, "itemsize", 8) <= 4:
        return "integer"
    if kind == "O" and values is not None and len(values) and isinstance(values.iloc[0], bytes):
        return "binary"
    return _TYPES.get(kind, "string")


def enforce(signature: ModelSignature | None, model_input: Any) -> Any:
    """``model_input`` as the model expects it (a DataFrame with the signature's
    columns, in order, of castable types); InvalidParameterError naming what is
    missing or of the wrong type."""
    if signature is None or not signature.inputs.columns:
        return model_input
    import numpy as np
    import pandas as pd

    expected = signature.inputs
    if isinstance(model_input, dict):
        model_input = pd.DataFrame(model_input)
    if expected.has_names:
        if not isinstance(model_input, pd.DataFrame):
            columns = [c.name for c in expected.columns]
            array = np.asarray(model_input)
            if array.ndim != 2 or array.shape[1] != len(columns):
                raise InvalidParameterError(
                    f"The model expects a DataFrame with the columns {columns}; got "
                    f"{type(model_input).__name__} of shape {getattr(array, 'shape', '?')}.")
            model_input = pd.DataFrame(array, columns=columns)
        names = [str(c.name) for c in expected.columns]
        missing = [n for n in names if n not in model_input.columns]
        if missing:
            extra = sorted(set(map(str, model_input.columns)) - set(names))
            raise InvalidParameterError(
                f"Model is missing inputs {missing}."
                + (f" Note that there were extra inputs: {extra}." if extra else "")
                + f" The model's signature expects: {names}.")
        for column in expected.columns:
            _check_column(str(column.name), model_input[column.name].dtype, column.type)
        return model_input[names]
    array = np.asarray(model_input)
    width = len(expected.columns)
    if array.ndim == 2 and array.shape[1] != width:
        raise InvalidParameterError(f"The model expects {width} input columns; got "
                                    f"{array.shape[1]}.")
    _check_column("input", array.dtype, expected.columns[0].type)
    return model_input


def _check_column(name: str, dtype: Any, wanted: str) -> None:
    actual = _type(dtype)
    if actual not in _CASTABLE.get(wanted, (wanted,)):
        raise InvalidParameterError(
            f"Incompatible input types for column {name!r}: can not safely convert {actual} "
            f"to {wanted}. Cast the column (e.g. df[{name!r}].astype(...)) before predict.")
