"""Moved to :mod:`attnlab.shortcuts.lab` (import from :mod:`attnlab.shortcuts`); this alias goes in 0.3."""

from .shortcuts.lab import (
    CASES,
    LABEL_RULES,
    NEUTRAL_PREFIX,
    NEUTRAL_TOKENS,
    SentenceLab,  # noqa: F401
    ShortcutTask,
    hint_tokens,
    key_names,
    make_shortcut_task,
    sentence_lab,
    sentence_task,
    shortcut_vocab,
    task_splits,
    with_answer_hint,
    with_neutral_prefix,
)
