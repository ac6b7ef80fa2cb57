"""Output files that are whole or absent, and never an input.

A job writes to a hidden temporary file beside its target (same folder, so the final move is
a rename on one filesystem; same extension, so FFmpeg picks the same muxer) and moves it
into place only when it is finished: a failed job, a full disk or `kill -9` leaves the old
file (or nothing) under the target's name, never half a file. Two jobs racing for one name
both keep their results: the later one takes the next free name (a default name) or stops
with one line saying where its result is (a name the user chose, without `-y`).
Targets that are not regular files (/dev/stdout, a v4l2 device, a FIFO) are written directly.
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import RtstyleError

if TYPE_CHECKING:
    import numpy as np


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file: hard links and symlinks included (device + inode)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def free_path(path: Path) -> Path:
    """`path`, or `path` with -1, -2... appended when it exists (for default names only)."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def check_output(path: str | Path, overwrite: bool, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Refuse, in one line, an output that exists (without `overwrite`), that is one of the
    job's `inputs` under any name, or that cannot be written; returns it as a Path. Give the
    name as typed: Path() drops the trailing "/" that says "a folder"."""
    if str(path).endswith(os.sep) or Path(path).is_dir():
        raise RtstyleError(f"cannot write {path}: is a directory (give a file name)")
    path = Path(path)
    for source in inputs:
        if same_file(path, source):
            raise RtstyleError(f"{path}: output would overwrite the input {source}")
    if path.exists() and not overwrite:
        raise RtstyleError(f"{path} exists (use -y to overwrite)")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise RtstyleError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise RtstyleError(f"cannot write {path}: permission denied")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class OutputFile:
    """Where a job writes (`path`) until `commit()` moves it to `target`; `discard()` on failure.

    `overwrite`: replace an existing target. `default_name`: the target was chosen by rtstyle,
    so if another job takes it meanwhile this one takes the next free name instead."""

    def __init__(self, target: str | Path, *, overwrite: bool = False, default_name: bool = False):
        self.target = Path(target)
        self.overwrite, self.default_name = overwrite, default_name
        self.direct = self.target.exists() and not stat.S_ISREG(os.stat(self.target).st_mode)
        if self.direct:
            self.path = self.target
            return
        folder = self.target.parent if str(self.target.parent) else Path(".")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.target.stem}.", suffix=f".part{self.target.suffix}",
                                       dir=folder)
        except OSError as exc:
            raise RtstyleError(f"cannot write {self.target}: {exc.strerror}") from None
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # as a plain open() would have made it, not mkstemp's 0600
        self.path = Path(tmp)

    def commit(self) -> Path:
        """Move the finished file into place; returns where it is now."""
        if self.direct:
            return self.target
        if self.overwrite:
            os.replace(self.path, self.target)
            return self.target
        placed = self._place(self.target)
        if placed != self.target and not self.default_name:
            raise RtstyleError(f"{self.target} appeared while this job ran (another job?) and was not overwritten: "
                               f"the result is in {placed}")
        return placed

    def _place(self, target: Path) -> Path:
        """Link the file at `target`, or at the next free name if that is taken; returns where."""
        while True:
            try:
                os.link(self.path, target)  # fails if the name exists: no check-then-act race
            except FileExistsError:
                target = free_path(target)
            except OSError:  # a filesystem without hard links: rename, after one last look
                target = free_path(target)
                os.rename(self.path, target)
                return target
            else:
                self.path.unlink()
                return target

    def keep_if(self, whole: bool) -> Path | None:
        """On a job's way out: `commit()` a file that was written whole, else `discard()` it."""
        if whole:
            return self.commit()
        self.discard()
        return None

    def discard(self) -> None:
        if not self.direct:
            self.path.unlink(missing_ok=True)


def write_array(target: str | Path, array: np.ndarray) -> Path:
    """A numpy array as a whole `.npy` file (a cache entry: an existing one is replaced)."""
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array)
    return write_whole(target, buffer.getvalue(), overwrite=True)


def write_whole(target: str | Path, data: bytes, *, overwrite: bool = False, default_name: bool = False) -> Path:
    """`data` written to `target` through an `OutputFile`; returns where it landed."""
    output = OutputFile(target, overwrite=overwrite, default_name=default_name)
    try:
        output.path.write_bytes(data)
    except OSError as exc:
        output.discard()
        raise RtstyleError(f"cannot write {target}: {exc.strerror}") from None
    return output.commit()
