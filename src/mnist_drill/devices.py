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


class Compiled:
    """`model` compiled by torch.compile, called like the model; where compiling fails (no Triton, no C++ compiler, an
    operator the compiler does not take) it says so in one line and runs `model` eagerly from then on.

    On CUDA it compiles with CUDA graphs (mode "reduce-overhead"): a training step of the drill's models is about a
    hundred tiny kernels, and one graph launch replaces their launches. Elsewhere it compiles with inductor's defaults.
    The numbers are not the eager run's to the last digit: fused kernels add up in another order.
    """

    def __init__(self, model: torch.nn.Module, device: torch.device, log=print):
        self.model, self.log = model, log
        self.graphs = torch.device(device).type == "cuda"
        self.compiled = torch.compile(model, mode="reduce-overhead" if self.graphs else None)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.compiled is not None:
            try:
                if self.graphs:  # a new step: outputs of the previous graph replay may be overwritten
                    torch.compiler.cudagraph_mark_step_begin()
                return self.compiled(x)
            except Exception as e:  # noqa: BLE001 - whatever the compiler raises, the eager model still runs
                reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
                self.log(f"torch.compile failed ({type(e).__name__}: {reason}); training eagerly instead")
                self.compiled = None
        return self.model(x)
