# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The one way galssl writes an output file: into a temporary file beside the target,
finished and closed, then moved onto the target with `os.replace`.

An interrupted or failed write (an exception, ``KeyboardInterrupt``, a full disk) leaves the
old file as it was, or no file: never a partial one. The temporary file is removed on any
exception. The ``overwrite=`` rule is the same for every writer, and a second process that
tries to write the same file while the first is at it gets an error naming the file (an
advisory lock beside the target, released by the operating system if the first process
dies).
"""

import contextlib
import os
import secrets

__all__ = ["atomic_output", "check_new_output", "write_table", "save_figure", "save_array",
           "OutputBusyError"]

# compression suffixes kept together with the one before them, so that a writer which
# chooses its format from the file name (astropy, numpy) sees the same name ending
_COMPRESSION = (".gz", ".bz2", ".xz", ".zip")
_TEMP_MARK = ".galssl-partial"


class OutputBusyError(BlockingIOError):
    """Another process is writing the same output file; the message names it."""


def _ending(base):
    stem, ext = os.path.splitext(base)
    if ext.lower() in _COMPRESSION:
        stem, ext2 = os.path.splitext(stem)
        ext = ext2 + ext
    return ext


def temp_name(path):
    """A fresh temporary name in the directory of ``path``, ending as ``path`` ends."""
    folder, base = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{base}.{secrets.token_hex(4)}{_TEMP_MARK}{_ending(base)}")


def check_new_output(path, overwrite, *, flag="overwrite=True"):
    """Raise before any work when ``path`` cannot be written: its folder does not exist, it
    is a directory, or it exists and ``overwrite`` is False (``flag`` is what the message
    tells the user to pass, e.g. ``"--overwrite"`` in the command line)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path!r}: the folder {folder!r} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {path!r}: it is a directory")
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(f"{path!r} exists; pass {flag} to replace it")
    return path


class _Lock:
    """Advisory, non-blocking lock on ``.<name>.lock`` beside the target (POSIX ``flock``;
    no lock where the platform has none). The lock file is removed on release."""

    def __init__(self, path):
        folder, base = os.path.split(os.path.abspath(path))
        self.path = path
        self.lock_path = os.path.join(folder, f".{base}.galssl-lock")
        self.fd = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; the write is still atomic
            return self
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise OutputBusyError(
                    f"{self.path!r} is being written by another process (it holds "
                    f"{self.lock_path!r}); wait for it to finish or write elsewhere") from None
            except OSError:  # a file system without flock (some network mounts)
                os.close(fd)
                return self
            # the lock file may have been removed by its previous holder between our open
            # and our flock: then we hold a lock nobody else sees, so start again
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.lock_path))
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return self
            os.close(fd)

    def __exit__(self, *exc):
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.lock_path)
            os.close(self.fd)
            self.fd = None
        return False


def _new_file_mode():
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync(path, directory=False):
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a directory
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path, *, overwrite=False, flag="overwrite=True"):
    """Write ``path`` atomically.

    Yields the name of a temporary file (not yet created) in the same folder, ending as
    ``path`` ends; the caller writes it completely and closes it. On a clean exit the file is
    flushed to disk and moved onto ``path`` with `os.replace`, with the permissions the
    old file had (or the usual ones for a new file). On any exception, including
    ``KeyboardInterrupt``, the temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : str or path
        The file to write.
    overwrite : bool, optional
        Replace ``path`` if it exists; otherwise a `FileExistsError` is raised before
        anything is written.
    flag : str, optional
        How the user asks for ``overwrite``, for the message.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    OutputBusyError
        If another process is writing ``path`` through galssl at the same time.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from galssl.utils._atomic import atomic_output
    >>> path = os.path.join(tempfile.mkdtemp(), "numbers.npy")
    >>> with atomic_output(path) as tmp:
    ...     np.save(tmp, np.arange(3))
    >>> np.load(path)
    array([0, 1, 2])
    >>> os.listdir(os.path.dirname(path))  # nothing else is left there
    ['numbers.npy']
    """
    path = check_new_output(path, overwrite, flag=flag)
    with _Lock(path):
        # checked again under the lock: another process may have finished meanwhile
        check_new_output(path, overwrite, flag=flag)
        tmp = temp_name(path)
        try:
            yield tmp
            if not os.path.exists(tmp):
                raise RuntimeError(f"nothing was written for {path!r}")
            try:
                mode = os.stat(path).st_mode & 0o7777
            except FileNotFoundError:
                mode = _new_file_mode()
            os.chmod(tmp, mode)
            _fsync(tmp)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
    _fsync(os.path.dirname(os.path.abspath(path)), directory=True)


def write_table(table, filename, *, overwrite=False, flag="overwrite=True", **kwargs):
    """``table.write`` to ``filename`` atomically; the format is told from its ending
    unless ``format=`` is given, other keywords (``path=`` of an HDF5 table...) go to
    `~astropy.table.Table.write`."""
    with atomic_output(filename, overwrite=overwrite, flag=flag) as tmp:
        table.write(tmp, **kwargs)


def save_array(array, path, *, overwrite=False, flag="overwrite=True"):
    """`numpy.save` ``array`` to exactly ``path`` (no ``.npy`` is appended), atomically."""
    import numpy as np

    with atomic_output(path, overwrite=overwrite, flag=flag) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)


def save_figure(fig, path, *, overwrite=True, **kwargs):
    """``fig.savefig(path, **kwargs)`` atomically (the temporary file ends as ``path``
    does, so matplotlib tells the format from it)."""
    with atomic_output(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, **kwargs)
