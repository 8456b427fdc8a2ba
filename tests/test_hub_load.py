"""Loading from the Hub, end to end, with the real huggingface_hub client.

Each way a Hub model can fail to load is one sentence, and the app then serves the bundled
zoo's default; offline or with the Hub unreachable, the cache is served. The client processes
and folders are in tests/hub_clients.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_clients import (  # noqa: F401  (fixtures: work, clients, client, folders, published, the fault reset)
    WRONG_TOKEN,
    client_fixture,
    clients_fixture,
    folders_fixture,
    no_leftover_faults_fixture,
    published_fixture,
    work_fixture,
)
from hub_server import hub_server_fixture  # noqa: F401  (the local Hub-compatible server, as the fixture hub_server)

from model.config import TaskConfig

pytestmark = pytest.mark.slow  # a Hub server


# Loading failures: each is one sentence, and the app serves the bundled model ----------
def _cut(data: bytes) -> bytes:
    return data[: len(data) // 2]


LOAD_FAILURES = {
    "missing repo": (
        None,
        "org/does-not-exist",
        None,
        {},
        "there is no model repo org/does-not-exist on http://127.0.0.1:",
    ),
    "missing revision": ("revs", "org/revs", "v9", {}, "org/revs has no branch, tag or commit named 'v9'"),
    "missing file": ("incomplete", "org/incomplete", None, {}, "@ ", "has no model.weights.h5"),
    "refused token": (
        "tokened",
        "org/tokened",
        None,
        {"HF_TOKEN": WRONG_TOKEN},
        "the Hub refused the token (HTTP 401)",
    ),
    "server error": ("down", "org/down", None, {}, "the Hub answered with a server error (HTTP 500)"),
    "truncated weights": (
        "truncated",
        "org/truncated",
        None,
        {},
        "model.weights.h5 could not be read (truncated or corrupt)",
    ),
    "download cut short": ("cut", "org/cut", None, {}, "a file of org/cut arrived truncated"),
    "bytes flipped in transit": (
        "flipped",
        "org/flipped",
        None,
        {},
        "model.weights.h5 of org/flipped @ ",
        "arrived damaged",
    ),
    # Three operators make a 14-character alphabet: the 12-character weights cannot be this task's.
    "config not matching weights": (
        "mismatch",
        "org/mismatch",
        None,
        {},
        "model.weights.h5 does not match the network in network.json and task_config.json",
        "alphabet of 14",
    ),
    "invalid repo id": (None, "not a repo id!", None, {}, "no such folder: not a repo id!; if you meant a Hub repo"),
    # A data-only repo whose output bias would be the first bytes of the server's environment.
    "weights from another file": (
        "environ",
        "org/environ",
        None,
        {},
        "model.weights.h5 is refused: /layers/dense/vars/1 keeps its bytes in another file (HDF5 external storage)",
    ),
}


def _bytes_from_environ(weights: Path) -> bytes:
    """The weights file rewritten with its output bias stored externally, in /proc/self/environ."""
    import h5py

    arrays: dict = {}
    with h5py.File(weights, "r") as f:
        f.visititems(lambda name, item: arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    rewritten = weights.parent.with_name("environ.weights.h5")  # outside the model folder
    with h5py.File(rewritten, "w") as f:
        for name, array in arrays.items():
            if name == "layers/dense/vars/1":
                f.require_group("layers/dense/vars")
                f.create_dataset(name, array.shape, array.dtype, external=[("/proc/self/environ", 0, array.nbytes)])
            else:
                f.create_dataset(name, data=array)
    return rewritten.read_bytes()


@pytest.mark.parametrize("case", list(LOAD_FAILURES))
def test_load_failure_is_explained_and_falls_back_to_the_bundled_zoo(hub_server, client, folders, case):
    setup, source, revision, env, *phrases = LOAD_FAILURES[case]
    weights = (folders.good / "model.weights.h5").read_bytes()
    if setup:
        changes = {
            "incomplete": {"model.weights.h5": None},
            "truncated": {"model.weights.h5": _cut(weights)},
            "mismatch": {"task_config.json": TaskConfig(digits=1, operators="+-*").to_json().encode()},
            "environ": {"model.weights.h5": _bytes_from_environ(folders.good / "model.weights.h5")},
        }.get(setup, {})
        hub_server.put_files(source, folders.files(**changes))
    if setup == "down":
        hub_server.fail("/org/down/", status=500)
    elif setup == "cut":
        hub_server.short_read(source, "model.weights.h5", 1000)
    elif setup == "flipped":
        hub_server.corrupt_in_transit(source, "model.weights.h5")

    loaded = client.load(source, revision, env=env)
    assert (loaded["source"], loaded["revision"], loaded["digest"]) == ("bundled", None, folders.digests["bundled"])
    [note] = loaded["notes"]
    assert note.startswith(f"Could not use {source}: ") and note.endswith(f". Serving {folders.fallback} instead.")
    for phrase in phrases:
        assert phrase in note
    assert "\n" not in note and "Traceback" not in note and "/snapshots/" not in note

    if setup in ("down", "cut", "flipped"):  # a passing problem: once it is gone, the same load works
        hub_server.clear_faults()
        again = client.load(source, revision, env=env)
        assert (again["source"], again["digest"], again["notes"]) == (source, folders.digests["good"], [])


# No network -----------------------------------------------------------------------------
def test_offline_and_unreachable_hub_serve_the_cache(hub_server, published, clients, folders):
    clients["online"].load("org/adder")  # cached by now, whichever tests ran before
    offline, unreachable = clients["offline"], clients["unreachable"]
    requests_before = len(hub_server.requests)
    for worker in (offline, unreachable):
        cached = worker.load("org/adder")
        assert (cached["source"], cached["revision"]) == ("org/adder", published["sha"])
        assert cached["digest"] == folders.digests["good"]
        # model/hub.py says when it served the cache because the Hub failed (or offline mode was on).
        assert all(f"serving the cached copy of org/adder @ {published['sha'][:12]}" in n for n in cached["notes"])
    assert len(hub_server.requests) == requests_before  # nothing reached the Hub

    never = offline.load("org/never-downloaded")
    assert never["source"] == "bundled"
    assert "HF_HUB_OFFLINE is set and no complete copy of org/never-downloaded" in never["notes"][0]
    never = unreachable.load("org/never-downloaded")
    assert never["source"] == "bundled"
    assert "could not reach the Hub at http://127.0.0.1:" in never["notes"][0]
