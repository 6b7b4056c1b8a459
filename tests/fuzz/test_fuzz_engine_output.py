"""Fuzzing what dfos reads from batch engines (squeue, sacct, DAGMan's node status file): any output
parses (these readers skip what they do not understand) or raises FormatError; nothing else escapes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dfos.errors import FormatError
from dfos.executors.condor import parse_node_status
from dfos.executors.slurm import parse_sacct, parse_squeue
from fuzzing import fuzz

SQUEUE = "2|CANCELLED|DependencyNeverSatisfied|0:00\n3|COMPLETED|None|0:02\n1|FAILED|NonZeroExitCode|0:00\n"
SACCT = "7|CANCELLED by 0|0:0|00:00:00\n7.batch|CANCELLED|0:15|00:00:00\n8|COMPLETED|0:0|00:00:02\n"
STATUS = """[
  Type = "DagStatus";
  DagFiles = {
    "/w/jobs/batch/CALIB_2013-02-12.r1.dag"
  };
  DagStatus = 3; /* "STATUS_SUBMITTED ()" */
]
[
  Type = "NodeStatus";
  Node = "C0.ab";
  NodeStatus = 6; /* "STATUS_ERROR" */
  StatusDetails = "Job proc (12.0.0) failed with status 10";
]
"""
ODD = ["|", "||", "\n", ";", "[", "]", "{", "}", '"', "\\", "/*", "*/", "=", ".", " ", "\x00", "\ufeff", "\u2028",
       "9" * 5000, "x" * 50_000]


@st.composite
def mutated(draw: st.DrawFn, real: str) -> str:
    text = real
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "cut", "dup"]))
        if op == "insert":
            text = text[:at] + draw(st.sampled_from(ODD)) + text[at:]
        elif op == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 20)):]
        else:
            text = text[:at] + text[at:at + draw(st.integers(1, 80))] + text[at:]
    return text


def _contract(parse: object, text: str) -> None:
    try:
        result = parse(text)  # type: ignore[operator]
    except FormatError:
        return
    assert isinstance(result, dict)


@given(st.one_of(mutated(SQUEUE), st.text()))
@fuzz
def test_squeue_output_parses_or_is_a_format_error(text: str) -> None:
    _contract(parse_squeue, text)


@given(st.one_of(mutated(SACCT), st.text()))
@fuzz
def test_sacct_output_parses_or_is_a_format_error(text: str) -> None:
    _contract(parse_sacct, text)


@given(st.one_of(mutated(STATUS), st.text(), st.text(alphabet='[]{};="/*\\ab \n', max_size=300)))
@fuzz
def test_a_node_status_file_parses_or_is_a_format_error(text: str) -> None:
    _contract(parse_node_status, text)
