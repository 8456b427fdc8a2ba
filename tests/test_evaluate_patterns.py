"""trainer.evaluate by pattern: the accuracy of each operator pattern ("a+b*c") and bracket pattern ("(a·b)·c"),
and --min-pattern-accuracy, which fails a model on its weakest pattern of at least 100 random questions.

The counting is checked on hand-made questions with known right/wrong masks; the command on real tiny model
folders trained for one epoch (each run is `python -m trainer` in its own process, a few seconds), which are
weak enough that no pattern is all right. trainer.zoo's evaluate step is run for real against one of them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from trainer_runs import SMALL, run_trainer, stderr_sentence

from model.questions import Questions, make_questions
from trainer import zoo
from trainer.evaluate import PatternScore, pattern_failure, pattern_scores

# One weak epoch of 1-digit questions of 3 terms, + and - drawn per gap: 4 operator patterns.
WEAK = [*SMALL, "--terms", "3", "--operators", "+-", "--epochs", "1", "--seed", "3"]


def test_operator_patterns_count_each_pattern_and_name_it_with_letters():
    q = make_questions(
        [[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 1, 0], [2, 3, 4]],
        [[0, 2], [0, 2], [2, 2], [1, -1], [0, 2]],  # a 2-term question ends after one gap
    )
    right = np.array([True, False, True, True, True])
    # Fewer terms first, then operators in "+-*" order.
    assert pattern_scores(q, right, "operators") == [
        PatternScore("a-b", 1, 1),
        PatternScore("a+b*c", 3, 2),
        PatternScore("a*b*c", 1, 1),
    ]
    score = pattern_scores(q, right, "operators")[1]
    assert score.wrong == 1 and score.accuracy == pytest.approx(2 / 3)


def test_bracket_patterns_use_the_pattern_labels_of_each_term_count():
    q = make_questions(
        [[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 1, 0], [2, 3, 4]], [[0, 2], [1, 2], [2, 0], [1, -1], [0, 0]]
    )
    bracketed = Questions(q.terms, q.ops, np.array([1, 1, 2, 0, 0], dtype=np.int16))
    right = np.array([False, False, True, True, False])
    # Operators do not split a bracket pattern; bracket_patterns(3) is none, (0, 1), (1, 2).
    assert pattern_scores(bracketed, right, "brackets") == [
        PatternScore("a·b", 1, 1),
        PatternScore("a·b·c", 1, 0),
        PatternScore("(a·b)·c", 2, 0),
        PatternScore("a·(b·c)", 1, 1),
    ]


def test_pattern_scores_refuse_questions_without_brackets_and_a_mask_of_another_length():
    q = make_questions([[1, 2, 3]], "+")
    with pytest.raises(ValueError, match="no brackets"):
        pattern_scores(q, np.array([True]), "brackets")
    with pytest.raises(ValueError, match="2 entries for 1 questions"):
        pattern_scores(q, np.array([True, False]), "operators")


def test_pattern_failure_names_the_worst_pattern_of_enough_questions():
    scores = [PatternScore("a+b", 99, 0), PatternScore("a-b", 200, 190), PatternScore("a*b", 100, 90)]
    # a+b has too few questions to count; a*b (90%) is worse than a-b (95%).
    failure = pattern_failure(scores, 0.97)
    assert failure is not None and failure.startswith("pattern a*b is 90.0000% right on 100 random questions")
    assert "(1 more patterns are below it too)" in failure
    assert pattern_failure(scores, 0.9) is None and pattern_failure(scores, 0.0) is None


@pytest.fixture(scope="module")
def weak_runs(tmp_path_factory) -> dict[str, Path]:
    """Two weak model folders: operators +- (4 patterns), and the same with brackets (3 bracket patterns)."""
    root = tmp_path_factory.mktemp("patterns")
    runs = {"plain": root / "plain", "brackets": root / "brackets"}
    for name, extra in (("plain", []), ("brackets", ["--brackets"])):
        result = run_trainer(*WEAK, *extra, "--output-dir", str(runs[name]))
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return runs


def pattern_rows(stdout: str, title: str) -> dict[str, tuple[int, float, int]]:
    block = stdout.split(f"  by {title} (random questions):\n", 1)[1].splitlines()[1:]
    rows = {}
    for line in block:
        found = re.fullmatch(r"    (\S+) +([\d,]+) +(\d+\.\d{4})% +([\d,]+)", line)
        if not found:
            break
        rows[found[1]] = (int(found[2].replace(",", "")), float(found[3]), int(found[4].replace(",", "")))
    return rows


@pytest.mark.slow  # trains two small models (weak_runs)
def test_evaluate_prints_each_operator_pattern_and_fails_on_one(weak_runs):
    args = [str(weak_runs["plain"]), "--samples", "2000", "--seed", "5"]
    result = run_trainer(*args, module="trainer.evaluate", timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    # The lines trainer.zoo reads are as before.
    assert re.search(r"^Random questions: \d+\.\d{4}% exact-match on 2,000 \([\d,]+ wrong\);", result.stdout, re.M)
    assert re.search(r"^Every question: [\d,]+ wrong of 4,000 \(", result.stdout, re.M)
    assert "bracket pattern" not in result.stdout
    rows = pattern_rows(result.stdout, "operator pattern")
    assert list(rows) == ["a+b+c", "a+b-c", "a-b+c", "a-b-c"]
    assert sum(asked for asked, _, _ in rows.values()) == 2000
    wrong = int(re.search(r"exact-match on 2,000 \(([\d,]+) wrong\)", result.stdout)[1].replace(",", ""))
    assert sum(w for _, _, w in rows.values()) == wrong > 0  # the weak model gets some wrong

    strict = run_trainer(*args, "--min-pattern-accuracy", "1", module="trainer.evaluate", timeout=180)
    assert strict.returncode == 1
    sentence = stderr_sentence(strict)
    named = re.fullmatch(
        r"error: pattern (\S+) is \d+\.\d{4}% right on [\d,]+ random questions, below "
        r"--min-pattern-accuracy 100\.0000%.*\.",
        sentence,
    )
    assert named and named[1] in rows and rows[named[1]][1] < 100, sentence
    assert pattern_rows(strict.stdout, "operator pattern") == rows  # the same report; only the verdict differs


@pytest.mark.slow  # trains two small models (weak_runs)
def test_evaluate_gates_a_bracket_task_on_its_bracket_patterns(weak_runs):
    args = [str(weak_runs["brackets"]), "--samples", "2000", "--no-exhaustive", "--min-pattern-accuracy", "1"]
    result = run_trainer(*args, module="trainer.evaluate", timeout=180)
    assert result.returncode == 1
    assert list(pattern_rows(result.stdout, "operator pattern")) == ["a+b+c", "a+b-c", "a-b+c", "a-b-c"]
    assert list(pattern_rows(result.stdout, "bracket pattern")) == ["a·b·c", "(a·b)·c", "a·(b·c)"]
    assert re.fullmatch(r"error: pattern (a·b·c|\(a·b\)·c|a·\(b·c\)) is .*\.", stderr_sentence(result))


@pytest.mark.slow  # trains two small models (weak_runs)
def test_evaluate_refuses_a_pattern_floor_outside_0_to_1(weak_runs):
    bad = run_trainer(str(weak_runs["plain"]), "--min-pattern-accuracy", "1.5", module="trainer.evaluate")
    assert bad.returncode == 2 and "--min-pattern-accuracy must be from 0 to 1, got 1.5" in bad.stderr


@pytest.mark.slow  # trains two small models (weak_runs)
def test_zoo_evaluate_passes_the_entrys_pattern_target(weak_runs, tmp_path, monkeypatch):
    monkeypatch.setattr(zoo, "RUNS", tmp_path)  # where the zoo looks for its runs; the evaluation is real
    shutil.copytree(weak_runs["plain"], tmp_path / "weak")
    gated = zoo.Entry(
        "weak", "1 digit, 3 terms, + -", "each operator pattern all right", 500, 0.0, pattern_accuracy=1.0
    )
    status, report = zoo.evaluate(gated)
    assert status == 1 and "below --min-pattern-accuracy 100.0000%" in report
    assert zoo.summary_line(report).endswith("right)")  # still the every-question headline
    ungated = zoo.Entry("weak", "1 digit, 3 terms, + -", "(none)", 500, 0.0)
    status, report = zoo.evaluate(ungated)
    assert status == 0 and "--min-pattern-accuracy" not in report
