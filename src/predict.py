"""``eval.py predict=...``: inputs as a user gives them, and what the trained module makes of them.

A module that declares it classifies (``src.capabilities.GivesClassLogits``) gets each input's most
probable classes with their probabilities; any other module's outputs are shown as the values they
are (a regression's number, an autoencoder's reconstruction, a generator's sample).
"""

from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from src.capabilities import GivesClassLogits, TakesTypedInputs, offers
from src.config.errors import ConfigError, first_line

REAL_DTYPES = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)  # and floating point


def prediction_inputs(values: Any) -> torch.Tensor:
    """``predict``: a list of inputs, or the path of a ``.npy`` / ``.pt`` file of them, as one tensor of
    real numbers (complex, quantized, sparse or text inputs are refused in one line)."""
    if OmegaConf.is_config(values):
        values = OmegaConf.to_container(values)
    source = values if isinstance(values, str) else "predict"
    if isinstance(values, str):
        inputs = inputs_from_file(values)
    else:
        try:
            inputs = torch.tensor(values)
        except (TypeError, ValueError, RuntimeError) as error:
            raise ConfigError("predict", f"must be a list of inputs of one shape ({first_line(error)})") from None
        if inputs.ndim < 2 or inputs.shape[0] == 0:
            raise ConfigError("predict", f"must be a list of inputs ('[[1,2,3,2]]' for one palindrome), got {values!r}")
    real = inputs.layout == torch.strided and (inputs.dtype.is_floating_point or inputs.dtype in REAL_DTYPES)
    if not real or inputs.is_quantized:
        raise ConfigError("predict", f"{source}: inputs of dtype {inputs.dtype}; give integers or real numbers")
    return inputs


def inputs_from_file(name: str) -> torch.Tensor:
    path = Path(name)
    if path.suffix not in (".npy", ".pt") or not path.is_file():
        raise ConfigError("predict", f"{name} is not a .npy or .pt file; give a file, or a list of inputs")
    try:
        if path.suffix == ".npy":
            return torch.from_numpy(np.load(path, allow_pickle=False))
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - a file that is not an array (or one of text torch cannot hold)
        raise ConfigError("predict", f"{name}: not an array of inputs ({first_line(error)})") from None
    if not isinstance(loaded, torch.Tensor):
        raise ConfigError("predict", f"{name} holds a {type(loaded).__name__}, not a tensor of inputs")
    return loaded


def predict(run, values: Any, top_k: int) -> list[dict[str, Any]]:
    """For each input: its most probable classes with their probabilities (a module that classifies), or the
    module's output as values (any other)."""
    inputs = prediction_inputs(values)
    if offers(run.datamodule, TakesTypedInputs):  # inputs as a user types them -> as the network takes them
        inputs = run.datamodule.prediction_inputs(inputs)
    module = run.module.eval()
    try:
        outputs = forward(module, inputs)
    except Exception as error:  # noqa: BLE001 - torch's shape errors, in the key's words
        raise ConfigError(
            "predict", f"inputs of shape {tuple(inputs.shape)} do not fit this model ({first_line(error)})"
        ) from None
    if not isinstance(outputs, torch.Tensor) or outputs.ndim == 0 or len(outputs) != len(inputs):
        raise ConfigError(
            "predict", f"the module's output for {len(inputs)} inputs is not one row each: {outputs!r:.80}"
        )
    if not (offers(module, GivesClassLogits) and module.gives_class_logits and outputs.ndim == 2):
        return [{"output": np.round(row.double().cpu().numpy(), 4).tolist()} for row in outputs]
    best = torch.softmax(outputs, dim=-1).topk(min(top_k, outputs.shape[-1]), dim=-1)
    return [
        {"class": int(classes[0]), "top": {int(c): round(float(p), 4) for c, p in zip(classes, p_row)}}
        for classes, p_row in zip(best.indices, best.values)
    ]


def forward(module: torch.nn.Module, inputs: torch.Tensor) -> Any:
    """The module's output for ``inputs``; whole numbers typed for a network of real numbers (``[[1,0,2]]``) are
    given as its real numbers when it refuses them as they are."""
    with torch.no_grad():
        try:
            return module(inputs)
        except RuntimeError:
            weights = next((p for p in module.parameters() if p.is_floating_point()), None)
            if inputs.is_floating_point() or weights is None:
                raise
            return module(inputs.to(weights.dtype))


def describe(result: dict) -> list[str]:
    """What eval prints: the split's metrics, or one line per input (its most probable classes, or its output)."""
    if "metrics" in result:
        return [" ".join(f"{name}={value:.4f}" for name, value in result["metrics"].items())]
    return [
        f"input {i}: class {p['class']} ({', '.join(f'{c}: {q:.3f}' for c, q in p['top'].items())})"
        if "class" in p
        else f"input {i}: {p['output']}"
        for i, p in enumerate(result["predictions"])
    ]
