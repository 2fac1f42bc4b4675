"""The folder and slots through which gunicorn workers share request metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from scimserver import shared_metrics


def test_a_worker_takes_the_lowest_slot_no_live_worker_holds() -> None:
    assert shared_metrics.free_slot([]) == 0
    assert shared_metrics.free_slot([0, 1]) == 2
    assert shared_metrics.free_slot([2, None, 0]) == 1


def test_a_folder_named_by_the_operator_is_used_and_kept(tmp_path: Path) -> None:
    named = tmp_path / "metrics"
    environ = {shared_metrics.FOLDER_VARIABLE: str(named)}

    folder = shared_metrics.share_folder(environ)
    shared_metrics.remove_made_folders()

    assert folder == named
    assert named.is_dir()


def test_without_a_name_a_folder_is_made_for_the_workers_and_removed(
    tmp_path: Path,
) -> None:
    environ: dict[str, str] = {}

    folder = shared_metrics.share_folder(environ, str(tmp_path))
    made = folder.is_dir()
    shared_metrics.remove_made_folders()

    assert made
    assert environ[shared_metrics.FOLDER_VARIABLE] == str(folder)
    assert folder.parent == tmp_path
    assert not folder.exists()


def test_counts_of_an_earlier_run_are_removed_at_start(tmp_path: Path) -> None:
    (tmp_path / "counter_0.db").write_bytes(b"old")
    (tmp_path / "histogram_3.db").write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("kept")

    shared_metrics.empty_folder(tmp_path)

    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]


def test_a_missing_folder_leaves_each_process_counting_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(shared_metrics.FOLDER_VARIABLE, str(tmp_path / "missing"))
    missing = shared_metrics.shared()
    monkeypatch.setenv(shared_metrics.FOLDER_VARIABLE, str(tmp_path))

    assert not missing
    assert shared_metrics.shared()
