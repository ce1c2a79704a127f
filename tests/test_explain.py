"""--explain: the sentences quote the result's own numbers."""

from __future__ import annotations

import numpy as np
import pytest

import cecli
from cecli.explain import explain
from tests.helpers import run


def test_one_hot_ce_says_only_the_true_class_counts() -> None:
    text = " ".join(explain(cecli.ce([0], [0.1, 0.5, 0.1, 0.1, 0.2])))
    assert "Only the true class counts" in text
    assert "−log 0.1 = 2.303 nats" in text
    assert "the other 4 classes share" in text


def test_clipping_that_changed_the_result_is_reported() -> None:
    assert "Clipping changed the result" in " ".join(explain(cecli.ce([0], [0.0, 1.0])))
    off_target = " ".join(explain(cecli.ce([2], [0.0, 0.5, 0.5])))
    assert "only on classes with target 0" in off_target


def test_soft_ce_names_the_dominant_class() -> None:
    text = " ".join(
        explain(cecli.ce([[0.2, 0.5, 0.3]], [[0.3, 0.5, 0.2]], class_names=("a", "b", "c")))
    )
    assert "c contributes most" in text  # the name as given
    assert "(45%)" in text


def test_grad_says_what_goes_up_and_down() -> None:
    text = " ".join(explain(cecli.grad([0], [2.0, 1.0, 0.1], logits=True)))
    assert "class 0's logit goes up most (gradient -0.341)" in text
    assert "class 1's goes down most (gradient 0.2424)" in text


def test_multilabel_warns_about_drowned_positives() -> None:
    labels = np.zeros((1, 20))
    labels[0, 0] = 1
    text = " ".join(explain(cecli.multilabel(labels, np.full((1, 20), 0.1))))
    assert "The 1 positive class(es)" in text
    assert "--pos-weight" in text


@pytest.mark.parametrize(
    "compute",
    [
        lambda: cecli.kl([0.5, 0.5], [0.9, 0.1]),
        lambda: cecli.smooth([0], [0.7, 0.2, 0.1]),
        lambda: cecli.focal([0], [0.9, 0.05, 0.05]),
        lambda: cecli.focal([1, 0], [0.9, 0.3], binary=True),
        lambda: cecli.bce([1, 0, 1], [0.9, 0.2, 0.7]),
    ],
    ids=["kl", "smooth", "focal", "focal-binary", "bce"],
)
def test_every_loss_has_something_to_say(compute: object) -> None:
    result = compute()  # type: ignore[operator]
    sentences = explain(result)
    assert sentences
    assert all(s.endswith(".") for s in sentences)


def test_worst_row_is_named_for_batches() -> None:
    assert "Row 2 costs the most" in " ".join(explain(cecli.ce([0, 1], [[0.9, 0.1], [0.4, 0.6]])))


def test_cli_explain_adds_sentences_after_the_table() -> None:
    code, out, _ = run("focal", "0", "0.9,0.05,0.05", "--explain")
    assert code == 0
    assert "→ With γ = 2 the row's loss is" in out
    assert out.index("Focal loss") < out.index("→")
    code, out, err = run("focal", "0", "0.9,0.05,0.05", "--explain", "-q")
    assert (code, out) == (2, "")
    assert "--explain adds sentences under the table; it does not go with --quiet" in err
