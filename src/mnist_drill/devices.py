"""Where a run trains: the best device this machine has, or the one asked for, and its name in logs and Histories."""

from __future__ import annotations

import torch

from .errors import DeviceUnavailable


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def pick_device(requested: str | None = None) -> torch.device:
    """cuda, then mps, then cpu; a requested device that is not available raises DeviceUnavailable."""
    if requested in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    device = torch.device(requested)
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": _mps_available()}.get(device.type, False)
    if not available:
        raise DeviceUnavailable(f"device {requested!r} is not available on this machine; "
                                "use --device cpu, or leave --device out to pick the best one")
    return device


def device_name(device: torch.device) -> str:
    """"cpu (2 threads)", "cuda (NVIDIA H200)" or "mps"."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type
