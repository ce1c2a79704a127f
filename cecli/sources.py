"""Inputs given as several paths, globs, folders of parts or URLs, expanded into files.

A path that exists is always itself, never a glob (``w[12].parquet`` is that file); a folder
is the parts in it (files not starting with ``.`` or ``_``, such as ``_SUCCESS``), in name
order; anything else with ``*``, ``?`` or ``[`` is a glob, expanded in name order, and a glob
that matches nothing is an error.  Files keep the order of the arguments.

URLs (``s3://``, ``gs://``, ``az://``, ``http(s)://``, ``file://``) are read through fsspec,
globs and folders too, with ``storage_options`` (an endpoint, a profile) handed to its file
system; credentials come from where each file system looks (environment, profiles).  fsspec
was chosen over polars' own object store by a measurement and by what the readers need: the
CSV reader cuts byte ranges of a local file and Parquet is read row group by row group, so a
remote file is copied once, in bounded chunks, to the temporary folder and read from there.
Measured against an S3 server on the same machine (1M rows x 11 columns, three runs each):
copying the 202 MB CSV object through s3fs took 2.2-2.5 s, where polars' ``scan_csv`` of the
URL (its object store) took 3.9-4.0 s to collect; local parsing adds about 0.4 s to the copy.
The 76 MB Parquet object: 0.5-0.7 s to copy, 1.3-1.5 s for polars' ``scan_parquet``.  fsspec
also lists and globs ``http(s)://`` and every cloud alike, and takes each file system's own
option names, where polars' differ per cloud.  Nothing of fsspec
is imported for local files.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from cecli.inputs import InputError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_GLOB_CHARACTERS = re.compile(r"[*?\[]")
StorageOptions = Mapping[str, Any]


@dataclass(frozen=True)
class InputFile:
    """One file to read: where it is (a local path or a URL) and the name messages give it."""

    location: str
    """The path or URL, as messages name it."""
    remote: bool = False
    """Read through fsspec (a URL other than ``file://``)."""
    local: str | None = None
    """The local path of a ``file://`` URL."""

    @property
    def display(self) -> str:
        return "<stdin>" if self.location == "-" else self.location

    @property
    def path(self) -> str:
        """Where a local file is read from."""
        return self.local if self.local is not None else self.location


def is_url(text: str) -> bool:
    """Whether ``text`` names a file by URL (``s3://…``) rather than by a local path."""
    return bool(_URL.match(text))


def _local_file_url(text: str) -> str | None:
    """The local path of a ``file://`` URL (read as a local file), else None."""
    if text.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        return unquote(urlsplit(text).path)
    return None


def _is_part(name: str) -> bool:
    """A data file of a folder of parts: not hidden, not a marker such as ``_SUCCESS``."""
    return not name.startswith((".", "_"))


def expand(spec: str, storage_options: StorageOptions | None = None) -> list[InputFile]:
    """The files one argument names: itself, a folder's parts, a glob's matches or a URL's."""
    if spec == "-":
        return [InputFile("-")]
    local = _local_file_url(spec)
    if local is not None:
        return [
            InputFile(f"file://{file.location}", local=file.location)
            for file in _expand_local(local, spec)
        ]
    if is_url(spec):
        return _expand_remote(spec, storage_options or {})
    return _expand_local(spec, spec)


def _expand_local(path: str, display: str) -> list[InputFile]:
    if os.path.lexists(path):
        if not os.path.isdir(path):
            return [InputFile(path)]
        try:
            names = sorted(os.listdir(path))
        except OSError as error:
            raise InputError(f"{display}: cannot read the folder ({error.strerror})") from None
        parts = [
            InputFile(os.path.join(path, name))
            for name in names
            if _is_part(name) and os.path.isfile(os.path.join(path, name))
        ]
        if not parts:
            raise InputError(
                f"{display}: is a directory, not a file, and holds no parts to read "
                "(files whose names start with neither '.' nor '_')"
            )
        return parts
    if not _GLOB_CHARACTERS.search(path):
        return [InputFile(path)]  # the reader says it does not exist, as for one file
    found = sorted(p for p in glob.glob(path, recursive=True) if os.path.isfile(p))
    if not found:
        raise InputError(f"{display}: no file matches the pattern")
    return [InputFile(p) for p in found]


def file_system(url: str, storage_options: StorageOptions) -> tuple[AbstractFileSystem, str]:
    """fsspec's file system for ``url`` and the path within it; one error line if there is none
    (an unknown protocol, or its package not installed)."""
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise InputError(f"{url}: reading URLs needs fsspec; pip install 'cecli[cloud]'") from None
    try:
        fs, path = url_to_fs(url, **dict(storage_options))
    except ImportError as error:  # fsspec names the package the protocol needs (gcsfs…)
        raise InputError(f"{url}: {_reason(error)}") from None
    except (ValueError, TypeError) as error:
        raise InputError(f"{url}: cannot open ({_reason(error)})") from None
    return fs, path


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


@contextlib.contextmanager
def _remote_failures(url: str) -> Iterator[None]:
    """A file system's failure (missing object, no credentials, a refused connection) as one
    line naming the URL."""
    try:
        yield
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"{url}: no such file") from None
    except Exception as error:  # botocore, aiohttp, azure: each has its own error types
        raise InputError(f"{url}: cannot read ({_reason(error)})") from None


def _expand_remote(url: str, storage_options: StorageOptions) -> list[InputFile]:
    fs, path = file_system(url, storage_options)
    with _remote_failures(url):
        try:
            if fs.isfile(path):
                return [InputFile(url, remote=True)]
            if fs.isdir(path):
                names = sorted(
                    name for name in fs.ls(path, detail=False)
                    if _is_part(PurePosixPath(name).name) and fs.isfile(name)
                )  # fmt: skip
                if not names:
                    raise InputError(f"{url}: the folder holds no files to read")
                return [InputFile(_as_url(fs, url, name), remote=True) for name in names]
            if not _GLOB_CHARACTERS.search(path):
                raise _not_found(fs, url, path, "no such file")
            # The listing says which matches are files: asking each one again (a HEAD request
            # per object) costs a round trip per file, and a refused HEAD would read as "no match".
            found = fs.glob(path, detail=True)
        except FileNotFoundError:  # a glob in a bucket that is not there
            raise _not_found(fs, url, path, "no such file") from None
        matches = sorted(name for name, info in found.items() if info.get("type") == "file")
        if not matches:
            raise _not_found(fs, url, path, "no file matches the pattern")
    return [InputFile(_as_url(fs, url, name), remote=True) for name in matches]


_BUCKET_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl"})
"""Object stores whose paths start with a bucket (or container) name."""


def _not_found(fs: AbstractFileSystem, url: str, path: str, what: str) -> InputError:
    """``what`` about ``url``, or that its bucket is not there: a misspelt bucket name
    would otherwise read as a missing file."""
    protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
    bucket = path.split("/", 1)[0]
    if protocols & _BUCKET_PROTOCOLS and bucket and not fs.exists(bucket):
        return InputError(f"{url}: no bucket named {bucket!r}")
    return InputError(f"{url}: {what}")


def _as_url(fs: AbstractFileSystem, given: str, path: str) -> str:
    """``path`` of ``fs`` as a URL in the form the user gave (``s3://bucket/key``)."""
    if given.startswith(("http://", "https://")):
        return path  # HTTP file systems list full URLs
    scheme = given.split("://", 1)[0]
    return f"{scheme}://{path.split('://', 1)[-1]}"


def expand_all(
    specs: Sequence[str], storage_options: StorageOptions | None = None
) -> list[InputFile]:
    """The files all arguments name, in the arguments' order."""
    if sum(spec == "-" for spec in specs) > 1:
        # Standard input can be read once: the second would find it empty.
        raise InputError("only one file can be '-' (standard input)")
    files: list[InputFile] = []
    for spec in specs:
        files += expand(spec, storage_options)
    return files


def kind_of(location: str) -> str:
    """``parquet`` for a ``.parquet`` name, else ``csv`` (``.csv.gz`` too)."""
    name = location.split("?", 1)[0]
    return "parquet" if name.endswith(".parquet") else "csv"


def fetch(
    stack: contextlib.ExitStack,
    url: str,
    kind: str,
    storage_options: StorageOptions | None = None,
) -> Path:
    """A local copy of ``url`` (decompressed if gzip), removed when ``stack`` closes.

    Copied in bounded chunks with the limits of standard input (``files.SPOOL_LIMIT``), so that
    memory stays flat and the readers see a regular file.
    """
    from cecli import files

    fs, path = file_system(url, storage_options or {})
    with _remote_failures(url):
        stream: IO[bytes]
        with fs.open(path, "rb") as stream:
            return files._spool(stack, stream, f".{kind}", url)


def parse_storage_options(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` settings as fsspec's storage options: ``true``/``false`` are booleans, a
    whole number is an integer, anything else text; a dotted key (``client_kwargs.region_name``)
    is a nested setting."""
    options: dict[str, Any] = {}
    for item in items:
        key, equals, text = item.partition("=")
        if not equals or not key.strip():
            raise InputError(
                f"storage_options: {item!r} is not KEY=VALUE", parameter=("storage_options",)
            )
        value: Any = text
        if text.lower() in ("true", "false"):
            value = text.lower() == "true"
        elif re.fullmatch(r"[+-]?\d+", text):
            value = int(text)
        *parents, last = key.strip().split(".")
        place = options
        for parent in parents:
            nested = place.setdefault(parent, {})
            if not isinstance(nested, dict):
                raise InputError(
                    f"storage_options: {key!r} sets inside {parent!r}, which has a value",
                    parameter=("storage_options",),
                )
            place = nested
        place[last] = value
    return options
