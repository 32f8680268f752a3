"""The explorer page's models: a BiLSTM and a CNN with attention, and a small Transformer, trained on the movie
sentences."""

from __future__ import annotations

from ..data import Vocab

EXPLORER_MODELS = {
    "BiLSTM + additive": ("bilstm", "additive"),
    "CNN + dot": ("cnn", "dot"),
    "Transformer (2 layers)": "transformer",
}


def train_explorer_models(splits, *, smoke: bool = False, seed: int = 0):
    """Train the explorer's models (:data:`EXPLORER_MODELS`) on ``splits`` (train, dev, test of a
    ``attnlab.data.Splits``): a BiLSTM with additive attention and a CNN with dot attention (hidden size 64,
    GloVe, 4 epochs; 2 in smoke mode) and a 2-layer, 2-head Transformer on frozen GloVe (3 epochs; 1 in
    smoke mode), each seeded with ``seed``.

    Returns ``(models, accuracies, test)``: name -> ``(model, vocab, label names)`` as :class:`Explorer`
    takes them, name -> test accuracy, and the encoded test :class:`Batch`.
    """
    from ..data import encode, glove_embeddings
    from ..models import AttentionClassifier, TransformerClassifier
    from ..train import accuracy, fit, set_seed

    vocab = Vocab.build(splits.train.tokens)
    glove, _ = glove_embeddings(vocab, seed=seed)
    train, dev, test = (encode(part, vocab) for part in splits)
    models, accuracies = {}, {}
    for name, kind in EXPLORER_MODELS.items():
        set_seed(seed)
        if kind == "transformer":
            model = TransformerClassifier(
                len(vocab),
                n_layers=2,
                n_heads=2,
                embed_dim=50,
                ff_dim=100,
                dropout=0.1,
                embeddings=glove,
                freeze_embeddings=True,
            )
            fit(model, train, dev, epochs=1 if smoke else 3, batch_size=64, lr=3e-3, seed=seed, progress=False)
        else:
            model = AttentionClassifier(
                len(vocab), encoder=kind[0], attention=kind[1], hidden_dim=64, embeddings=glove, dropout=0.3
            )
            fit(model, train, dev, epochs=2 if smoke else 4, batch_size=64, seed=seed, progress=False)
        models[name] = (model, vocab, splits.test.label_names)
        accuracies[name] = accuracy(model, test)
    return models, accuracies, test
