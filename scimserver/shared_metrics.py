"""Request metrics shared by the worker processes of one gunicorn server.

Each worker counts the requests it answers; a scrape of ``/metrics`` reaches one
of them. prometheus_client's multiprocess mode makes every worker write its
counts to files in one folder (``PROMETHEUS_MULTIPROC_DIR``) and sums the files
at scrape time, so that any worker answers with the server's totals.

By default each process writes files named after its pid, and the files of
ended processes must stay (their counts are part of the totals): with workers
recycled every few thousand requests, the folder would grow without end and
every scrape would read it all. Here a worker writes to a *slot* instead: the
lowest number no live worker holds. A worker that replaces an ended one takes
over its files and goes on counting from their values, so the folder holds at
most as many slots as workers ever ran at once.

``deploy/gunicorn.conf.py`` calls these functions from gunicorn's server hooks.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, MutableMapping
from pathlib import Path

from prometheus_client import values

logger = logging.getLogger(__name__)

FOLDER_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
FOLDER_PREFIX = "scimserver-metrics-"

#: Folders made by this process (gunicorn's master, whose configuration is read
#: again on a reload), removed when it stops.
_made: set[Path] = set()


def share_folder(environ: MutableMapping[str, str], parent: str | None = None) -> Path:
    """The workers' metrics folder.

    An operator may name one in ``PROMETHEUS_MULTIPROC_DIR``; otherwise a fresh
    folder is made under ``parent`` and named in ``environ``, which the workers
    inherit.
    """
    named = environ.get(FOLDER_VARIABLE)
    if named:
        folder = Path(named)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX, dir=parent))
    environ[FOLDER_VARIABLE] = str(folder)
    _made.add(folder)
    return folder


def empty_folder(folder: Path) -> None:
    """Remove the counts of an earlier run, which would add to this one's."""
    stale = list(folder.glob("*.db"))
    for path in stale:
        path.unlink()
    if stale:
        logger.info("metrics folder emptied folder=%s files=%d", folder, len(stale))


def free_slot(held: Iterable[int | None]) -> int:
    """The lowest slot that no live worker holds."""
    taken = {slot for slot in held if slot is not None}
    slot = 0
    while slot in taken:
        slot += 1
    return slot


def count_in_slot(slot: int) -> None:
    """Make this worker's metrics write to the files of ``slot``.

    Called in a new worker before the application, and so any metric, exists.
    """
    in_slot = values.MultiProcessValue(lambda: slot)  # type: ignore[no-untyped-call]
    values.ValueClass = in_slot


def remove_made_folders() -> None:
    """Remove the folders :func:`share_folder` made, when the server stops."""
    while _made:
        shutil.rmtree(_made.pop(), ignore_errors=True)


def shared() -> bool:
    """Whether this process's metrics are summed with its siblings' at scrape.

    A folder that is named but missing is reported, and the process counts alone.
    """
    named = os.environ.get(FOLDER_VARIABLE)
    if not named:
        return False
    if not Path(named).is_dir():
        logger.warning(
            "metrics folder missing, counting this process alone folder=%s", named
        )
        return False
    return True
