"""The jobs database: SQLite under `--data`, the single source of truth for every job.

The schema lives here and only here. Each migration is a list of statements run once,
in order; the number of migrations applied is SQLite's `user_version`, so a newer rtstyle
upgrades an older database in place and an older one refuses a newer database.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import RtstyleError

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: jobs
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY,            -- a random UUID, never a path
            state TEXT NOT NULL,            -- queued, running, done, failed, cancelled
            created REAL NOT NULL,
            updated REAL NOT NULL,
            input TEXT NOT NULL,            -- what the client gave: a file name or a URL (shown, not used)
            options TEXT NOT NULL,          -- JSON: style, strength, stroke, height, temporal, duration
            frames INTEGER NOT NULL DEFAULT 0,
            total_frames INTEGER,           -- NULL while unknown (a stream)
            fps REAL NOT NULL DEFAULT 0,
            error TEXT,                     -- one line, for failed jobs
            has_result INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX jobs_by_state ON jobs (state, created)",
    ),
)
STATES = ("queued", "running", "done", "failed", "cancelled")
ACTIVE = ("queued", "running")
ENDED = ("done", "failed", "cancelled")


@dataclass
class Job:
    id: str
    state: str
    created: float
    updated: float
    input: str
    options: dict = field(default_factory=dict)
    frames: int = 0
    total_frames: int | None = None
    fps: float = 0.0
    error: str | None = None
    has_result: bool = False

    @property
    def progress(self) -> float | None:
        """Percent done, where the input's length is known."""
        if self.state == "done":
            return 100.0
        if not self.total_frames:
            return None
        return min(100.0, 100.0 * self.frames / self.total_frames)

    @property
    def eta(self) -> float | None:
        """Seconds left at the current speed, while running."""
        if self.state != "running" or not self.total_frames or self.fps <= 0:
            return None
        return max(0.0, (self.total_frames - self.frames) / self.fps)

    def public(self) -> dict:
        """The job as the API shows it."""
        d = asdict(self)
        d.update(progress=self.progress, eta=self.eta, fps=round(self.fps, 2))
        d.pop("has_result")
        d["result"] = f"/v1/jobs/{self.id}/result" if self.has_result else None
        return d


class JobStore:
    """Jobs in SQLite. One connection shared by the server's threads, behind a lock (SQLite
    serialises writers anyway); every write commits at once, so a killed server loses nothing."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self._migrate()
            missing = {f.name for f in fields(Job)} - {row[1] for row in self.db.execute("PRAGMA table_info(jobs)")}
        except sqlite3.DatabaseError as exc:
            raise RtstyleError(f"{path}: not a usable jobs database: {exc}") from None
        if missing:  # its schema version says current, its table does not: edited by hand
            raise RtstyleError(f"{path}: not a usable jobs database: its jobs table lacks {', '.join(sorted(missing))}")
        self.lock = threading.Lock()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise RtstyleError(f"{self.path}: made by a newer rtstyle (schema {version}, this one knows "
                               f"{len(MIGRATIONS)}): upgrade rtstyle or use another --data folder")
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            self.db.execute("BEGIN")
            for statement in statements:
                self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version = {number}")
            self.db.execute("COMMIT")

    @property
    def version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def add(self, job_id: str, source: str, options: dict) -> Job:
        now = time.time()
        with self.lock:
            self.db.execute("INSERT INTO jobs (id, state, created, updated, input, options) VALUES (?, ?, ?, ?, ?, ?)",
                            (job_id, "queued", now, now, source, json.dumps(options)))
        return self.get(job_id)

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            row = self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row) if row else None

    def list(self, state: str | None = None) -> list[Job]:
        with self.lock:
            if state:
                rows = self.db.execute("SELECT * FROM jobs WHERE state = ? ORDER BY created", (state,)).fetchall()
            else:
                rows = self.db.execute("SELECT * FROM jobs ORDER BY created").fetchall()
        return [self._job(r) for r in rows]

    def update(self, job_id: str, **values) -> None:
        values["updated"] = time.time()
        names = ", ".join(f"{k} = ?" for k in values)
        with self.lock:
            self.db.execute(f"UPDATE jobs SET {names} WHERE id = ?", (*values.values(), job_id))

    def claim(self) -> Job | None:
        """The oldest queued job, now marked running (atomically: two workers never take one job)."""
        with self.lock:
            row = self.db.execute("SELECT id FROM jobs WHERE state = 'queued' ORDER BY created LIMIT 1").fetchone()
            if row is None:
                return None
            self.db.execute("UPDATE jobs SET state = 'running', updated = ?, error = NULL WHERE id = ?",
                            (time.time(), row[0]))
        return self.get(row[0])

    def requeue_running(self) -> int:
        """At start: jobs a stopped server left running go back in the queue."""
        with self.lock:
            return self.db.execute("UPDATE jobs SET state = 'queued', frames = 0, fps = 0 WHERE state = 'running'"
                                   ).rowcount

    def ended_before(self, cutoff: float) -> list[str]:
        """Ids of the jobs that ended before `cutoff` (a `time.time()`): their last update is their end."""
        with self.lock:
            rows = self.db.execute(f"SELECT id FROM jobs WHERE state IN ({', '.join('?' * len(ENDED))}) AND updated < ?",
                                   (*ENDED, cutoff)).fetchall()
        return [r[0] for r in rows]

    def delete(self, job_id: str) -> None:
        with self.lock:
            self.db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def close(self) -> None:
        with self.lock:
            self.db.close()

    @staticmethod
    def _job(row: tuple) -> Job:
        (job_id, state, created, updated, source, options, frames, total, fps, error, has_result) = row
        return Job(job_id, state, created, updated, source, json.loads(options), frames, total, fps, error,
                   bool(has_result))
