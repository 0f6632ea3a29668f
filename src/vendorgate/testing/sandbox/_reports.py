"""Asynchronous report jobs: created, polled until ready (or failed), then downloaded.

A job is a snapshot of the settings in force when it was created (the ``report_*``
fields of :class:`~vendorgate.testing.sandbox.Faults`), so changing the faults later
never changes a job already running. The state machine is plain data; the sandbox's
state object drives it under its lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["REPORT_STATUSES", "Report", "ReportStatus"]

ReportStatus = Literal["pending", "running", "ready", "failed"]

#: Every status a report job can have, in the order it goes through them.
REPORT_STATUSES: Final[tuple[ReportStatus, ...]] = ("pending", "running", "ready", "failed")


@dataclass
class Report:
    """One report job.

    Attributes:
        id: The job id (``rep-...``), unique in the sandbox.
        vendor: The vendor prefix it was created under.
        client_id: The client whose token created it (only that client sees it).
        name: The report name the request gave (default ``"daily"``).
        records: How many records of the data set it holds (the first ``records``).
        ready_after_polls: Status polls answered ``running`` before the job is done.
        ready_at: Monotonic time before which the job is not done.
        fail: Whether the job ends ``failed`` instead of ``ready`` (an injected fault).
        polls: Status polls so far.
        status: The status the last poll answered (``pending`` before any poll).
    """

    id: str
    vendor: str
    client_id: str
    name: str
    records: int
    ready_after_polls: int
    ready_at: float
    fail: bool
    polls: int = 0
    status: ReportStatus = "pending"

    def poll(self, now: float) -> ReportStatus:
        """Count one status poll and return the status it answers."""
        self.polls += 1
        if self.status in ("pending", "running"):
            done = self.polls > self.ready_after_polls and now >= self.ready_at
            if done:
                self.status = "failed" if self.fail else "ready"
            else:
                self.status = "running"
        return self.status
