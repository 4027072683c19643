import os
import stat

import pytest

from dsrwatch import files


def test_write_atomic_replaces_whole_and_sets_the_mode_first(tmp_path):
    target = tmp_path / "deep" / "secret.json"
    files.write_atomic(target, "old")
    files.write_atomic(target, b"new", mode=0o600)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["secret.json"]  # no temporary left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "digest.eml"
    target.write_text("complete message")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        files.write_atomic(target, "half a mess")
    assert target.read_text() == "complete message"
    assert [p.name for p in tmp_path.iterdir()] == ["digest.eml"]
