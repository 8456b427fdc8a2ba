"""What may leave this machine: plain files whose bytes hold nothing shaped like a token.

Shared by `trainer.publish` and `trainer.deploy_space`. Each file is opened
without following a symbolic link (a link may point at any file on the machine),
without waiting on a named pipe, and only if it has one name (a hard link is
the same file as one elsewhere), and read once; the bytes that were checked are the bytes uploaded, so a file
changed between the check and the upload cannot slip through.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

# A Hugging Face access token is "hf_" and 34 letters and digits; 30 or more catches it inside any text.
TOKEN_SHAPE = re.compile(rb"hf_[A-Za-z0-9]{30,}")


class UploadRefused(ValueError):
    """A file that must not be uploaded; the message names it and says why, in one sentence."""


def read_for_upload(path: Path, shown: str) -> bytes:
    """The bytes of `path` (called `shown` in messages), or UploadRefused for a link or token-shaped content."""
    try:
        # No link followed; no wait on a named pipe (non-blocking open, then only a regular file is read).
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        if Path(path).is_symlink():
            raise UploadRefused(f"{shown} is a symbolic link, and only plain files are uploaded") from None
        raise UploadRefused(f"{shown} could not be read ({err.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        status = os.fstat(f.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise UploadRefused(f"{shown} is not a plain file, and only plain files are uploaded")
        if status.st_nlink != 1:  # the same file under another name, which may be anywhere on this disk
            raise UploadRefused(
                f"{shown} is a hard link (the file has {status.st_nlink} names), and only files with one name "
                "are uploaded; copy it instead"
            )
        data = f.read()
    return checked_bytes(data, shown)


def checked_bytes(data: bytes, shown: str) -> bytes:
    """`data` unchanged, or UploadRefused naming `shown` when it holds something shaped like a token."""
    if TOKEN_SHAPE.search(data):
        raise UploadRefused(
            f"{shown} holds something shaped like a Hugging Face token (hf_…), so it is not uploaded; "
            "remove the token from it"
        )
    return data
