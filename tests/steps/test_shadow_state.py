"""Shadow mode's files read back (SHADOW_LOG, SHADOW.conf), when it is ready, the phases of the migration plan,
and the crontab lines that move autoDaily (pure parts of :mod:`dfos.steps.shadow`)."""

from __future__ import annotations

from dfos.cli.commands.auto import without_auto_daily
from dfos.steps.shadow import ShadowState, parse_conf, parse_log, phases

LOG = """\
2013-02-13T14:00:00 2013-02-10 differ 3
2013-02-13T14:05:00 2013-02-11 agree 0
garbage line
2013-02-13T14:06:00 2013-02-12 agree 0
2013-02-13T14:07:00 2013-02-13 maybe 0
2013-02-14T09:00:00 2013-02-10 agree 0
"""


def _state(log: str, ready_after: int = 3, took_over: str | None = None) -> ShadowState:
    return ShadowState("/data/old", "2013-02-10", parse_log(log), ready_after, took_over)


def test_the_newest_line_of_a_date_counts_and_bad_lines_are_skipped() -> None:
    entries = parse_log(LOG)
    assert [(e.key, e.agree, e.differences) for e in entries] == [
        ("2013-02-10", True, 0), ("2013-02-11", True, 0), ("2013-02-12", True, 0)]


def test_ready_after_n_consecutive_agreeing_dates_counted_from_the_newest() -> None:
    assert _state(LOG).ready
    assert not _state(LOG, ready_after=4).ready
    differs_last = LOG + "2013-02-14T10:00:00 2013-02-12 differ 1\n"
    assert _state(differs_last).streak == 0 and not _state(differs_last).ready


def test_the_phases_follow_the_plan() -> None:
    nothing = ShadowState(None, None, (), 3, None)
    assert [(p.name, p.state) for p in phases(nothing, baseline=False)] == [
        ("baseline", "current"), ("verification", "todo"), ("commissioning", "todo"), ("operations", "todo")]
    one = _state("2013-02-13T14:05:00 2013-02-11 agree 0\n")
    assert [p.state for p in phases(one, baseline=True)] == ["done", "done", "current", "todo"]
    assert "1 of 3 consecutive dates agree" in phases(one, baseline=True)[2].detail
    ready = phases(_state(LOG), baseline=True)
    assert [p.state for p in ready] == ["done", "done", "done", "current"]
    assert ready[3].command == "dfos cron install --apply"
    over = phases(_state(LOG, took_over="2013-02-20T10:00:00 /data/old"), baseline=True)
    assert [p.state for p in over] == ["done"] * 4 and "since 2013-02-20T10:00:00" in over[3].detail


def test_the_conf_file() -> None:
    assert parse_conf("# c\nreference = /data/old\ntransition = 2013-02-10\nnonsense\n") == {
        "reference": "/data/old", "transition": "2013-02-10"}


def test_moving_autodaily_comments_out_only_the_references_autodaily_lines() -> None:
    crontab = ("MAILTO=qc\n"
               "17 * * * * /bin/dfos --root /data/old cron run -t autoDaily\n"
               "* * * * * /bin/dfos --root /data/old cron run -t autoDaily --if-requested\n"
               "43 6 * * * /bin/dfos --root /data/old cron run -t health\n"
               "17 * * * * /bin/dfos --root /data/older cron run -t autoDaily\n"
               "# 17 * * * * /bin/dfos --root /data/old cron run -t autoDaily\n")
    moved, count = without_auto_daily(crontab, "/data/old", "/data/new")
    assert count == 2
    lines = moved.splitlines()
    assert lines[0] == "MAILTO=qc"
    assert lines[1] == ("# autoDaily moved to /data/new (dfos shadow): "
                        "17 * * * * /bin/dfos --root /data/old cron run -t autoDaily")
    assert lines[3:] == crontab.splitlines()[3:]
