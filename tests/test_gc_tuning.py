"""The server freezes its start-up heap and raises the collector's thresholds; in-process apps leave gc alone."""

from __future__ import annotations

import gc
from pathlib import Path

from starlette.testclient import TestClient

from ragweave.app import create_app
from ragweave.gc_tuning import THRESHOLDS
from ragweave.settings import Settings
from tests.test_graphiql import no_datasources


def test_the_server_default_tunes_gc_after_start_up(tmp_path: Path):
    before = gc.get_threshold()
    settings = Settings.from_env({"RAGWEAVE_DATA_DIR": str(tmp_path)})
    assert settings.gc_tuning
    try:
        with TestClient(create_app(settings, open_ds=no_datasources)):
            assert gc.get_threshold() == THRESHOLDS and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_apps_built_in_process_leave_gc_alone(tmp_path: Path):
    before = gc.get_threshold()
    with TestClient(create_app(Settings(data_dir=tmp_path), open_ds=no_datasources)):
        assert gc.get_threshold() == before
    assert not Settings.from_env({"RAGWEAVE_GC_TUNING": "0"}).gc_tuning
