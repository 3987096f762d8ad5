"""A build's provisioner logs, derived from its job's times (the fake stores no log lines).

What a terraform provisioner writes, cut to the stages a client shows: set-up when the job
starts, the transition's stage, and clean-up when it ends; a failed job ends with its error at
`error` level. Ids count from 1 per job, as coderd's log ids only ever grow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fakeserver.models import Build
from fakeserver.timefmt import format_time

STAGES = {"start": "Starting workspace", "stop": "Stopping workspace", "delete": "Destroying workspace"}


@dataclass(frozen=True)
class BuildLog:
    id: int
    created_at: datetime
    source: str
    level: str
    stage: str
    output: str

    def to_json(self) -> dict[str, Any]:
        """codersdk.ProvisionerJobLog."""
        return {
            "id": self.id,
            "created_at": format_time(self.created_at),
            "log_source": self.source,
            "log_level": self.level,
            "stage": self.stage,
            "output": self.output,
        }


def build_logs(build: Build) -> list[BuildLog]:
    """The logs the build's job has written so far."""
    job = build.job
    lines: list[tuple[datetime, str, str, str, str]] = []
    if job.started_at is not None:
        stage = STAGES[build.transition]
        lines += [
            (job.started_at, "provisioner_daemon", "info", "Setting up", ""),
            (job.started_at, "provisioner", "info", "Planning infrastructure", ""),
            (job.started_at, "provisioner", "info", stage, ""),
        ]
    end = job.completed_at or job.canceled_at
    if end is not None and job.status == "succeeded":
        lines.append((end, "provisioner_daemon", "info", "Cleaning Up", ""))
    elif end is not None and job.status == "failed":
        lines.append((end, "provisioner", "error", STAGES[build.transition], job.error or "job failed"))
    elif end is not None and job.status == "canceled":
        lines.append((end, "provisioner_daemon", "warn", "Cleaning Up", "Job canceled"))
    return [BuildLog(index, *line) for index, line in enumerate(lines, start=1)]


def logs_after(build: Build, after: int) -> list[BuildLog]:
    return [log for log in build_logs(build) if log.id > after]
