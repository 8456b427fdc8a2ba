"""The workers of a multi-worker run (`--distribute` with TF_CONFIG), in one place for trainer/run.py.

Which worker this process is (read before TensorFlow loads, tf_config.py), where each keeps its work
(the chief, worker 0, the output folder itself; the others a sibling whose model is dropped), the strategy
(distribute.py), where the workers agree to start, and what a worker does when it cannot join or loses
another: it starts itself again (rejoin.py) within --connect-timeout, then gives up: exit status 2 when it
never reached the others (distribute.UNREACHABLE), 1 after losing one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.config import NetworkConfig, TaskConfig

from . import rejoin
from .rundir import RunFolder
from .settings import TrainSettings
from .tf_config import cluster_spec


@dataclass(frozen=True)
class Workers:
    """This process's place in the run: `several` when TF_CONFIG names a cluster, and its index."""

    several: bool
    index: int = 0

    @classmethod
    def from_environment(cls, distribute: bool) -> Workers:
        """ValueError (one sentence) for a TF_CONFIG that is set but unusable."""
        spec = cluster_spec() if distribute else None
        return cls(several=spec is not None, index=spec[1] if spec is not None else 0)

    @property
    def chief(self) -> bool:
        return self.index == 0

    def folder(self, out: Path) -> Path:
        """Where this worker keeps its work: the chief the output folder itself, the others a sibling of
        their own, whose model is written to a temporary folder and dropped (saving.py)."""
        return out if self.chief else out.with_name(f"{out.name}.worker-{self.index}")

    def strategy(self, distribute: bool, cpu_replicas: int, connect_timeout: float) -> Any:
        """The tf.distribute strategy (after the flags are checked: this loads TensorFlow)."""
        from .distribute import choose_strategy

        if self.several:
            rejoin.start_clock()
        return choose_strategy(
            distribute,
            cpu_replicas,
            connect_seconds=rejoin.seconds_left(connect_timeout),
            connect_total=connect_timeout,
        )

    def where_to_start(
        self,
        strategy: Any,
        folder: RunFolder,
        task: TaskConfig,
        net: NetworkConfig,
        settings: TrainSettings,
        *,
        resume: bool,
        overwrite: bool,
    ) -> bool:
        """Whether to resume: alone, as asked; several workers decide together from what each saved."""
        if not self.several:
            return resume
        from .distribute import Cluster, agree_where_to_start

        agreed = agree_where_to_start(Cluster(strategy), folder, task, net, settings)
        if not agreed and folder.can_resume():
            folder.start(task, net, settings, overwrite=overwrite)
        return agreed

    def could_not_join(self, cause: str, connect_timeout: float) -> None:
        """A peer still held by an old run, say: start again while the deadline allows (returns if not)."""
        if rejoin.seconds_left(connect_timeout) > 1:
            rejoin.again(f"could not join yet ({cause})", lost_worker=False)

    def lost_another(self, error: Exception) -> str:
        """TensorFlow cannot go on in this process: start again (returns only once the restarts are spent,
        with the sentence to end on)."""
        rejoin.again(f"lost contact with another worker ({type(error).__name__})", lost_worker=True)
        return (
            f"lost contact with another worker {rejoin.MAX_REJOINS} times; the last saved epoch is kept: "
            "start every worker again with the same command to continue"
        )


def weights_digest(model: Any) -> str:
    """A short hash of the weights: every worker prints the same one at the end of a run."""
    digest = hashlib.sha256()
    for w in model.get_weights():
        digest.update(w.tobytes())
    return digest.hexdigest()[:16]
