"""Real data for the kit: human-rated sentences, a tokenizer, a vocabulary, GloVe vectors and padded batches.

==================  ===================================================================================
module              holds
==================  ===================================================================================
``vader``           the source of the rated sentences: the verified ``vaderSentiment`` archive and its
                    cache (:func:`vader_files`, :func:`cache_dir`, :class:`DataUnavailableError`)
``sentences``       :class:`TextDataset`, :class:`Splits`; the rated corpora as tasks
                    (:func:`load_sentiment`, :func:`load_domains`, :func:`load_ratings`) and the lexicon
``text``            :func:`tokenize`, :class:`Vocab`, :func:`glove_embeddings`
``batch``           :class:`Batch` (padded ids, mask, labels), :func:`check_padded`, :func:`encode`
``online``          datasets by name (:func:`load_splits`, a chapter's ``DATASET``): the movie sentences
                    offline, SST-2, IMDB, Yelp polarity and AG News from the Hugging Face hub online
==================  ===================================================================================

Import from ``attnlab.data`` (every public name is here); the modules may move. Typical use::

    splits = load_sentiment("movies")          # binary, fixed train/dev/test splits
    vocab = Vocab.build(splits.train.tokens)
    train = encode(splits.train, vocab)        # a padded Batch of the whole split
    for batch in train.batches(32, shuffle=True, seed=0): ...
"""

from __future__ import annotations

import sys
import types

from . import batch, online, sentences, text, vader
from .batch import Batch, check_padded, encode
from .online import DATASETS, HUB_DATASETS, HubDataset, load_hub_dataset, load_splits
from .sentences import (
    SPLIT_FRACTIONS,
    SPLIT_SEED,
    Splits,
    TextDataset,
    load_domains,
    load_ratings,
    load_sentiment,
    load_vader_lexicon,
)
from .text import PAD, UNK, Vocab, glove_embeddings, tokenize
from .vader import (
    CACHE_FOLDER,
    DOMAINS,
    LEXICON_FILE,
    LEXICON_SHA256,
    LOCK_TIMEOUT_SECONDS,
    MANIFEST,
    TEST_BUILD_HOOK_ENV,
    VADER_REQUIREMENT,
    VADER_SDIST,
    VADER_SDIST_SHA256,
    VADER_SDIST_URL,
    CacheRepairedWarning,
    DataUnavailableError,
    cache_dir,
    vader_files,
)

__all__ = [
    "Batch",
    "CACHE_FOLDER",
    "CacheRepairedWarning",
    "DATASETS",
    "DOMAINS",
    "DataUnavailableError",
    "HUB_DATASETS",
    "HubDataset",
    "LEXICON_FILE",
    "LEXICON_SHA256",
    "LOCK_TIMEOUT_SECONDS",
    "MANIFEST",
    "PAD",
    "SPLIT_FRACTIONS",
    "SPLIT_SEED",
    "Splits",
    "TEST_BUILD_HOOK_ENV",
    "TextDataset",
    "UNK",
    "VADER_REQUIREMENT",
    "VADER_SDIST",
    "VADER_SDIST_SHA256",
    "VADER_SDIST_URL",
    "Vocab",
    "cache_dir",
    "check_padded",
    "encode",
    "glove_embeddings",
    "load_domains",
    "load_hub_dataset",
    "load_ratings",
    "load_sentiment",
    "load_splits",
    "load_vader_lexicon",
    "tokenize",
    "vader_files",
]

#: Each public name -> the module whose functions read it (the first, in dependency order, that has it).
_HOMES = {}
for _module in (vader, text, sentences, batch, online):
    for _name in __all__:
        if _name not in _HOMES and vars(_module).get(_name) is globals()[_name]:
            _HOMES[_name] = _module


class _Package(types.ModuleType):
    """Setting a name on ``attnlab.data`` sets it in its home module too, where the code reads it.

    So ``attnlab.data.VADER_SDIST_URL = mirror`` or ``monkeypatch.setattr(attnlab.data, "cache_dir", f)``
    still takes effect, as it did when ``attnlab.data`` was one module.
    """

    def __setattr__(self, name, value):
        home = _HOMES.get(name)
        if home is not None:
            setattr(home, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
del _module, _name
