from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _media_root(tmp_path, settings):
    # Stored recordings and media land in a per-test directory.
    settings.MEDIA_ROOT = tmp_path / "media"
