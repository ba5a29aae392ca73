"""An uncompressed 8-bit BMP's pixel bytes, top row first, as PIL's `Image.open(f).tobytes()` gives
them for a grayscale-palette image (TFLite Micro's generate_cc_arrays.py): the pixel data at the
header's offset, rows stored bottom-up (a positive height) and padded to four bytes."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def gray8(path: Path) -> np.ndarray:
    """uint8[height, width]; ValueError unless the file is an uncompressed 8-bit BMP."""
    data = Path(path).read_bytes()
    if data[:2] != b"BM":
        raise ValueError(f"{path} is not a BMP file")
    offset = struct.unpack_from("<I", data, 10)[0]
    width, height = struct.unpack_from("<ii", data, 18)
    bits, compression = struct.unpack_from("<HI", data, 28)
    if bits != 8 or compression != 0:
        raise ValueError(f"{path}: {bits}-bit BMP, compression {compression}; expected 8-bit uncompressed")
    stride = (width + 3) & ~3
    rows = np.frombuffer(data, np.uint8, stride * abs(height), offset).reshape(abs(height), stride)[:, :width]
    return rows[::-1].copy() if height > 0 else rows.copy()
