"""Organisation: frames grouped per statement (per frame, per template, by keywords, all), groups of an
action merged across statements, orphans, and the order of groups and frames."""

from __future__ import annotations

from typing import Any

from dfos.association.frames import Frame
from dfos.association.organise import organise
from dfos.oca.parser import parse_rules


def frame(name: str, mjd: float, kind: str, **header: Any) -> Frame:
    """A classified frame: ``DO.CLASS`` is what the statements select on."""
    return Frame(name, {"MJD-OBS": mjd, **header}, {"DO.CLASS": kind})


def statements(text: str) -> Any:
    return parse_rules(text, "org.oca").organise


def test_one_group_per_frame_per_template_per_keywords_or_of_all() -> None:
    rules = statements("""
        select execute(ARC) from inputFiles where DO.CLASS == "ARC" and SIG.FRAME == 1;
        select execute(FLAT) from inputFiles where DO.CLASS == "FLAT" and SIG.TEMPLATE == 1 group by INS.MODE;
        select execute(DARK) from inputFiles where DO.CLASS == "DARK" group by DET.WIN;
        select execute(ALL) from inputFiles where DO.CLASS == "BIAS";
    """)
    frames = [
        frame("arc1", 1.0, "ARC"), frame("arc2", 1.1, "ARC"),
        frame("f1", 2.0, "FLAT", **{"TPL.START": "T1", "INS.MODE": "RED"}),
        frame("f2", 2.1, "FLAT", **{"TPL.START": "T1", "INS.MODE": "BLUE"}),
        frame("f3", 2.2, "FLAT", **{"TPL.START": "T1", "INS.MODE": "RED"}),
        frame("f4", 2.3, "FLAT", **{"TPL.START": "T2", "INS.MODE": "RED"}),
        frame("d1", 3.0, "DARK", **{"DET.WIN": 1}), frame("d2", 3.1, "DARK", **{"DET.WIN": 2}),
        frame("d3", 3.2, "DARK", **{"DET.WIN": 1}),
        frame("b1", 4.0, "BIAS"), frame("b2", 4.1, "BIAS"),
    ]
    result = organise(frames, rules)
    seen = [(g.action, g.tag, [f.name for f in g.frames]) for g in result.groups]
    assert seen == [
        ("ARC", "frm", ["arc1"]), ("ARC", "frm", ["arc2"]),
        ("FLAT", "tpl", ["f1", "f3"]), ("FLAT", "tpl", ["f2"]), ("FLAT", "tpl", ["f4"]),
        ("DARK", "frm", ["d1", "d3"]), ("DARK", "frm", ["d2"]),
        ("ALL", "frm", ["b1", "b2"]),
    ]
    flat = result.groups[2]
    assert flat.key == ("TPL", (("TPL.START", "T1"), ("INS.MODE", "RED")))
    assert flat.key_values == {"TPL.START": "T1", "INS.MODE": "RED"} and flat.first.name == "f1"
    assert result.groups[0].key_values == {"ARCFILE": "arc1"}
    assert result.groups[-1].key == ("ALL", ()) and result.groups[-1].key_values == {}
    assert result.orphans == ()


def test_groups_of_an_action_merge_across_statements() -> None:
    rules = statements("""
        select execute(DETMON) from inputFiles where DO.CLASS == "ON" and SIG.TEMPLATE == 1;
        select execute(DETMON) from inputFiles where DO.CLASS == "OFF" and SIG.TEMPLATE == 1;
    """)
    frames = [frame("on1", 1.0, "ON", **{"TPL.START": "T"}), frame("off1", 1.1, "OFF", **{"TPL.START": "T"}),
              frame("on2", 1.2, "ON", **{"TPL.START": "T"})]
    (group,) = organise(frames, rules).groups
    assert [f.name for f in group.frames] == ["on1", "off1", "on2"]
    assert group.rules == ("org.oca:2:9", "org.oca:3:9")  # both statements built it


def test_a_frame_two_statements_put_in_one_group_is_in_it_once() -> None:
    rules = statements("""
        select execute(BIAS) from inputFiles where DO.CLASS == "BIAS";
        select execute(BIAS) from inputFiles where "BIAS" == DO.CLASS;
    """)
    (group,) = organise([frame("b1", 1.0, "BIAS")], rules).groups
    assert [f.name for f in group.frames] == ["b1"] and len(group.rules) == 2


def test_orphans_and_the_actions_that_took_each_frame() -> None:
    rules = statements("""
        select execute(A) from inputFiles where DO.CLASS == "X";
        select execute(B) from inputFiles where DO.CLASS == "X" or DO.CLASS == "Y";
    """)
    result = organise([frame("x", 1.0, "X"), frame("y", 1.1, "Y"), frame("z", 1.2, "Z")], rules)
    assert [f.name for f in result.orphans] == ["z"]
    assert result.by_frame == {"x": ("A", "B"), "y": ("B",)}


def test_event_and_tag_come_from_as_else_from_the_action() -> None:
    rules = statements("""
        minRet = 2; maxRet = 4;
        select execute(FLAT) from inputFiles where DO.CLASS == "FLAT" group by INS.MODE as (FLAT_EVENT, fl);
        select execute(DARK) from inputFiles where DO.CLASS == "DARK" and SIG.TEMPLATE == 1;
    """)
    frames = [frame("f", 1.0, "FLAT", **{"INS.MODE": "RED"}), frame("d", 2.0, "DARK", **{"TPL.START": "T"})]
    flat, dark = organise(frames, rules).groups
    assert (flat.event, flat.tag, flat.min_frames, flat.max_frames) == ("FLAT_EVENT", "fl", 2, 4)
    assert (dark.event, dark.tag, dark.min_frames, dark.max_frames) == ("DARK", "tpl", 1, 0)


def test_frames_and_groups_are_in_time_order_whatever_the_input_order() -> None:
    rules = statements('select execute(B) from inputFiles where DO.CLASS == "B" group by X;')
    frames = [frame("late", 3.0, "B", X=1), frame("b-same", 1.0, "B", X=2), frame("a-same", 1.0, "B", X=2),
              frame("early", 0.5, "B", X=1), frame("no-time", "?", "B", X=3)]  # type: ignore[arg-type]
    result = organise(frames, rules)
    assert [[f.name for f in g.frames] for g in result.groups] == [["no-time"], ["early", "late"],
                                                                   ["a-same", "b-same"]]
    assert organise(list(reversed(frames)), rules) == result
