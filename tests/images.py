"""Small real image files made at test time (nothing binary and big is committed)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def png(width: int = 1, height: int = 1, pad_to: int = 0) -> bytes:
    """A valid RGB PNG; `pad_to` appends an ancillary chunk until the file has that size
    (decoders skip unknown ancillary chunks), so a "6.2 MB photo" costs nothing to commit."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                             0, 0, 0))
    body = chunk(b"IDAT", zlib.compress(raw))
    end = chunk(b"IEND", b"")
    size = len(head) + len(body) + len(end)
    if pad_to > size:
        body += chunk(b"teXt", b"padding\x00" + b"." * (pad_to - size - 12 - 8))
    return head + body + end


def gif() -> bytes:
    """A valid 1x1 GIF89a."""
    return (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00"
            b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def jpeg() -> bytes:
    """JPEG markers (SOI, APP0/JFIF, EOI): enough for anything that judges by the bytes."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + app0 + b"\xff\xd9"


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
