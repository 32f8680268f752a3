"""The checklist's items (what each asks and how it is measured) and the verdicts of one run."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Item:
    """One question of the checklist, where the book teaches it and which checked claims support it."""

    key: str
    question: str
    chapter: str  # notebook stem
    claims: tuple[tuple[str, str], ...]  # (notebook stem, claim id)
    measured: bool = True


ITEMS = (
    Item(
        "signed",
        "Is the weight signed — can it say that a token works *against* the prediction?",
        "05_faithfulness_violation_test",
        (
            ("01_attention_as_explanation", "top_token_suppresses_often"),
            ("05_faithfulness_violation_test", "example_sentences"),
        ),
    ),
    Item(
        "violation",
        "Does it pass the faithfulness violation test on *your* model, and beat the random baseline?",
        "05_faithfulness_violation_test",
        (
            ("05_faithfulness_violation_test", "signed_below_raw"),
            ("05_faithfulness_violation_test", "raw_below_random"),
        ),
    ),
    Item(
        "counterfactual",
        "Does the model need *this* attention — what do uniform and permuted weights do to its accuracy?",
        "01_attention_as_explanation",
        (("01_attention_as_explanation", "other_attention_costs_little"),),
    ),
    Item(
        "mask_code",
        "Could the mask carry the label by *where* it points — does the attention vector alone predict the label?",
        "03_shortcut_experiment",
        (("02_combinatorial_shortcuts", "shortcut_is_a_code"), ("03_shortcut_experiment", "headline_most_seeds_code")),
    ),
    Item(
        "joint",
        "Was the attention trained jointly with the model that reads it (then a code is possible; "
        "random attention pretraining removes the incentive)?",
        "04_mitigations",
        (("02_combinatorial_shortcuts", "joint_accuracy_cannot_tell"), ("04_mitigations", "rp_leads_to_key")),
        measured=False,
    ),
    Item(
        "neutral",
        "How much attention sits on tokens that cannot carry the label (separators, a fixed prefix)?",
        "03_shortcut_experiment",
        (("03_shortcut_experiment", "headline_code_by_case"),),
    ),
)
ITEM = {item.key: item for item in ITEMS}


@dataclass
class Verdict:
    key: str
    status: str  # "caution", "ok" or "unknown"
    measured: str
    verdict: str


@dataclass
class Checklist:
    """What :func:`run_checklist` found: one :class:`Verdict` per item, and the numbers behind them."""

    verdicts: list[Verdict]
    numbers: dict[str, float] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Verdict:
        for v in self.verdicts:
            if v.key == key:
                return v
        raise KeyError(f"no checklist item {key!r}; items: {[v.key for v in self.verdicts]}")

    @property
    def cautions(self) -> list[str]:
        return [v.key for v in self.verdicts if v.status == "caution"]

    def table(self):
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "item": v.key,
                    "question": ITEM[v.key].question.replace("*", ""),
                    "measured": v.measured,
                    "verdict": f"{v.status}: {v.verdict}",
                }
                for v in self.verdicts
            ]
        ).set_index("item")

    def __str__(self) -> str:
        import textwrap

        marks = {"caution": "[!]", "ok": "[ok]", "unknown": "[?]"}
        lines = []
        wrap = lambda text, first, rest: textwrap.wrap(text, 80, initial_indent=first, subsequent_indent=rest)  # noqa: E731
        for v in self.verdicts:
            lines += wrap(ITEM[v.key].question.replace("*", ""), f"{marks[v.status]:5s} ", " " * 6)
            lines += wrap(v.measured, "      measured: ", " " * 16)
            lines += wrap(v.verdict, "      verdict:  ", " " * 16)
        lines.append(
            f"{len(self.cautions)} of {len(self.verdicts)} items call for caution"
            + (f": {', '.join(self.cautions)}" if self.cautions else "")
        )
        return "\n".join(lines)
