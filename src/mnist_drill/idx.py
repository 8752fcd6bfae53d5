"""The IDX format of the MNIST files: write uint8 arrays (for the wheel rebuild), and read them back
through torchvision's own readers after a header check that turns a bad file into one clear line.
"""

import os
import struct
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets.mnist import read_image_file, read_label_file

from .fileio import atomic_write_bytes

UINT8_MAGIC = b"\x00\x00\x08"  # two zero bytes, then the type code 0x08 (unsigned byte); the 4th is ndim


class IdxError(ValueError):
    """A file that is not the uint8 IDX file expected; the message names the file and what is wrong."""


def idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 array in IDX format: magic 0x0000 08 <ndim>, then each dim as big-endian int32."""
    if array.dtype != np.uint8:
        raise ValueError(f"IDX writer handles uint8 only, got {array.dtype}")
    header = struct.pack(f">I{array.ndim}I", 0x0800 | array.ndim, *array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    atomic_write_bytes(path, idx_bytes(array))


def check_idx(path: str | os.PathLike, ndim: int) -> tuple[int, ...]:
    """The dims of an uint8 IDX file with `ndim` dims, or IdxError if its header or size says otherwise.

    torchvision's reader only asserts (or fails later in a reshape); this reads the header alone.
    """
    path = Path(path)
    if path.is_dir():
        raise IdxError(f"{path} is a directory, not an IDX file: remove it and fetch the file again")
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            header = f.read(4 + 4 * ndim)
    except OSError as e:
        raise IdxError(f"{path}: cannot read ({e.strerror or e})") from e
    if len(header) < 4 or header[:3] != UINT8_MAGIC:
        raise IdxError(f"{path}: not an uint8 IDX file (magic {header[:4].hex() or 'missing'})")
    if header[3] != ndim:
        raise IdxError(f"{path}: {header[3]} dims, expected {ndim}")
    if len(header) < 4 + 4 * ndim:
        raise IdxError(f"{path}: header cut short ({len(header)} bytes)")
    dims = struct.unpack(f">{ndim}I", header[4:])
    needed = int(np.prod(dims, dtype=np.int64))
    if size - len(header) != needed:
        raise IdxError(f"{path}: {size - len(header)} data bytes, dims {dims} need {needed}")
    return dims


def read_images(path: str | os.PathLike) -> torch.Tensor:
    """uint8 N×H×W images from an IDX file (torchvision's read_image_file, after check_idx)."""
    check_idx(path, 3)
    return read_image_file(str(path))


def read_labels(path: str | os.PathLike) -> torch.Tensor:
    """int64 labels from an IDX file (torchvision's read_label_file, after check_idx)."""
    check_idx(path, 1)
    return read_label_file(str(path))
