"""A minimal GDF 2.20 writer for tests (MNE reads GDF but cannot write it).

Layout as MNE's reader (mne/io/edf/edf.py, ``_read_gdf_header``) expects: a
256-byte fixed header, 256 bytes of variable header per channel, records of
one second holding each channel's samples in turn (float32, physical range
equal to the digital range, unit µV), then an event table of type 1
(1-based sample positions and codes).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

FLOAT32 = 16  # GDF type code
MICROVOLT = 4275  # GDF physical-dimension code


def write_gdf(
    path: Path,
    data_uv: np.ndarray,
    sfreq: int,
    ch_names: list[str],
    events: list[tuple[int, int]],
) -> Path:
    """Write ``data_uv`` (n_channels, n_samples; µV) and ``(sample, code)`` events.

    ``n_samples`` must be a multiple of ``sfreq`` (one-second records).
    """
    n_ch, n_samples = data_uv.shape
    assert n_samples % sfreq == 0 and len(ch_names) == n_ch
    n_records = n_samples // sfreq
    header_bytes = 256 * (1 + n_ch)

    fixed = bytearray(256)
    fixed[0:8] = b"GDF 2.20"
    fixed[8:74] = b"X X".ljust(66)  # patient id
    fixed[88:152] = b"envcorr test".ljust(64)  # recording id
    struct.pack_into("<H", fixed, 184, header_bytes // 256)
    struct.pack_into("<q", fixed, 236, n_records)
    struct.pack_into("<II", fixed, 244, 1, 1)  # record duration 1/1 s
    struct.pack_into("<H", fixed, 252, n_ch)

    def per_channel(fmt: str, values) -> bytes:
        return b"".join(struct.pack("<" + fmt, v) for v in values)

    lo = float(np.floor(data_uv.min())) - 1.0
    hi = float(np.ceil(data_uv.max())) + 1.0
    variable = b"".join(
        [
            b"".join(n.encode("latin-1").ljust(16) for n in ch_names),
            b" " * (80 * n_ch),  # transducer
            b" " * (6 * n_ch),  # physical dimension (obsolete)
            per_channel("H", [MICROVOLT] * n_ch),
            per_channel("d", [lo] * n_ch),  # physical min
            per_channel("d", [hi] * n_ch),  # physical max
            per_channel("d", [lo] * n_ch),  # digital min
            per_channel("d", [hi] * n_ch),  # digital max
            b"\0" * (68 * n_ch),  # obsolete
            per_channel("f", [0.0] * n_ch),  # lowpass
            per_channel("f", [0.0] * n_ch),  # highpass
            per_channel("f", [0.0] * n_ch),  # notch
            per_channel("i", [sfreq] * n_ch),  # samples per record
            per_channel("i", [FLOAT32] * n_ch),  # data type
            b"\0" * (12 * n_ch),  # sensor positions
            b"\0" * (20 * n_ch),  # impedance (2.19+)
        ]
    )
    assert len(variable) == 256 * n_ch

    records = data_uv.astype("<f4").reshape(n_ch, n_records, sfreq).transpose(1, 0, 2)

    pos = np.array([e[0] for e in events], dtype="<u4") + 1  # 1-based
    typ = np.array([e[1] for e in events], dtype="<u2")
    n_ev = len(events)
    table = (
        bytes([1])
        + bytes([n_ev & 0xFF, (n_ev >> 8) & 0xFF, (n_ev >> 16) & 0xFF])
        + struct.pack("<f", float(sfreq))
        + pos.tobytes()
        + typ.tobytes()
    )
    path = Path(path)
    path.write_bytes(bytes(fixed) + variable + records.tobytes() + table)
    return path
