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
import stat
import sys
from pathlib import Path

if sys.platform != "win32":
    import fcntl


NAME_KEPT = 180
"""Bytes of a target's name kept in the name of a file or folder staged beside it: the
staged name adds up to 30 more, and a name may have at most 255."""


def name_part(name: str) -> str:
    """``name``, cut to its first :data:`NAME_KEPT` bytes, to go into a staged name."""
    return os.fsdecode(os.fsencode(name)[:NAME_KEPT])


class Held:
    """A file made by :func:`held`: its path and the descriptor that holds its lock."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self.descriptor: int | None = descriptor

    def release(self) -> None:
        """Remove the file, then drop its lock (the other order would let a sweep race);
        once, however often it is called."""
        descriptor, self.descriptor = self.descriptor, None
        if descriptor is None:
            return
        try:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        finally:
            os.close(descriptor)

    def keep(self) -> None:
        """Drop the lock and leave the file: it was renamed into place, so its name here
        may already be another file's."""
        descriptor, self.descriptor = self.descriptor, None
        if descriptor is not None:
            os.close(descriptor)


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
    if sys.platform == "win32":
        return
    ending = r"(?:\.[^/]*)?" if suffix is None else re.escape(suffix)
    name = re.compile(rf"{re.escape(prefix)}\d+-[0-9a-f]{{12}}{ending}")
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries if name.fullmatch(entry.name)]
    except OSError:
        return
    for found_name in names:
        path = folder / found_name
        try:
            # Not blocking: a FIFO of that name must not stop the sweep.
            flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
            descriptor = os.open(path, flags)
        except OSError:
            continue
        try:
            found = os.fstat(descriptor)
            if not stat.S_ISREG(found.st_mode):
                continue
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(path, follow_symlinks=False).st_ino == found.st_ino:
                os.unlink(path)
        except OSError:
            pass  # held (BlockingIOError), or gone in the meantime
        finally:
            os.close(descriptor)


FOLDER_LOCK = ".lock"
"""The file in a folder made by :func:`held_folder` whose lock holds the folder."""


class HeldFolder:
    """A folder made by :func:`held_folder`: its path and the descriptor of its lock file."""

    def __init__(self, path: Path, descriptor: int | None) -> None:
        self.path = path
        self.descriptor = descriptor

    def release(self) -> None:
        """Drop the lock (once), after the folder was removed or renamed into place."""
        descriptor, self.descriptor = self.descriptor, None
        if descriptor is not None:
            os.close(descriptor)


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
    if sys.platform == "win32":
        return
    import shutil

    name = re.compile(rf"{re.escape(prefix)}[0-9a-f]{{12}}")
    try:
        with os.scandir(folder) as entries:
            found = [
                Path(entry.path)
                for entry in entries
                if name.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False)
            ]
    except OSError:
        return
    for path in found:
        try:
            flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
            descriptor = os.open(path / FOLDER_LOCK, flags)
        except OSError:
            continue
        try:
            if stat.S_ISREG(os.fstat(descriptor).st_mode):
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # Its maker is gone.  (A folder renamed into place was renamed before its
                # lock was dropped: the name no longer leads to it, and nothing is removed.)
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass  # held (BlockingIOError), or gone in the meantime
        finally:
            os.close(descriptor)
