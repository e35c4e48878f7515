"""Read and write world tables as gzip CSV, byte for byte reproducibly."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pandas as pd

from .schema import DTYPES, TABLES, Table

MANIFEST = "MANIFEST.sha256"


def to_frame(table: Table, columns: dict) -> pd.DataFrame:
    """Build a frame with the table's columns in order and its logical dtypes."""
    df = pd.DataFrame({c.name: columns[c.name] for c in table.columns})
    for c in table.columns:
        dtype = DTYPES[c.dtype]
        if dtype.time_format:
            df[c.name] = pd.to_datetime(df[c.name])
        else:
            df[c.name] = df[c.name].astype(dtype.pandas)
    return df


def write_table(df: pd.DataFrame, table: Table, out_dir: Path) -> Path:
    """Write one table as ``<name>.csv.gz`` with a fixed gzip header (mtime 0)."""
    out = df.copy()
    for c in table.columns:
        fmt = DTYPES[c.dtype].time_format
        if fmt:
            out[c.name] = out[c.name].dt.strftime(fmt)
        elif c.dtype == "float":
            out[c.name] = out[c.name].round(2)
    text = out.to_csv(index=False, lineterminator="\n", float_format="%.2f")
    path = Path(out_dir) / table.filename
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
        gz.write(text.encode("utf-8"))
    return path


def read_table(path: Path, table: Table) -> pd.DataFrame:
    """Read one table with the schema's dtypes. Raises ``ValueError`` naming the file on failure."""
    dtypes = {c.name: DTYPES[c.dtype].pandas for c in table.columns if not DTYPES[c.dtype].time_format}
    df = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""], engine="c")
    for c in table.columns:
        fmt = DTYPES[c.dtype].time_format
        if fmt:
            df[c.name] = pd.to_datetime(df[c.name], format=fmt)
    return df


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(out_dir: Path, filenames: list[str]) -> Path:
    """Write ``MANIFEST.sha256`` in ``sha256sum`` format (``sha256sum -c`` checks it)."""
    lines = [f"{file_sha256(Path(out_dir) / name)}  {name}\n" for name in sorted(filenames)]
    path = Path(out_dir) / MANIFEST
    path.write_text("".join(lines), encoding="utf-8")
    return path


def read_manifest(data_dir: Path) -> dict[str, str]:
    """Map file name to expected sha256 from ``MANIFEST.sha256``."""
    manifest = {}
    for line in (Path(data_dir) / MANIFEST).read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            manifest[name.strip()] = digest
    return manifest


__all__ = ["MANIFEST", "TABLES", "to_frame", "write_table", "read_table", "write_manifest", "read_manifest",
           "file_sha256"]
