"""A run as the lab keeps it: the core's `fit` on MNIST fetched and checked first, stamped with its provenance, saved
atomically, so an interrupted run leaves nothing half-written and a full disk loses nothing."""

import tempfile
from pathlib import Path

from ..devices import pick_device
from ..errors import ResultsUnwritable
from ..fileio import probe_writable
from ..paths import DATA_DIR
from ..train import History, fit
from .fetch import ensure_mnist
from .layout import display
from .provenance import machine_fingerprint, provenance


def train(config, save_to: str | Path | None = None, *, device=None, progress: bool = True, log=print,
          command: str | None = None, stop_after: int | None = None, data_root: Path = DATA_DIR,
          compile: bool = False) -> History:
    """fit(config), stamped with its provenance (`command` made it; default: this process's) and saved to `save_to`."""
    device = pick_device(device)
    if save_to is not None:
        check_writable(Path(save_to))  # fail now, not after the last epoch
    ensure_mnist(data_root)
    history = fit(config, device=device, progress=progress, log=log, stop_after=stop_after, data_root=data_root,
                  compile=compile, record={**provenance(command), "machine": machine_fingerprint(device)})
    if save_to is not None:
        log(f"History saved to {display(save_history(history, Path(save_to)))}")
    return history


def check_writable(path: Path) -> None:
    """Raise ResultsUnwritable (one line, with the fix) unless a file can be written at `path`."""
    try:
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder")
        probe_writable(path.parent)
    except OSError as e:
        raise ResultsUnwritable(f"cannot write results to {path} ({e.strerror or e}); "
                                "free the path or point MNIST_DRILL_RESULTS at a writable folder") from None


def save_history(history: History, path: Path) -> Path:
    """Save; where that fails (disk full, folder gone), keep the History in the temp folder and say where."""
    try:
        return history.save(path)
    except OSError as e:
        fallback = Path(tempfile.gettempdir()) / f"mnist_drill_{history.config['name']}_seed{history.seed}.json"
        history.save(fallback)
        raise ResultsUnwritable(f"could not save the History to {path} ({e.strerror or e}); "
                                f"it was kept in {fallback}: copy it where it belongs") from None
