"""Fuzzing the DAG parser (dfos.executors.condor_dag.parse_dag): any text and mutations of a DAG dfos
writes parse or raise FormatError; a DAG dfos writes parses back to itself."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dfos.errors import FormatError
from dfos.executors.condor_dag import Dag, DagNode, parse_dag, render_dag
from fuzzing import fuzz

DAG = Dag((DagNode("A", "UVES.2013-02-12T18:00:00.500_tpl.ab", (), 2, "uves_cal_mbias"),
           DagNode("B", "UVES.2013-02-12T18:01:00.500_tpl.ab", ("A",), 0, "uves_cal_mdark", (("attempt", "1"),)),
           DagNode("C", "C.ab", ("A", "B"))),
          "dfos_ab.sub", (("uves_cal_mbias", 2),), "x.dag.status", (("dag", "CALIB_2013-02-12"),))
REAL = render_dag(DAG)
ODD = ['"', "'", "\\", "=", " ", "\t", "\x00", "\ufeff", "\u2028", "CHILD", "PARENT", "JOB", "VARS", "#", "9" * 5000,
       "-1", "x" * 50_000]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = REAL.splitlines()
    for _ in range(draw(st.integers(0, 5))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["cut", "dup", "drop", "swap", "odd"]))
        words = lines[i].split(" ")
        if op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "drop" and len(lines) > 1:
            del lines[i]
        elif op == "swap":
            j, k = draw(st.integers(0, len(words) - 1)), draw(st.integers(0, len(words) - 1))
            words[j], words[k] = words[k], words[j]
            lines[i] = " ".join(words)
        else:
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(ODD)) + lines[i][at:]
    return "\n".join(lines) + "\n"


def test_a_dag_dfos_writes_parses_back() -> None:
    assert parse_dag(REAL) == DAG


@given(st.one_of(mutated(), st.text(), st.text(alphabet='JOB PARENT CHILD VARS RETRY"=ab\n', max_size=200)))
@fuzz
def test_a_dag_parses_or_is_a_format_error(text: str) -> None:
    try:
        dag = parse_dag(text, "fuzz.dag")
    except FormatError:
        return
    assert isinstance(dag, Dag)
