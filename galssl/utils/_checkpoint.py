# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The one way galssl reads a checkpoint file: integrity first (the zip container's CRCs,
and a sha256 where one is known), then ``torch.load(weights_only=True)`` whatever torch's
default or the environment says, with errors that name the file."""

import hashlib
import os
import zipfile

__all__ = ["CheckpointError", "read_checkpoint", "write_checkpoint", "check_zip_integrity",
           "sha256sum", "describe_config_mismatch", "describe_value"]


class CheckpointError(ValueError):
    """A file that galssl refuses to load as a checkpoint: damaged, not a galssl
    checkpoint, holding executable pickle content, or written by another run. The message
    names the file."""


def sha256sum(path):
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_checkpoint(state, path, *, overwrite=False):
    """`torch.save` ``state`` to ``path`` atomically (`~galssl.utils._atomic.atomic_output`):
    an interrupted save leaves the old checkpoint intact, and an existing file is replaced
    only with ``overwrite=True``."""
    import torch

    from ._atomic import atomic_output

    with atomic_output(path, overwrite=overwrite) as tmp:
        torch.save(state, tmp)


def check_zip_integrity(path, what="checkpoint"):
    """Raise `CheckpointError` unless every member of the zip file ``path`` (the container
    of `torch.save`) passes its CRC check. A file that is not a zip is refused too: every
    checkpoint torch has written since 1.6 is one."""
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except zipfile.BadZipFile as exc:
        raise CheckpointError(f"{path!r} is not a readable {what}: the file is damaged or "
                              f"not a torch zip archive ({exc})") from None
    except (OSError, EOFError, ValueError) as exc:  # truncated reads, bad headers
        raise CheckpointError(f"{path!r} is not a readable {what}: {exc}") from None
    if bad is not None:
        raise CheckpointError(f"{path!r} is damaged: its member {bad!r} fails the CRC check "
                              f"(a changed or truncated file); restore it from a good copy")


def read_checkpoint(path, map_location="cpu", *, sha256=None, what="galssl checkpoint"):
    """Load a checkpoint file safely.

    The file's zip CRCs are checked (and its sha256 when ``sha256`` is given) before
    ``torch.load(..., weights_only=True)``, which only rebuilds tensors, numbers, strings
    and containers: a pickle that would run code is refused, also under
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` (an explicit ``weights_only=True`` wins over it)
    and on torch versions whose default is still ``weights_only=False``.

    Parameters
    ----------
    path : str or path
    map_location : optional
        Passed to `torch.load`.
    sha256 : str, optional
        Expected hex digest of the file.
    what : str, optional
        What the file should be, for error messages.

    Returns
    -------
    dict
        The checkpoint's content.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If the file is damaged, fails its sha256, or holds anything but plain data; the
        message names the file.

    Examples
    --------
    >>> import pathlib, tempfile, torch
    >>> from galssl.ssl import CheckpointError, read_checkpoint
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "weights.pt"
    >>> torch.save({"w": torch.arange(1000.)}, path)
    >>> read_checkpoint(path)["w"][:3]
    tensor([0., 1., 2.])
    >>> data = bytearray(path.read_bytes())
    >>> data[len(data) // 2] ^= 0xFF  # one flipped byte, inside the weights
    >>> _ = path.write_bytes(bytes(data))
    >>> try:
    ...     read_checkpoint(path)
    ... except CheckpointError as exc:
    ...     print("refused")
    refused
    """
    import pickle

    import torch

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such checkpoint file: {path!r}")
    if sha256 is not None:
        digest = sha256sum(path)
        if digest != sha256:
            raise CheckpointError(f"{path!r} fails its sha256 check ({digest} != {sha256}): "
                                  f"the file is damaged or not the one expected")
    check_zip_integrity(path, what)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path!r} was refused: it holds pickled objects other than tensors, numbers, "
            f"strings and containers, which could run code when loaded. galssl never "
            f"writes such files; do not load it unless you trust its origin "
            f"({str(exc).splitlines()[0]})") from None
    except Exception as exc:
        raise CheckpointError(f"{path!r} is not a readable {what}: {exc}") from None


#: Settings that may change when a run is resumed: they do not change what the run
#: computes (or, for ``epochs``, they are what a resumed run extends).
RESUMABLE_CHANGES = frozenset({"num_workers", "epochs", "channels_last"})


_ABSENT = object()


def _described(v):
    return "<absent>" if v is _ABSENT else _short(v)


#: Settings added after checkpoints were first written, with the value a checkpoint without
#: them was trained with: such a checkpoint resumes when the setting still has that value.
ADDED_SETTINGS = {"momentum_schedule": "constant", "decorrelation": 0.0, "photometry": 0.0}


def describe_config_mismatch(saved, current, ignore=RESUMABLE_CHANGES):
    """The settings that differ between a checkpoint's ``saved`` config and the ``current``
    one, as ``"name: saved -> current"`` strings (keys missing on one side included; a
    setting of `ADDED_SETTINGS` missing from ``saved`` has its former implied value)."""
    out = []
    for key in sorted(set(saved) | set(current)):
        if key in ignore:
            continue
        a = saved.get(key, ADDED_SETTINGS.get(key, _ABSENT))
        b = current.get(key, _ABSENT)
        if a is _ABSENT or b is _ABSENT or _plain(a) != _plain(b):
            out.append(f"{key}: {_described(a)} in the checkpoint, {_described(b)} now")
    return out


def describe_value(v):
    """A short description of a value found in a checkpoint, for error messages."""
    import torch

    if isinstance(v, torch.Tensor):
        return f"a {v.dtype} tensor of shape {tuple(v.shape)}"
    return f"{type(v).__name__} {_short(v)}"


def _plain(v):
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _short(v):
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."
