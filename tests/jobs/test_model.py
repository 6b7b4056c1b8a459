"""Execution files: render and parse are inverse; subcascades are exactly the descendants."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfos.cascade.scheduler import Node, descendants
from dfos.dates import FIRST_YEAR, LAST_YEAR
from dfos.errors import FormatError
from dfos.jobs.model import ExecFile, ExecLine, check_name, parse_exec, render_exec


@st.composite
def dags(draw: st.DrawFn) -> list[ExecLine]:
    n = draw(st.integers(1, 25))
    names = [f"UVES.2013-02-12T{i // 60:02d}:{i % 60:02d}:00.500_tpl.ab" for i in range(n)]
    lines = []
    for i, name in enumerate(names):
        parents = draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=3)) if i else []
        lines.append(ExecLine(name, tuple(parents)))
    return lines


@settings(max_examples=100, deadline=None)
@given(dags(), st.sampled_from(["CON", "CPL", "INT"]))
def test_render_parse_round_trip(lines: list[ExecLine], kind: str) -> None:
    if kind != "CON":
        lines = [ExecLine(line.ab, (), local_parallel=kind == "INT") for line in lines]
    exec_file = ExecFile(kind, tuple(lines))
    text = render_exec(exec_file, ["a comment"])
    assert parse_exec(text) == exec_file
    assert render_exec(parse_exec(text), ["a comment"]) == text


@settings(max_examples=100, deadline=None)
@given(dags(), st.data())
def test_descendants_are_exactly_the_nodes_that_depend_on_the_root(lines: list[ExecLine], data: st.DataObject) -> None:
    root = data.draw(st.sampled_from([line.ab for line in lines]))
    nodes = [Node(line.ab, line.parents) for line in lines]
    found = descendants(nodes, root)
    parents = {line.ab: set(line.parents) for line in lines}

    def depends(name: str) -> bool:  # brute force: is root an ancestor of name (or name itself)?
        return name == root or any(depends(p) for p in parents[name])

    assert found == {line.ab for line in lines if depends(line.ab)}


def test_the_documented_line_forms() -> None:
    text = "A.ab || processAB || -a A.ab || NONE\nB.ab || processAB || -a B.ab || A.ab\n"
    parsed = parse_exec(text)
    assert parsed.kind == "CON" and parsed.nodes() == [("A.ab", ()), ("B.ab", ("A.ab",))]
    serial = parse_exec("processAB -a A.ab\nprocessAB -a B.ab\n")
    assert serial.kind == "CPL" and serial.nodes() == [("A.ab", ()), ("B.ab", ("A.ab",))]
    assert parse_exec("processAB -a A.ab -l\n").kind == "INT"


@pytest.mark.parametrize("line", ["A.ab || processAB || -a B.ab || NONE", "A.ab || processAB || NONE",
                                  "processAB A.ab", "rm -rf / || x || -a / || NONE"])
def test_malformed_lines_are_refused(line: str) -> None:
    with pytest.raises(FormatError):
        parse_exec(line)


@pytest.mark.parametrize("name", ["a b.ab", "a;rm.ab", "a|b.ab", "$(x).ab", "a\nb.ab", "-a.ab", ""])
def test_names_that_could_break_a_line_are_refused(name: str) -> None:
    with pytest.raises(FormatError):
        check_name(name)


#: The DFO dates dfos handles (:data:`dfos.dates.FIRST_YEAR` to LAST_YEAR): a job block is for a processing key.
_dfo_dates = st.dates(date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["CALIB", "SCIENCE"]), _dfo_dates, st.booleans(), st.booleans()),
                max_size=5),
       st.sampled_from(["/ws/jobs", "/data with space/jobs", "/odd'quote/jobs", "/execQC_x/rawDown_y"]))
def test_job_blocks_round_trip(specs: list[tuple[str, object, bool, bool]], job_dir: str) -> None:
    from dfos.jobs.model import JobBlock, parse_blocks, render_block

    blocks = [
        JobBlock(mode, str(day), f"written by dfos create-job for {mode} {day} at 2013-02-13T14:00:00",
                 f"{job_dir}/execAB_{mode}_{day}", f"{job_dir}/execQC_{mode}_{day}",
                 f"{job_dir}/rawDown_{mode}_{day}" if raw else None,
                 f"{job_dir}/mcalDown_{mode}_{day}" if mcal else None)
        for mode, day, raw, mcal in specs
    ]
    text = "#!/usr/bin/env bash\nset -euo pipefail\n" + "".join("\n" + "\n".join(render_block(b)) + "\n"
                                                                 for b in blocks)
    assert parse_blocks(text) == blocks


@settings(max_examples=50, deadline=None)
@given(dags(), st.sampled_from(["SER", "PAR"]))
def test_exec_qc_round_trip(lines: list[ExecLine], kind: str) -> None:
    qc = ExecFile(kind, tuple(ExecLine(line.ab, (), "processQC") for line in lines))
    assert parse_exec(render_exec(qc), kind) == qc


def test_an_ab_listed_twice_names_both_lines() -> None:
    text = "# header\nA.ab || processAB || -a A.ab || NONE\nB.ab || processAB || -a B.ab || A.ab\n\n" \
           "A.ab || processAB || -a A.ab || NONE\n"
    with pytest.raises(FormatError, match=r"^execAB_X:5: A\.ab is listed again \(first at line 2\)"):
        parse_exec(text, source="execAB_X")
    with pytest.raises(FormatError, match=r"execAB_Y:3: A\.ab is listed again \(first at line 1\)"):
        parse_exec("processAB -a A.ab\nprocessAB -a B.ab\nprocessAB -a A.ab\n", source="execAB_Y")


@pytest.mark.parametrize(("edges", "cycle"), [
    ({"A": ["B"], "B": ["A"]}, ["A", "B", "A"]),
    ({"A": ["A"]}, ["A", "A"]),
    ({"A": [], "B": ["A", "D"], "C": ["B"], "D": ["C"]}, ["B", "D", "C", "B"]),
    ({"A": [], "B": ["A", "X"], "C": ["B", "A"]}, None),  # X is outside: ignored
])
def test_find_cycle(edges: dict[str, list[str]], cycle: list[str] | None) -> None:
    from dfos.jobs.model import find_cycle

    assert find_cycle(edges) == cycle


def test_a_dependency_cycle_is_refused_naming_its_abs() -> None:
    text = ("A.ab || processAB || -a A.ab || NONE\nB.ab || processAB || -a B.ab || A.ab,D.ab\n"
            "C.ab || processAB || -a C.ab || B.ab\nD.ab || processAB || -a D.ab || C.ab\n")
    with pytest.raises(FormatError, match=r"execAB_X: .*cycle \(B\.ab -> D\.ab -> C\.ab -> B\.ab\)"):
        parse_exec(text, source="execAB_X")


def test_a_long_chain_is_no_cycle() -> None:
    names = [f"A{i}.ab" for i in range(5000)]
    text = "".join(f"{n} || processAB || -a {n} || {names[i - 1] if i else 'NONE'}\n" for i, n in enumerate(names))
    assert len(parse_exec(text).lines) == 5000


def test_a_job_block_names_its_cascades_and_flag_through_the_key_codec() -> None:
    from dfos.jobs.model import JobBlock, parse_blocks, render_block

    block = JobBlock("SCIENCE", "2013-02-12", "written", "/j/execAB_SCIENCE_2013-02-12", "/j/execQC_SCIENCE_2013-02-12")
    assert (block.dag_id, block.qc_dag_id) == ("SCIENCE_2013-02-12", "QC_SCIENCE_2013-02-12")
    lines = render_block(block)
    assert lines[-1] == '"$DFOS" end-job -m SCIENCE -d 2013-02-12'
    assert any("--dag-id QC_SCIENCE_2013-02-12 " in line for line in lines)
    run = JobBlock("CALIB", "094.D-0192A", "written", "/j/execAB_CALIB_094.D-0192A", "/j/execQC_CALIB_094.D-0192A")
    assert parse_blocks("\n".join(render_block(run)) + "\n") == [run]  # a phoenix run is a key like a date


def test_a_block_for_what_is_no_processing_key_is_refused() -> None:
    from dfos.jobs.model import JobBlock, parse_blocks, render_block

    text = "\n".join(render_block(JobBlock("CALIB", "2013-02-12", "w", "/j/a", "/j/q"))) + "\n"
    with pytest.raises(FormatError, match=r"^JOBS:1: .*2013-02-30"):
        parse_blocks(text.replace("2013-02-12", "2013-02-30"), source="JOBS")
