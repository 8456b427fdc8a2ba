"""Each visitor's share of Gradio's queue: what one session or one client address may have waiting.

The request guard (web/guard.py) asks this before it lets a queue join
(/queue/join, /call/…) through. A join is refused, with one sentence, for a
session with MAX_UNREAD results it has not read (Gradio parks each result until
read), a session with MAX_JOBS_PER_SESSION calls waiting or running, or a
client address with MAX_JOBS_PER_CLIENT; and a training is refused at once when
its address already has one running or waiting (MAX_TRAININGS_PER_CLIENT), or
when MAX_WAITING_TRAININGS are already waiting (each may take 90 s), so nobody
waits silently for many minutes and no address holds Train for everyone. Joins
let through that Gradio has not queued yet count as waiting, so a burst of joins
cannot slip past the caps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .gradio_internals import Job

MAX_UNREAD = 2  # results a session may leave unread before its next queue join is refused
MAX_JOBS_PER_SESSION = 4  # queued calls waiting or running for one session
MAX_JOBS_PER_CLIENT = 48  # ... for one client address: a class of 32 behind one address, each with a call or two
MAX_WAITING_TRAININGS = 2  # with one running, a new training starts within about 3 minutes
MAX_TRAININGS_PER_CLIENT = 1  # running or waiting, per address: nobody can hold Train for everyone
TRAINING_QUEUE = "train"  # the concurrency id of the Train button and /train (web/train_own.py)
TRAINING_SECONDS = 100  # the longest a training holds its slot: a 90 s budget plus its final checks


@dataclass(frozen=True)
class Joining:
    """A queue join: its session (if it names one), its client address, and the queue it enters."""

    session: str | None
    client: str
    queue: str | None


@dataclass
class QueueShare:
    """The queue's jobs and unread results as the app reports them, and the joins still on their way in."""

    unread: Callable[[str], int]
    jobs: Callable[[], Iterable[Job]]
    client_of_job: Callable[[Job], str]
    joining: list[Joining] = field(default_factory=list)

    def refusal(self, join: Joining) -> tuple[int, str] | None:
        """None if `join` may enter the queue, else (HTTP status, one sentence why not)."""
        if join.session is not None and self.unread(join.session) >= MAX_UNREAD:
            return 429, (
                f"This session has {MAX_UNREAD} results it has not read yet; read them from its event "
                "stream before sending more."
            )
        sessions: Counter[str | None] = Counter()
        clients: Counter[str] = Counter()
        trainings_of: Counter[str] = Counter()  # per address, running or waiting
        trainings = 0  # waiting, all addresses
        for job in self.jobs():
            client = self.client_of_job(job)
            sessions[job.session] += 1
            clients[client] += 1
            trainings_of[client] += job.concurrency_id == TRAINING_QUEUE
            trainings += job.concurrency_id == TRAINING_QUEUE and not job.running
        for other in self.joining:
            sessions[other.session] += 1
            clients[other.client] += 1
            trainings_of[other.client] += other.queue == TRAINING_QUEUE
            trainings += other.queue == TRAINING_QUEUE
        if join.session is not None and sessions[join.session] >= MAX_JOBS_PER_SESSION:
            return 429, f"This session already has {MAX_JOBS_PER_SESSION} calls waiting; wait for their results."
        if clients[join.client] >= MAX_JOBS_PER_CLIENT:
            return 429, f"Your address already has {MAX_JOBS_PER_CLIENT} calls waiting; wait for their results."
        if join.queue == TRAINING_QUEUE and trainings_of[join.client] >= MAX_TRAININGS_PER_CLIENT:
            return 429, "Your address already has a training running or waiting; one at a time per address."
        if join.queue == TRAINING_QUEUE and trainings >= MAX_WAITING_TRAININGS:
            minutes = (trainings + 1) * TRAINING_SECONDS / 60
            return 503, (
                f"{trainings} trainings are already waiting (about {minutes:.0f} minutes); "
                "please try again in a few minutes."
            )
        return None
