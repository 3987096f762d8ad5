"""`fakeserver serve --reload`: serve the new world whenever a fixture file changes.

An invalid file is reported (file, line, reason) and the world being served is
kept, so a half-finished edit never takes the server down.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TextIO

import watchfiles

from fakeserver.fake import FakeCoder
from fakeserver.fixtures import FixtureError


class FixtureWatcher:
    """Watches the fake's fixture files from a background thread and reloads the fake when they change."""

    def __init__(self, fake: FakeCoder, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.fake = fake
        self.files = {path.resolve() for path in fake.fixture_paths}
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fakeserver-reload", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        # Watch the directories, not the files: editors often save by writing a new
        # file and renaming it over the old one, which a watch on the file would miss.
        directories = sorted({str(path.parent) for path in self.files})
        for _changes in watchfiles.watch(
            *directories, watch_filter=self._is_fixture, stop_event=self._stop, raise_interrupt=False
        ):
            self.reload()

    def _is_fixture(self, change: watchfiles.Change, path: str) -> bool:
        return change != watchfiles.Change.deleted and Path(path).resolve() in self.files

    def reload(self) -> None:
        try:
            self.fake.reload()
        except FixtureError as error:
            print(f"fakeserver: not reloaded, still serving the previous world:\n  {error}", file=self.err, flush=True)
            return
        except Exception as error:  # a bug must not end the watching thread: later edits still reload
            print(f"fakeserver: reload failed ({type(error).__name__}: {error})", file=self.err, flush=True)
            return
        summary = self.fake.summary()
        files = ", ".join(str(path) for path in self.fake.fixture_paths)
        print(
            f"fakeserver: reloaded {files}: {summary['users']} users, {summary['tasks']} tasks",
            file=self.out,
            flush=True,
        )
