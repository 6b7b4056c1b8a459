"""A phoenix campaign killed (``kill -9``) at random moments, right after chosen DFO_STATUS flags, and at exact
points inside move and ingest, then started again until it finishes, ends as an unkilled run of the same night
(issue 18: "a campaign killed at random points resumes without re-running finished ABs").

The reference is one unkilled ``dfos phoenix -d`` of the small synthetic NACO night, run as a user runs it (the
CLI, a process of its own); each killed campaign is compared with it (:func:`campaign_state.assert_same`: the
same flags once each in the same order, products, masters, IDP keywords, archive catalog, JOBS_INGEST and
JOBS_CLEANUP lines; each AB run successfully once; no half-written file; every product with its verified copy
in the archive).  A failing random case names its seed: ``DFOS_KILL_SEED=<seed>`` repeats its kills.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from campaign_state import (
    NIGHT,
    NOW,
    CampaignState,
    assert_nothing_lost,
    assert_same,
    campaign_state,
    flags,
    kill_group,
    phoenix_argv,
    run_to_end,
    start,
)
from dfos.keys import Mode
from dfos.workspace import Workspace
from killpoint import AFTER_FLAG, run_killed
from naco_night import phoenix_workspace
from waiting import wait_until

pytestmark = pytest.mark.esorex


@dataclass(frozen=True)
class Reference:
    state: CampaignState
    seconds: float
    steps: tuple[tuple[str, float], ...]
    """(``start`` or a flag, seconds from the start of the run to its first sight), in order; not ``finished``."""

    def gap(self, index: int) -> float:
        """How long the step after ``steps[index]`` took (to the next flag, or to the end of the run)."""
        following = self.steps[index + 1][1] if index + 1 < len(self.steps) else self.seconds
        return following - self.steps[index][1]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """One unkilled campaign of the night, how long it took, and when each flag appeared."""
    ws = phoenix_workspace(tmp_path_factory.mktemp("reference") / "ws", NIGHT, env=NOW)
    began = time.monotonic()
    seen: dict[str, float] = {"start": 0.0}
    child = start(ws)

    def ended() -> bool:
        for flag in flags(ws):
            seen.setdefault(flag, time.monotonic() - began)
        return child.poll() is not None

    wait_until(ended, timeout=600, interval=0.01, what="the reference run to end")
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0, out.decode(errors="replace")
    seconds = time.monotonic() - began
    assert_nothing_lost(ws, "the reference run")
    state = campaign_state(ws)
    assert state.flags[-1] == "finished" and len(state.science) == 3 and len(state.masters) == 8
    return Reference(state, seconds, tuple((flag, at) for flag, at in seen.items() if flag != "finished"))


def _reached(ws: Workspace, child: subprocess.Popen[bytes], step: str) -> bool:
    return step == "start" or step in flags(ws) or child.poll() is not None


def test_a_campaign_killed_at_random_moments_ends_as_an_unkilled_one(tmp_path: Path, reference: Reference) -> None:
    """Four kills, each at a random moment of a random step (steps drawn in the run's order, so the kills spread
    over the whole campaign, the short steps as likely as the cascades): once the step's flag is there, after a
    random part of the time the step took in the reference run."""
    seed = int(os.environ.get("DFOS_KILL_SEED", random.SystemRandom().randrange(1 << 32)))
    rng = random.Random(seed)
    ws = phoenix_workspace(tmp_path / "ws", NIGHT, env=NOW)
    story = [f"seed {seed} (DFOS_KILL_SEED={seed} repeats these kills); reference run {reference.seconds:.1f} s: "
             + ", ".join(f"{flag} {at:.2f}" for flag, at in reference.steps)]
    for number, index in enumerate(sorted(rng.sample(range(len(reference.steps)), 4)), start=1):
        step = reference.steps[index][0]
        delay = rng.uniform(0.0, reference.gap(index))
        child = start(ws)
        wait_until(partial(_reached, ws, child, step), timeout=600, interval=0.002, what=step)
        with contextlib.suppress(subprocess.TimeoutExpired):  # the delay ran out: the moment to kill it
            child.wait(timeout=delay)  # (it may finish first: the next start then finds the date finished)
        kill_group(child)
        story.append(f"kill {number} {delay:.2f} s after {step} (exit {child.returncode}): flags {flags(ws)}")
    run_to_end(ws, story)
    print("\n".join(story[:5]))  # (shown with -s: where the kills fell)
    assert_same(ws, reference.state, "\n".join(story))


#: Kill right after this appears (polled every 2 ms); the kill falls into the step that follows: certification,
#: move, ingest, the next mode's association and cascade, finish.
KILL_AFTER: dict[str, Callable[[Workspace], bool]] = {
    "cal_QC": lambda ws: "cal_QC" in flags(ws),
    "cal_Certif": lambda ws: "cal_Certif" in flags(ws),
    "cal_Updated": lambda ws: "cal_Updated" in flags(ws),
    "sci_Queued": lambda ws: "sci_Queued" in flags(ws),
    "sci_QC": lambda ws: "sci_QC" in flags(ws),
    "sci_Certif": lambda ws: "sci_Certif" in flags(ws),
    "sci_Updated": lambda ws: "sci_Updated" in flags(ws),
    "SCIENCE ingested": lambda ws: (ws.lst_dir / f"list_ingest_{Mode.SCIENCE.value}_{NIGHT}.txt").is_file(),
}


@pytest.mark.parametrize("after", list(KILL_AFTER))
def test_a_campaign_killed_right_after_a_step_ends_as_an_unkilled_one(tmp_path: Path, reference: Reference,
                                                                     after: str) -> None:
    ws = phoenix_workspace(tmp_path / "ws", NIGHT, env=NOW)
    child = start(ws)
    try:
        wait_until(lambda: KILL_AFTER[after](ws) or child.poll() is not None, timeout=600, interval=0.002,
                   what=after)
    finally:
        kill_group(child)
    story = [f"killed after {after} (exit {child.returncode}): flags {flags(ws)}"]
    run_to_end(ws, story)
    assert_same(ws, reference.state, "\n".join(story))


#: Exact kill points (tests/killpoint.py): (function, before or after the call, which call, only the one writing
#: this flag).
EXACT = {
    # createAB done, createJob not yet: started again, createAB repeats, and appends no second sci_AB
    "after sci_AB": (AFTER_FLAG, "after", 1, "sci_AB"),
    # the cascade queued, not started: it is resumed (no second sci_AB, no second sci_Queued)
    "after sci_Queued": (AFTER_FLAG, "after", 1, "sci_Queued"),
    # a science AB's recipe done and recorded, its QC (IMPLICIT: in the same task) not: its QC runs when resumed
    "before a SCIENCE AB's QC": ("dfos.steps.cascade:implicit_qc", "before", 6, ""),
    # half of the masters moved: the plan carries the move on
    "in the CALIB move": ("dfos.steps.safe_move:_move_one", "after", 4, ""),
    # the ABs half updated into $DFO_LOG_DIR: updateAB again, of ABs updated already
    "in CALIB's updateAB": ("dfos.steps.move:_problems", "after", 2, ""),
    # cal_Updated written, the plan not yet removed, nothing ingested: the move ends, the masters are ingested
    "after cal_Updated": (AFTER_FLAG, "after", 1, "cal_Updated"),
    # the CALIB ingest list written, the last thing of an ingest (JOBS_CLEANUP's line is there before it)
    "after the CALIB ingest list": ("dfos.steps.ingest:write_text_atomic", "after", 1, ""),
    # one science product archived of three: the ingest goes on (the same bytes count as done)
    "in the SCIENCE ingest": ("dfos.steps.ingest:WorkspaceArchive.ingest", "after", 1, ""),
    # the date's raw frames being deleted: finish again
    "in finish": ("dfos.steps.finish:_clear_products", "before", 1, ""),
}


@pytest.mark.parametrize("point", list(EXACT))
def test_a_campaign_killed_at_an_exact_point_ends_as_an_unkilled_one(tmp_path: Path, reference: Reference,
                                                                    point: str) -> None:
    function, when, nth, flag = EXACT[point]
    ws = phoenix_workspace(tmp_path / "ws", NIGHT, env=NOW)
    if point == "in the SCIENCE ingest":
        nth = len(reference.state.masters) + 1  # CALIB's masters are ingested first
    killed = run_killed(phoenix_argv(ws), function, when=when, nth=nth, text=f"{flag} {NIGHT}" if flag else "",
                        env=NOW)
    assert killed.returncode == -9, f"{point}: never got there (exit {killed.returncode}): {killed.stdout[-2000:]}" \
                                    f"{killed.stderr[-2000:]}"
    story = [f"killed {point}: flags {flags(ws)}"]
    run_to_end(ws, story)
    assert_same(ws, reference.state, "\n".join(story))
