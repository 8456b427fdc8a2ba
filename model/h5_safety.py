"""Whether an HDF5 weights file is laid out exactly as Keras writes it, checked before any array is read.

HDF5 can keep a dataset's bytes outside the file (external storage: any path,
such as /proc/self/environ or a token file), assemble a dataset from other files
(virtual datasets), point a name at another file or path (external and soft
links) and decode bytes through filters. A weights file from a model repo is
untrusted, so none of that is allowed: Keras 3 (`.weights.h5`, also inside a
`.keras` archive) writes groups joined by hard links and float datasets stored
contiguously in the file itself, unfiltered, with no attributes on datasets.
The check walks every link of the file without following any but hard links,
and looks only at object headers: no dataset's data is read, no other file is
opened.
"""

from __future__ import annotations

from typing import Any

MAX_OBJECTS = 2_000  # a network this app builds has a few dozen groups and datasets
LAYOUT_NAMES = {0: "compact", 1: "contiguous", 2: "chunked", 3: "virtual"}


def unsafe_structure(f: Any, file_size: int) -> str | None:
    """Why the open h5py.File `f` is not a plain Keras weights file, as a clause; None when it is one.

    `file_size` is the file's size in bytes: every dataset's bytes must lie inside it.
    """
    import h5py

    pending: list[tuple[str, Any]] = [("", f)]
    seen = 0
    while pending:
        prefix, group = pending.pop()
        for name in group:  # link names only; nothing is resolved yet
            path = f"{prefix}/{name}"
            seen += 1
            if seen > MAX_OBJECTS:
                return f"it has more than {MAX_OBJECTS:,} objects"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                return f"{path} is a link to another file ({link.filename[:80]!r})"
            if isinstance(link, h5py.SoftLink):
                return f"{path} is a soft link (to {link.path[:80]!r})"
            if not isinstance(link, h5py.HardLink):
                return f"{path} is a link of a kind Keras does not write"
            item = group[name]  # a hard link: an object inside this file
            if isinstance(item, h5py.Group):
                pending.append((path, item))
            elif isinstance(item, h5py.Dataset):
                problem = unsafe_dataset(item, file_size)
                if problem:
                    return f"{path} {problem}"
            else:
                return f"{path} is a {type(item).__name__}, which Keras does not write"
    return None


def unsafe_dataset(dataset: Any, file_size: int) -> str | None:
    """Why a dataset is not stored the way Keras stores one, as a clause; None when it is."""
    plist = dataset.id.get_create_plist()
    if plist.get_external_count():
        return "keeps its bytes in another file (HDF5 external storage)"
    layout = plist.get_layout()
    if dataset.is_virtual or layout == 3:
        return "is a virtual dataset (assembled from other files)"
    if plist.get_nfilters():
        return "is stored through a filter (compression or other), which Keras does not use"
    if layout != 1:
        return f"is stored {LAYOUT_NAMES.get(layout, 'in an unknown layout')}, not contiguous as Keras stores it"
    if len(dataset.attrs):
        return "carries attributes, which Keras does not write on a float32 dataset"
    offset, stored = dataset.id.get_offset(), dataset.id.get_storage_size()
    if offset is not None and offset + stored > file_size:
        return "claims bytes beyond the end of the file"
    return None
