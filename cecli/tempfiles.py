"""Temporary files that a killed process cannot leave behind for long.

A process removes its temporary files when it ends, on an error or on an interrupt, but not
when it is killed (SIGKILL, the out-of-memory killer, a Dask worker lost mid-task).  So each
file is made under an exclusive ``flock`` held for as long as the file is in use: the system
drops the lock with the process, and :func:`sweep` (run before a new file of the same kind is
made) removes the files that no process holds.  A folder (of output parts) is held the same
way, by a lock file in it, and swept by :func:`sweep_folders`.  The lock, not a process id,
says whether a file is in use: ids are reused, and a temporary folder may be shared with
other machines or containers, whose ids mean nothing here.  Where there are no locks
(Windows, a file system without them) files are made as before, unheld, and never swept.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

if sys.platform != "win32":
    import fcntl


NAME_KEPT = 180
"""Bytes of a target's name kept in the name of a file or folder staged beside it: the
staged name adds up to 30 more, and a name may have at most 255."""


def name_part(name: str) -> str:
    """``name``, cut to its first :data:`NAME_KEPT` bytes, to go into a staged name."""
    return os.fsdecode(os.fsencode(name)[:NAME_KEPT])


class _Locked:
    """A path and the descriptor whose exclusive lock holds it (None: unheld, or dropped)."""

    def __init__(self, path: Path, descriptor: int | None) -> None:
        self.path = path
        self.descriptor = descriptor

    def _unlock(self) -> None:
        descriptor, self.descriptor = self.descriptor, None
        if descriptor is not None:
            os.close(descriptor)


class Held(_Locked):
    """A file made by :func:`held`: its path and the descriptor that holds its lock."""

    def release(self) -> None:
        """Remove the file, then drop its lock (the other order would let a sweep race);
        once, however often it is called."""
        if self.descriptor is None:
            return
        try:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        finally:
            self._unlock()

    def keep(self) -> None:
        """Drop the lock and leave the file: it was renamed into place, so its name here
        may already be another file's."""
        self._unlock()


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold back SIGINT, SIGTERM and SIGHUP while a temporary file is made and its removal
    arranged: one that stopped the run between the two would leave the file behind.  One
    that arrives meanwhile is handed to its own handler as the block ends.  (Blocking the
    signals would not do: the system gives them to another thread, and Python still runs
    the handler in this one at once.)"""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers run in the main thread only
        return
    arrived: list[tuple[int, FrameType | None]] = []

    def note(number: int, frame: FrameType | None) -> None:
        arrived.append((number, frame))

    previous: dict[int, Callable[[int, FrameType | None], Any]] = {}
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        handler = None if number is None else signal.getsignal(number)
        if number is not None and callable(handler):
            previous[number] = handler
            signal.signal(number, note)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if arrived:
            number, frame = arrived[0]
            previous[number](number, frame)


def held(folder: Path, prefix: str, suffix: str, mode: int = 0o600) -> Held:
    """A new, empty file named ``<prefix><pid>-<12 hex digits><suffix>`` in ``folder``, made
    with ``mode`` (less the umask), open for reading and writing and exclusively locked where
    locks exist."""
    for _ in range(100):
        path = folder / f"{prefix}{os.getpid()}-{secrets.token_hex(6)}{suffix}"
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            descriptor = os.open(path, flags, mode)
        except FileExistsError:
            continue
        if sys.platform == "win32":
            return Held(path, descriptor)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # A sweep may have taken the file in the instant before the lock: then it is
            # gone (or going), and another name is tried.
            if os.stat(path).st_ino == os.fstat(descriptor).st_ino:
                return Held(path, descriptor)
        except (BlockingIOError, FileNotFoundError):
            pass
        except OSError:
            return Held(path, descriptor)  # a file system without locks: unheld
        os.close(descriptor)
    raise FileExistsError(f"cannot make a new file in {str(folder)!r}")


def sweep(folder: Path, prefix: str, suffix: str | None = None) -> None:
    """Remove the files :func:`held` made in ``folder`` with ``prefix`` and ``suffix`` (any,
    if None) that no process holds.  A lock is tried, never waited for; what cannot be opened
    (another user's) or is no regular file is left alone."""
    ending = r"(?:\.[^/]*)?" if suffix is None else re.escape(suffix)
    for path in _named(folder, rf"{re.escape(prefix)}\d+-[0-9a-f]{{12}}{ending}", folders=False):
        with _unheld(path) as found:
            if found is not None and os.stat(path, follow_symlinks=False).st_ino == found.st_ino:
                os.unlink(path)


def _named(folder: Path, pattern: str, *, folders: bool) -> list[Path]:
    """The entries of ``folder`` whose whole name matches ``pattern``: folders (not links to
    them) if ``folders``, else anything; none where there are no locks to tell a held one."""
    if sys.platform == "win32":
        return []
    name = re.compile(pattern)
    try:
        with os.scandir(folder) as entries:
            return [
                Path(entry.path)
                for entry in entries
                if name.fullmatch(entry.name)
                and (not folders or entry.is_dir(follow_symlinks=False))
            ]
    except OSError:
        return []


@contextlib.contextmanager
def _unheld(path: Path) -> Iterator[os.stat_result | None]:
    """The regular file at ``path``, locked for the block if no process holds it (its
    status), else None: held, gone, a link, a FIFO or another user's.  Never waits."""
    try:
        # Not blocking: a FIFO of that name must not stop the sweep.
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
        descriptor = os.open(path, flags)
    except OSError:
        yield None
        return
    found: os.stat_result | None = None
    try:
        status = os.fstat(descriptor)
        if stat.S_ISREG(status.st_mode):
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            found = status
    except OSError:
        pass  # held (BlockingIOError)
    try:
        with contextlib.suppress(OSError):  # gone in the meantime
            yield found
    finally:
        os.close(descriptor)


FOLDER_LOCK = ".lock"
"""The file in a folder made by :func:`held_folder` whose lock holds the folder."""


class HeldFolder(_Locked):
    """A folder made by :func:`held_folder`: its path and the descriptor of its lock file."""

    def release(self) -> None:
        """Drop the lock (once), after the folder was removed or renamed into place."""
        self._unlock()


def held_folder(folder: Path, prefix: str, mode: int = 0o755) -> HeldFolder:
    """A new folder named ``<prefix><12 hex digits>`` in ``folder`` (made with ``mode``, less
    the umask), held by an exclusive lock on its file :data:`FOLDER_LOCK` where locks exist.
    Its maker removes the folder or renames it away, then calls :meth:`HeldFolder.release`."""
    path = folder / f"{prefix}{secrets.token_hex(6)}"
    os.mkdir(path, mode)
    if sys.platform == "win32":
        return HeldFolder(path, None)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        descriptor = os.open(path / FOLDER_LOCK, flags, 0o600)
    except OSError:
        return HeldFolder(path, None)  # unheld: never swept
    # On a file system without locks it stays unheld, and no sweep gets a lock on it either.
    with contextlib.suppress(OSError):
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return HeldFolder(path, descriptor)


def sweep_folders(folder: Path, prefix: str) -> None:
    """Remove the folders :func:`held_folder` made in ``folder`` with ``prefix`` that no
    process holds.  A folder without its lock file (being made, or made where locks fail) is
    left alone; so is what cannot be opened, or is a link."""
    import shutil

    for path in _named(folder, rf"{re.escape(prefix)}[0-9a-f]{{12}}", folders=True):
        with _unheld(path / FOLDER_LOCK) as found:
            if found is not None:
                # Its maker is gone.  (A folder renamed into place was renamed before its
                # lock was dropped: the name no longer leads to it, and nothing is removed.)
                shutil.rmtree(path, ignore_errors=True)
