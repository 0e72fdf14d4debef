"""Artefacts: atomic versions, the champion pointer, and verification before loading."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import joblib
import pytest

from classifier import registry
from classifier.catalogue import DEPARTMENT_IDS
from classifier.model import TriageModel
from classifier.packing import PackedVocabulary


def test_saved_version_loads_and_predicts_the_same(
    models_dir_with_champion: tuple[Path, str], tiny_model: TriageModel
) -> None:
    models_dir, version = models_dir_with_champion
    assert registry.champion(models_dir) == version
    loaded = registry.load_champion(models_dir, DEPARTMENT_IDS)
    text = ["the parcel never arrived"]
    assert (loaded.model.predict_proba(text) == tiny_model.predict_proba(text)).all()
    metadata = json.loads((models_dir / version / "metadata.json").read_text())
    assert metadata["artefact_sha256"] == registry.file_sha256(
        models_dir / version / "model.joblib"
    )
    assert (models_dir / version / "card.md").is_file()
    assert not list(models_dir.glob(".staging-*"))


def test_an_existing_version_is_never_overwritten(
    models_dir_with_champion: tuple[Path, str], tiny_model: TriageModel
) -> None:
    models_dir, version = models_dir_with_champion
    with pytest.raises(registry.ArtefactError, match="already exists"):
        registry.save(models_dir, tiny_model, {"labels": list(DEPARTMENT_IDS)}, "", version)


def test_altered_artefact_is_refused_before_unpickling(
    models_dir_with_champion: tuple[Path, str],
) -> None:
    models_dir, version = models_dir_with_champion
    artefact = models_dir / version / "model.joblib"
    data = bytearray(artefact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artefact.write_bytes(bytes(data))
    with pytest.raises(registry.ArtefactError, match="sha256 .* altered or truncated"):
        registry.load_champion(models_dir, DEPARTMENT_IDS)


def test_truncated_artefact_is_refused(models_dir_with_champion: tuple[Path, str]) -> None:
    models_dir, version = models_dir_with_champion
    artefact = models_dir / version / "model.joblib"
    artefact.write_bytes(artefact.read_bytes()[:100])
    with pytest.raises(registry.ArtefactError, match="altered or truncated"):
        registry.load(models_dir, version, DEPARTMENT_IDS)


def test_model_with_other_labels_is_refused(models_dir_with_champion: tuple[Path, str]) -> None:
    models_dir, version = models_dir_with_champion
    with pytest.raises(registry.ArtefactError, match="do not match the catalogue"):
        registry.load(models_dir, version, DEPARTMENT_IDS[:-1])


def test_model_of_an_older_format_is_refused_with_advice(
    models_dir_with_champion: tuple[Path, str],
) -> None:
    models_dir, version = models_dir_with_champion
    path = models_dir / version / registry.METADATA
    metadata = json.loads(path.read_text())
    metadata["model_format"] = 1
    path.write_text(json.dumps(metadata))
    with pytest.raises(registry.ArtefactError, match="has format 1.*retrain it"):
        registry.load(models_dir, version, DEPARTMENT_IDS)


def test_missing_champion_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(registry.ArtefactError, match="complaint-triage train"):
        registry.load_champion(tmp_path, DEPARTMENT_IDS)


def test_champion_pointer_is_replaced_atomically(
    models_dir_with_champion: tuple[Path, str], tiny_model: TriageModel
) -> None:
    models_dir, first = models_dir_with_champion
    second = "2026-02-02T00-00-00Z-123456"
    registry.save(models_dir, tiny_model, {"labels": list(DEPARTMENT_IDS)}, "", second)
    registry.set_champion(models_dir, second)
    assert registry.champion(models_dir) == second
    assert registry.versions(models_dir) == [first, second]
    assert not [p for p in models_dir.iterdir() if p.name.startswith(".champion")]
    with pytest.raises(registry.ArtefactError, match="no such model version"):
        registry.set_champion(models_dir, "nope")


def test_vocabularies_are_pickled_packed_and_come_back_equal(tiny_model: TriageModel) -> None:
    tiny_model.warm_up()
    before = [dict(v.vocabulary_) for _, v in tiny_model.features_.transformer_list]
    state = tiny_model.__getstate__()
    packed = [v.vocabulary_ for _, v in state["features_"].transformer_list]
    assert all(isinstance(p, PackedVocabulary) for p in packed)
    # pickling must not touch the live model: its dicts and caches stay
    assert [v.vocabulary_ for _, v in tiny_model.features_.transformer_list] == before
    assert "_scoring_cache" in tiny_model.__dict__
    for handle in (io.BytesIO(), None):
        if handle is None:
            loaded = pickle.loads(pickle.dumps(tiny_model))
        else:
            joblib.dump(tiny_model, handle)
            handle.seek(0)
            loaded = joblib.load(handle)
        assert [v.vocabulary_ for _, v in loaded.features_.transformer_list] == before
        texts = ["charged twice, refund me", "parcel lost", "ünïcode ☃ text"]
        assert (loaded.predict_proba(texts) == tiny_model.predict_proba(texts)).all()
