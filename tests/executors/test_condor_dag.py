"""The DAGMan model: what HTCondor would accept only to fail at run time is refused before."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfos.errors import FormatError
from dfos.executors.condor_dag import Dag, DagNode, node_name, parse_dag, render_dag, rescued, validate


@st.composite
def dags(draw: st.DrawFn) -> Dag:
    count = draw(st.integers(1, 25))
    taken: set[str] = set()
    names = [node_name(f"UVES.2013-02-12T18:{i:02d}:00.500_tpl.ab", taken) for i in range(count)]
    nodes = []
    for i, name in enumerate(names):
        parents = tuple(draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=3))) if i else ()
        own = draw(st.sampled_from([(), (("attempt", "2"), ("dfos_args", "'process-ab' '-a' 'X Y.ab'"))]))
        nodes.append(DagNode(name, f"UVES.2013-02-12T18:{i:02d}:00.500_tpl.ab", parents, draw(st.integers(0, 2)),
                             draw(st.sampled_from([None, "uves_cal_mbias", "uves_cal_mflat"])), own))
    used = sorted({n.category for n in nodes if n.category})
    return Dag(tuple(nodes), "dfos_ab.sub", tuple((c, 2) for c in used), "cascade.status",
               (("dag", "CALIB_2013-02-12"),), draw(st.integers(1, 5)))


@settings(max_examples=60, deadline=None)
@given(dags())
def test_render_and_parse_are_inverse(dag: Dag) -> None:
    assert validate(dag) == []
    assert parse_dag(render_dag(dag)) == dag


def test_node_names_are_safe_and_unique() -> None:
    taken: set[str] = set()
    assert node_name("UVES.2013-02-12T18:05:00.500_tpl.ab", taken) == "UVES.2013-02-12T18_05_00.500_tpl.ab"
    assert node_name("UVES.2013-02-12T18+05:00.500_tpl.ab", taken) == "UVES.2013-02-12T18_05_00.500_tpl.ab_2"
    assert node_name("parent", taken) == "parent_2"


@pytest.mark.parametrize(("nodes", "message"), [
    ((DagNode("a", "a"), DagNode("a", "a")), "defined twice"),
    ((DagNode("a", "a", ("b",)),), "parent b is not a node"),
    ((DagNode("a", "a", ("b",)), DagNode("b", "b", ("a",))), "cycle"),
    ((DagNode("a b", "a"),), "not usable"),
    ((DagNode("a", "a", retry=-1),), "RETRY"),
    ((DagNode("a", 'a"b'),), "cannot be quoted"),
    ((DagNode("a", "a", vars=(("ab", "x"),)),), "not a usable VARS name"),
    ((DagNode("a", "a", vars=(("args", 'say "hi"'),)),), "cannot be quoted"),
])
def test_faults_htcondor_would_accept_are_refused(nodes: tuple[DagNode, ...], message: str) -> None:
    dag = Dag(nodes, "x.sub")
    assert any(message in p for p in validate(dag))
    with pytest.raises(FormatError, match="not a valid DAG"):
        render_dag(dag)


def test_rescue_dags_name_the_done_nodes() -> None:
    assert rescued("# Rescue DAG file\nDONE i\nDONE j:0\n# comment\n") == {"i", "j:0"}
