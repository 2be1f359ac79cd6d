"""The step tree's kinds: a group is told from a chain by when its steps were scheduled, not when they ran."""

from __future__ import annotations

from pipeflow.ui._steps import Attempt, step_tree


def attempt(step: str, scheduled: float, started: float, closed: float) -> Attempt:
    return Attempt(step=step, task="t", attempt=1, status="COMPLETED", scheduled=scheduled, started=started,
                   closed=closed, worker=None, error=None, kind="task", child_workflow_id=None, child_run_id=None)


def test_a_group_whose_steps_ran_one_after_the_other_is_still_a_group() -> None:
    """The only free worker ran `1.0`, then `1.1`: both were scheduled by one decision, before either closed."""
    root = step_tree([attempt("0", 0.0, 0.1, 1.0),
                      attempt("1.0", 1.1, 1.2, 2.0), attempt("1.1", 1.1, 2.1, 3.0),
                      attempt("2", 3.1, 3.2, 4.0)])
    assert root.kind == "chain"
    assert [(n.path, n.kind) for n in root.children] == [("0", "task"), ("1", "group"), ("2", "task")]


def test_a_chain_is_a_chain_even_when_its_steps_were_quick() -> None:
    root = step_tree([attempt("0", 0.0, 0.1, 0.2), attempt("1", 0.3, 0.3, 0.4), attempt("2", 0.5, 0.5, 0.6)])
    assert root.kind == "chain" and [n.kind for n in root.children] == ["task"] * 3


def test_a_nested_chain_inside_a_group_keeps_both_kinds() -> None:
    root = step_tree([attempt("0.0.0", 0.0, 0.0, 1.0), attempt("0.1.0", 0.0, 2.0, 3.0),  # the group's two chains
                      attempt("0.0.1", 1.1, 1.1, 2.0), attempt("0.1.1", 3.1, 3.1, 4.0)])
    (group,) = root.children
    assert group.kind == "group" and [c.kind for c in group.children] == ["chain", "chain"]
