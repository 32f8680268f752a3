"""attnlab.train: the training loop learns, is repeatable, and saves/loads safely."""

import pytest
import torch
from conftest import make_model

from attnlab.data import Batch
from attnlab.train import accuracy, fit, load_model, predict_proba, save_model, set_seed


def keyword_task(n=400, seed=0) -> Batch:
    """Label 1 iff token 5 occurs somewhere among random filler tokens 6..19."""
    gen = torch.Generator().manual_seed(seed)
    rows, labels = [], []
    for _ in range(n):
        length = int(torch.randint(3, 9, (1,), generator=gen))
        ids = torch.randint(6, 20, (length,), generator=gen)
        label = int(torch.rand(1, generator=gen) < 0.5)
        if label:
            ids[int(torch.randint(0, length, (1,), generator=gen))] = 5
        rows.append(ids.tolist())
        labels.append(label)
    return Batch.from_ids(rows, labels)


@pytest.mark.parametrize("encoder", ["bilstm", "cnn"])
def test_fit_learns_a_keyword_task_and_attends_to_the_keyword(encoder):
    train, dev = keyword_task(600, seed=0), keyword_task(200, seed=1)
    model = make_model(encoder)
    history = fit(model, train, dev, epochs=15, lr=1e-2, patience=5, seed=0, progress=False)
    assert accuracy(model, dev) >= 0.95
    assert history.best_dev_accuracy == max(e["dev_accuracy"] for e in history.epochs)
    out = model(dev.tokens, dev.mask)
    has_key = dev.labels == 1
    top = out.attention.argmax(1)
    assert (dev.tokens[torch.arange(len(dev)), top][has_key] == 5).float().mean() > 0.8


def test_fit_is_repeatable_with_the_same_seed():
    train = keyword_task(200)
    states = []
    for _ in range(2):
        model = make_model(seed=1)
        fit(model, train, epochs=2, seed=7, progress=False)
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_stop_when_perfect_returns_the_model_of_the_full_run_sooner():
    train, dev = keyword_task(600, seed=0), keyword_task(100, seed=1)
    runs = {}
    for stop in (False, True):
        model = make_model(seed=3)
        history = fit(
            model, train, dev, epochs=12, lr=1e-2, patience=12, seed=0, progress=False, stop_when_perfect=stop
        )
        runs[stop] = (model.state_dict(), history)
    (full, full_history), (short, short_history) = runs[False], runs[True]
    assert full_history.best_dev_accuracy == 1.0, "the test needs a run whose dev accuracy reaches 1.0"
    assert len(full_history.epochs) == 12 and len(short_history.epochs) == full_history.best_epoch < 12
    assert short_history.best_epoch == full_history.best_epoch
    assert all(torch.equal(full[k], short[k]) for k in full)  # the same restored weights
    with pytest.raises(ValueError, match="dev split"):
        fit(make_model(), train, epochs=1, progress=False, stop_when_perfect=True)


def test_save_and_load_roundtrip(tmp_path):
    model = make_model("cnn", "dot")
    data = keyword_task(20)
    path = save_model(model, tmp_path / "model.safetensors")
    again = load_model(path)
    assert again.config == model.config
    assert torch.allclose(predict_proba(again, data), predict_proba(model, data))


def test_load_rejects_files_that_are_not_kit_models(tmp_path):
    bad = tmp_path / "pickle.pt"
    torch.save({"weights": torch.zeros(2)}, bad)  # a pickle: must never be unpickled
    with pytest.raises(ValueError, match="not a safetensors file"):
        load_model(bad)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.safetensors")
    with pytest.raises(TypeError, match="kit's models"):
        save_model(torch.nn.Linear(2, 2), tmp_path / "x.safetensors")


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="seed"):
        set_seed(-1)
    unlabelled = Batch.from_ids([[2, 3]])
    with pytest.raises(ValueError, match="labelled"):
        fit(make_model(), unlabelled, progress=False)
    with pytest.raises(ValueError, match="labelled"):
        accuracy(make_model(), unlabelled)


def test_a_flipped_bit_or_an_edited_config_is_refused_on_load(tmp_path):
    import json
    import struct

    from attnlab.models import AttentionClassifier

    torch.manual_seed(0)
    model = AttentionClassifier(20, 2, embed_dim=8, hidden_dim=6)
    path = save_model(model, tmp_path / "model.safetensors")
    raw = bytearray(path.read_bytes())
    header_len = struct.unpack("<Q", raw[:8])[0]
    flipped = bytearray(raw)
    flipped[8 + header_len + 100] ^= 0b0000_0100  # one bit of one weight
    (tmp_path / "flipped.safetensors").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="corrupted or was changed after saving"):
        load_model(tmp_path / "flipped.safetensors")
    header = json.loads(raw[8 : 8 + header_len])
    config = json.loads(header["__metadata__"]["config"])
    config["hidden_dim"] = 7  # a tampered config, same length of header not needed: rewrite it
    header["__metadata__"]["config"] = json.dumps(config, sort_keys=True)
    new_header = json.dumps(header).encode()
    (tmp_path / "edited.safetensors").write_bytes(
        struct.pack("<Q", len(new_header)) + new_header + bytes(raw[8 + header_len :])
    )
    with pytest.raises(ValueError, match="corrupted or was changed after saving"):
        load_model(tmp_path / "edited.safetensors")
    assert torch.equal(load_model(path).output.weight, model.output.weight)  # the intact file loads
