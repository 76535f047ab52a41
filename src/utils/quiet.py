"""Silence the messages that are noise to a user on every run, and nothing else."""

import logging
import warnings

# Exact texts: anything Lightning or torch says beyond these still reaches the user.
NOISE_LOG_PREFIXES = (
    "💡 Tip: For seamless cloud logging",  # Lightning's advert for its LitLogger service
    "No CUDA runtime is found, using CUDA_HOME",  # torch.compile on a CPU machine with a CUDA build of torch
)
NOISE_WARNINGS = (r"`isinstance\(treespec, LeafSpec\)` is deprecated",)  # Lightning 2.6 on torch 2.14's pytree


class DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(NOISE_LOG_PREFIXES)


_FILTER = DropNoise()


def silence_known_noise() -> None:
    """Install the filters (idempotent): Lightning's per-run tip and one deprecation warning."""
    for name in (
        "pytorch_lightning.utilities.rank_zero",
        "lightning_fabric.utilities.rank_zero",
        "torch.utils.cpp_extension",
    ):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for message in NOISE_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
