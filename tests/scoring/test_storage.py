"""Trained models are stored as data and loaded from trusted types only: a pickle never runs."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import skops.io as sio

from leadflow.scoring.model import WinModel
from leadflow.scoring.storage import UntrustedModel, dump_model, load_model


def small_model() -> WinModel:
    frame = pl.DataFrame(
        {"source": ["web", "event", "list", "web"] * 30, "size": [10.0, None, 300.0, 40.0] * 30}
    )
    return WinModel(categorical=["source"], numeric=["size"], min_frequency=2).fit(
        frame, np.array([1, 0, 0, 1] * 30)
    )


def test_a_stored_model_predicts_as_the_trained_one() -> None:
    model = small_model()
    frame = pl.DataFrame({"source": ["web", "unseen"], "size": [12.0, None]})
    loaded = load_model(dump_model(model))
    assert np.allclose(loaded.predict_proba(frame), model.predict_proba(frame))


class Planted:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {os.environ['PLANTED']}",))


def test_a_pickled_model_is_refused_without_being_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = tmp_path / "ran"
    monkeypatch.setenv("PLANTED", str(planted))
    with pytest.raises(UntrustedModel, match="pickle"):
        load_model(pickle.dumps(Planted()))
    assert not planted.exists()


def test_a_model_naming_an_untrusted_type_is_refused() -> None:
    blob = dump_model(small_model())
    # the stored schema edited to name a class of the os module
    source = zipfile.ZipFile(io.BytesIO(blob))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "schema.json":
                data = data.replace(b'"_log_scale"', b'"system"').replace(
                    b'"leadflow.scoring.model"', b'"os"', 1
                )
            target.writestr(item, data)
    assert any(name.startswith("os.") for name in sio.get_untrusted_types(data=out.getvalue()))
    with pytest.raises(UntrustedModel, match="untrusted"):
        load_model(out.getvalue())
