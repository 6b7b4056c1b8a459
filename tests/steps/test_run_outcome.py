"""processAB's failure classification (dfos.steps.run_outcome), a pure function of how esorex ended."""

from __future__ import annotations

import pytest

from dfos.ab.model import ProcessStatus
from dfos.steps.esorex import RecipeExit
from dfos.steps.run_outcome import Failure, Outcome, classify_exit, last_error_line


def classify(end: RecipeExit, log_kept: bool = True, last_error: str = "", said: str = "") -> Outcome:
    return classify_exit(end, recipe="uves_cal_mbias", esorex="/usr/bin/esorex", timeout=30.0, log_kept=log_kept,
                         last_error=last_error, said=said)


def test_exit_zero_is_successful() -> None:
    assert classify(RecipeExit(0, 1234)) == Outcome(ProcessStatus.SUCCESSFUL, exit_code=0, max_rss_kb=1234)
    assert classify(RecipeExit(0, 1234)).ok


def test_a_non_zero_exit_is_a_recipe_error_with_the_last_error_line() -> None:
    assert classify(RecipeExit(1, 99), last_error="no BIAS frames") == Outcome(
        ProcessStatus.FAILED, Failure.RECIPE_ERROR, "exit code 1: no BIAS frames", exit_code=1, max_rss_kb=99)
    assert classify(RecipeExit(2, 99)).message == "exit code 2: no ERROR line in the log"


def test_a_signal_is_a_crash_and_the_deadline_a_timeout() -> None:
    assert classify(RecipeExit(-11, 5)) == Outcome(ProcessStatus.FAILED, Failure.CRASH,
                                                   "uves_cal_mbias died of signal 11", signal=11, max_rss_kb=5)
    assert classify(RecipeExit(-9, 5, timed_out=True)) == Outcome(ProcessStatus.FAILED, Failure.TIMEOUT,
                                                                  "killed after 30 s", max_rss_kb=5)


@pytest.mark.parametrize("code", [125, 126, 127])
def test_a_wrapper_that_could_not_start_the_recipe_is_the_infrastructures_fault(code: int) -> None:
    outcome = classify(RecipeExit(code, 5), log_kept=False, said="  env: 'esorex': No such file or directory\n")
    assert outcome == Outcome(ProcessStatus.FAILED, Failure.INFRASTRUCTURE,
                              "/usr/bin/esorex did not start: env: 'esorex': No such file or directory",
                              exit_code=code)
    assert classify(RecipeExit(code, 5), log_kept=True).failure is Failure.RECIPE_ERROR  # the recipe ran


def test_failure_classes_are_written_as_they_always_were() -> None:
    assert [f"{f}" for f in Failure] == ["missing_input", "recipe_error", "crash", "timeout", "infrastructure"]
    assert str(Failure.INFRASTRUCTURE) == "infrastructure"


def test_the_last_error_line_is_the_recipes_not_esorexs_summary() -> None:
    log = ("14:03:21 [ INFO  ] esorex: starting\n14:03:22 [ ERROR ] uves_cal_mbias: first problem\n"
           "14:03:22 [ ERROR ] uves_cal_mbias: no BIAS frames\n"
           "14:03:22 [ ERROR ] Execution of recipe 'uves_cal_mbias' failed, status = 1\n")
    assert last_error_line(log) == "uves_cal_mbias: no BIAS frames"
    assert last_error_line("[ ERROR ] Execution of recipe 'x' failed\n") == "Execution of recipe 'x' failed"
    assert last_error_line("[ INFO ] fine\n") == ""
