"""Helpers the plugins share."""

from __future__ import annotations

import numpy as np

from civicloud.scheduler.framework import Reason


def single_reason(passed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return passed, np.zeros(passed.size, dtype=np.int32)


def shortfall_reasons(prefix: str, text: str) -> tuple[Reason, ...]:
    return tuple(Reason(f"{prefix}_{r}", f"{text} {label}") for r, label in
                 (("vcpus", "vCPU"), ("memory_mib", "memory"), ("disk_gib", "disk"), ("gpus", "GPU")))
