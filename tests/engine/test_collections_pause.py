"""``fewer_collections`` raises the young-generation threshold while any user is inside it,
and gives the previous thresholds back when the last one leaves (also on an error)."""

from __future__ import annotations

import gc
import threading

import pytest

from mlops_infra.engine.collections_pause import YOUNG_THRESHOLD, fewer_collections


def test_thresholds_are_raised_inside_and_restored_after_nesting_and_errors() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] >= YOUNG_THRESHOLD
        assert gc.get_threshold()[1:] == before[1:]
        with pytest.raises(RuntimeError), fewer_collections():
            raise RuntimeError("inner")
        assert gc.get_threshold()[0] >= YOUNG_THRESHOLD      # the outer user is still inside
    assert gc.get_threshold() == before


def test_overlapping_users_in_threads_restore_once_the_last_leaves() -> None:
    before = gc.get_threshold()
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with fewer_collections():
            inside.set()
            release.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    inside.wait(10)
    with fewer_collections():
        pass                                    # leaves first: the worker is still inside
    assert gc.get_threshold()[0] >= YOUNG_THRESHOLD
    release.set()
    worker.join(10)
    assert gc.get_threshold() == before
