"""The kit on every device present (attnlab.device): results on the inputs' device, ATTNLAB_DEVICE, and a
static check that the device-agnostic modules create no tensor on a hard-coded device.

Parametrised over :func:`attnlab.device.available_devices` (on a machine without a GPU: the CPU only).
A hard-coded device cannot show up on a CPU-only machine at run time, so :func:`test_no_tensor_is_created_on_a_fixed_device`
reads the source instead: every tensor constructor names its ``device=`` or carries a ``# cpu:`` comment
that says why the CPU is deliberate.
"""

import ast
from pathlib import Path

import pytest
import torch
from conftest import BERT_SENTENCES, tiny_bert_classifier

import attnlab
from attnlab.data import Batch
from attnlab.device import (
    DEVICE_ENV,
    available_devices,
    check_device,
    describe,
    device_of,
    model_device,
    pick_device,
    to_device,
)
from attnlab.explain import explain, explain_all, methods_for
from attnlab.faithfulness import (
    comprehensiveness,
    decision_flip_rate,
    per_sentence_metrics,
    probs_after_removal,
    sufficiency,
    violation_test,
)
from attnlab.interventions import (
    attention_intervention,
    frozen,
    permuted,
    permuted_attention,
    uniform,
    uniform_attention,
)
from attnlab.models import (
    AttentionClassifier,
    BagOfWordsClassifier,
    DeepDecoderClassifier,
    MaskClassifier,
    TransformerClassifier,
)
from attnlab.train import accuracy, fit, predict_proba

DEVICES = available_devices()


def _kit_model(name):
    torch.manual_seed(0)
    if name == "bilstm-additive":
        return AttentionClassifier(20, 2, embed_dim=8, hidden_dim=6)
    if name == "cnn-dot":
        return AttentionClassifier(20, 2, encoder="cnn", attention="dot", embed_dim=8, hidden_dim=6, cnn_filters=3)
    if name == "deep-decoder":
        return DeepDecoderClassifier(20, 2, decoder_layers=2, embed_dim=8, hidden_dim=6)
    if name == "mask-soft":
        return MaskClassifier(20, 2, embed_dim=8, hidden_dim=6, selector_only_ids=[19])
    if name == "mask-hard":
        return MaskClassifier(20, 2, selection="hard", k=2, embed_dim=8, hidden_dim=6, head="mlp")
    if name == "transformer":
        return TransformerClassifier(20, 2, n_layers=2, n_heads=2, embed_dim=8, ff_dim=16)
    if name == "bag-of-words":
        return BagOfWordsClassifier(20, 2)
    raise KeyError(name)


KIT_MODELS = ["bilstm-additive", "cnn-dot", "deep-decoder", "mask-soft", "mask-hard", "transformer", "bag-of-words"]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A two-layer BERT of width 16 (conftest.tiny_bert_classifier)."""
    return tiny_bert_classifier(tmp_path_factory.mktemp("tiny_bert_device"))


def _model_and_batch(name, device, tiny_bert):
    if name == "bert":
        model = tiny_bert
        batch = model.encode(BERT_SENTENCES, [1, 0, 1, 0])
    else:
        model = _kit_model(name).eval()
        batch = Batch.from_ids(
            [[2, 3, 4, 5, 6, 19], [7, 8], [9, 10, 11], [12], [13, 14, 15, 16, 17, 18]], labels=[0, 1, 0, 1, 1]
        )
    return to_device(model, device), batch.to(device)


def _assert_on(device, *values):
    """Every tensor in ``values`` (also inside dicts, lists, tuples) is on ``device``."""
    want = torch.device(device)
    for value in values:
        if isinstance(value, torch.Tensor):
            assert value.device.type == want.type and (want.index is None or value.device == want), (
                f"a tensor on {value.device}, expected {want}"
            )
        elif isinstance(value, dict):
            _assert_on(device, *value.values())
        elif isinstance(value, (list, tuple)):
            _assert_on(device, *value)


ALL_MODELS = KIT_MODELS + ["bert"]


# -- choosing the device -------------------------------------------------------------------------------


def test_the_cpu_is_always_available_and_pick_device_chooses_a_present_one(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert DEVICES[0] == "cpu"
    chosen = pick_device()
    assert str(chosen) in DEVICES or (chosen.type == "cuda" and f"cuda:{chosen.index}" in DEVICES)
    if torch.cuda.is_available():
        assert chosen.type == "cuda"
    elif "mps" in DEVICES:
        assert chosen.type == "mps"
    else:
        assert chosen == torch.device("cpu")
    assert isinstance(describe(), str)


def test_attnlab_device_cpu_is_respected(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert pick_device() == torch.device("cpu")
    monkeypatch.setenv(DEVICE_ENV, " CPU ")
    assert pick_device() == torch.device("cpu")
    assert device_of(to_device(torch.zeros(2, device="cpu"))) == torch.device("cpu")


@pytest.mark.parametrize("name", ["tpu", "gpu", "cuda:x", "banana"])
def test_an_unknown_attnlab_device_is_a_clear_error(monkeypatch, name):
    monkeypatch.setenv(DEVICE_ENV, name)
    with pytest.raises(ValueError, match=DEVICE_ENV) as info:
        pick_device()
    assert "cpu" in str(info.value) and "devices on this machine" in str(info.value)


def test_an_absent_device_is_a_clear_error_that_lists_the_present_ones(monkeypatch):
    absent = [] if torch.cuda.is_available() else ["cuda", "cuda:1"]
    absent += ["cuda:99"] if torch.cuda.is_available() and torch.cuda.device_count() < 99 else []
    absent += [] if "mps" in DEVICES else ["mps"]
    for name in absent:
        monkeypatch.setenv(DEVICE_ENV, name)
        with pytest.raises(ValueError, match="devices on this machine") as info:
            pick_device()
        assert str(DEVICES) in str(info.value)
        with pytest.raises(ValueError, match="devices on this machine"):
            check_device(name)


def test_a_chapter_checks_the_device_before_any_work(monkeypatch, tmp_path):
    from attnlab.chapter import Chapter

    monkeypatch.setenv(DEVICE_ENV, "cpu")
    chapter = Chapter("device_test", seed=0, results_dir=tmp_path, plot_theme=False)
    assert chapter.device == torch.device("cpu")
    monkeypatch.setenv(DEVICE_ENV, "tpu")
    with pytest.raises(ValueError, match=DEVICE_ENV):
        Chapter("device_test", seed=0, results_dir=tmp_path, plot_theme=False)


@pytest.mark.parametrize("device", DEVICES)
def test_to_device_moves_models_batches_tensors_and_containers(device):
    model = _kit_model("bilstm-additive")
    batch = Batch.from_ids([[2, 3], [4]], labels=[0, 1])
    assert to_device(model, device) is model and model_device(model).type == torch.device(device).type
    moved = to_device({"batch": batch, "pair": (torch.ones(2), [torch.zeros(1)]), "n": 3}, device)
    _assert_on(device, moved["batch"].tokens, moved["batch"].mask, moved["batch"].labels, moved["pair"])
    assert moved["n"] == 3
    assert batch.to(batch.device) is batch  # already there: the same batch, not checked again
    assert device_of(to_device(batch, model)) == model_device(model)


def test_a_model_refuses_inputs_on_another_device():
    model = _kit_model("transformer").to("meta")  # the meta device stands in for a GPU on a CPU-only machine
    batch = Batch.from_ids([[2, 3], [4]])
    with pytest.raises(ValueError, match="the tokens tensor is on cpu but the model is on meta"):
        model(batch.tokens, batch.mask)


# -- every kit function returns its tensors on the device of its inputs -----------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ALL_MODELS)
def test_forward_and_every_explanation_method_stay_on_the_device(name, device, tiny_bert):
    model, batch = _model_and_batch(name, device, tiny_bert)
    out = model(batch.tokens, batch.mask)
    _assert_on(device, out.logits, out.attention, out.values, out.embeddings, getattr(out, "attentions", ()))
    methods = methods_for(model)
    assert methods
    for method in methods:
        options = {"steps": 3} if method == "integrated_gradients" else {}
        _assert_on(device, explain(method, model, batch, **options))
    weights = explain_all(model, batch, options={"integrated_gradients": {"steps": 3}})
    _assert_on(device, weights)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ALL_MODELS)
def test_violation_test_and_companion_metrics_stay_on_the_device(name, device, tiny_bert):
    model, batch = _model_and_batch(name, device, tiny_bert)
    weights = explain_all(model, batch, ["leave_one_out", "random", "gradient_norm"])
    report = violation_test(model, batch.tokens, batch.mask, weights)
    _assert_on(device, report.valid, report.top_weight, list(report.delta.values()), list(report.violates.values()))
    w = weights["leave_one_out"]
    _assert_on(
        device,
        comprehensiveness(model, batch.tokens, batch.mask, w),
        sufficiency(model, batch.tokens, batch.mask, w),
        per_sentence_metrics(model, batch.tokens, batch.mask, w, batch.labels),
        probs_after_removal(model, batch.tokens, batch.mask, torch.zeros_like(batch.mask)),
    )
    assert 0.0 <= decision_flip_rate(model, batch.tokens, batch.mask, w) <= 1.0


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ALL_MODELS)
def test_interventions_stay_on_the_device(name, device, tiny_bert):
    model, batch = _model_and_batch(name, device, tiny_bert)
    if model.attention_kind == "pooled":
        for override in (uniform_attention, permuted_attention(1)):
            out = model(batch.tokens, batch.mask, attention=override)
            _assert_on(device, out.logits, out.attention)
        _assert_on(device, predict_proba(model, batch, attention=permuted_attention(2)))
    elif model.attention_kind == "layered":
        maps = model(batch.tokens, batch.mask).attentions
        for intervention in (uniform(), permuted(1, layers=[1]), frozen(maps)):
            with attention_intervention(intervention):
                out = model(batch.tokens, batch.mask)
            _assert_on(device, out.logits, out.attentions)
    else:
        pytest.skip(f"{name} has no attention to intervene on")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ALL_MODELS)
def test_fit_one_step_predict_and_accuracy_on_the_device(name, device, tiny_bert):
    model, batch = _model_and_batch(name, device, tiny_bert)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    fit(
        model,
        batch,
        batch,
        epochs=1,
        batch_size=2,
        max_steps=1,
        progress=False,
        loss_weights=lambda b, o: [1.0] * len(b),
    )
    _assert_on(device, dict(model.state_dict()))
    _assert_on(device, predict_proba(model, batch))
    assert 0.0 <= accuracy(model, batch) <= 1.0
    model.load_state_dict(state)  # the BERT fixture is shared
    model.eval()


@pytest.mark.parametrize("device", DEVICES)
def test_a_batch_kept_on_the_cpu_gets_its_results_on_the_cpu(device):
    """The kit moves a batch to the model's device and its results back to the batch's."""
    model = to_device(_kit_model("bilstm-additive").eval(), device)
    batch = Batch.from_ids([[2, 3, 4], [5, 6], [7]], labels=[0, 1, 0])
    weights = explain_all(model, batch, ["leave_one_out", "attention_x_gradient"])
    report = violation_test(model, batch.tokens, batch.mask, weights)
    _assert_on(
        "cpu",
        weights,
        report.valid,
        list(report.delta.values()),
        predict_proba(model, batch),
        comprehensiveness(model, batch.tokens, batch.mask, weights["leave_one_out"]),
    )
    fit(model, batch, epochs=1, batch_size=2, max_steps=1, progress=False)
    _assert_on(device, dict(model.state_dict()))


# -- a hard-coded device cannot be seen at run time on a CPU-only machine: read the source -----------------

PACKAGE = Path(attnlab.__file__).parent
DEVICE_AGNOSTIC = (
    [
        "device.py",
        "interventions.py",
        "comparison.py",
        "batching.py",
        "train.py",
        "chapter.py",
        "data/batch.py",
    ]
    + sorted(str(p.relative_to(PACKAGE)) for p in (PACKAGE / "models").glob("*.py"))
    + sorted(str(p.relative_to(PACKAGE)) for p in (PACKAGE / "explain").glob("*.py"))
    + sorted(str(p.relative_to(PACKAGE)) for p in (PACKAGE / "faithfulness").glob("*.py"))
)
CONSTRUCTORS = {
    "zeros",
    "ones",
    "arange",
    "full",
    "eye",
    "rand",
    "randn",
    "randint",
    "randperm",
    "empty",
    "tensor",
    "as_tensor",
    "linspace",
    "logspace",
    "Generator",
    "from_numpy",
}
MARKER = "# cpu:"


def _unmarked(path: Path, root: Path = PACKAGE) -> list[str]:
    """Tensor constructors without ``device=`` and ``.numpy()`` calls not directly after ``.cpu()``, unless
    the call's lines (or the line above) carry the ``# cpu:`` marker."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        func = node.func
        constructor = (
            isinstance(func.value, ast.Name)
            and func.value.id == "torch"
            and func.attr in CONSTRUCTORS
            and not any(k.arg == "device" for k in node.keywords)
        )
        to_numpy = func.attr == "numpy" and not (
            isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Attribute)
            and func.value.func.attr == "cpu"
        )
        if constructor or to_numpy:
            span = lines[max(node.lineno - 2, 0) : node.end_lineno]
            if not any(MARKER in line for line in span):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return found


def test_no_tensor_is_created_on_a_fixed_device():
    """Every tensor constructor in the device-agnostic modules takes ``device=`` from its inputs or the
    model, or says with a ``# cpu: why`` comment why the CPU is deliberate (initial weights, a CPU random
    generator, pack_padded_sequence's lengths, batches built on the CPU); every ``.numpy()`` follows
    ``.cpu()``."""
    assert len(DEVICE_AGNOSTIC) > 20
    found = [hit for name in DEVICE_AGNOSTIC for hit in _unmarked(PACKAGE / name)]
    assert not found, (
        "tensors created on a fixed device (add device= from the inputs or the model, or a "
        "'# cpu: why' comment):\n" + "\n".join(found)
    )


def test_the_static_check_finds_a_hard_coded_device(tmp_path):
    (tmp_path / "bad.py").write_text(
        "import torch\n\ndef f(x):\n    return x + torch.zeros(3)\n\n"
        "def g(x):\n    return x.numpy()\n\n"
        "def h(x):\n    return torch.zeros(3, device=x.device) + x.cpu().numpy()\n"
    )
    found = _unmarked(tmp_path / "bad.py", tmp_path)
    assert sorted(int(hit.split(":")[1]) for hit in found) == [4, 7]


@pytest.mark.parametrize("device", DEVICES)
def test_save_and_load_a_model_across_devices(device, tmp_path):
    from attnlab.train import load_model, save_model

    model = to_device(_kit_model("bilstm-additive"), device)
    save_model(model, tmp_path / "m.safetensors")
    assert model_device(load_model(tmp_path / "m.safetensors")) == torch.device("cpu")
    loaded = load_model(tmp_path / "m.safetensors", device=device)
    _assert_on(device, dict(loaded.state_dict()))
    with pytest.raises(ValueError, match="devices on this machine"):
        load_model(tmp_path / "m.safetensors", device="tpu")
