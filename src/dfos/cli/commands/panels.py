"""``dfos cal-checker``, ``dfos refresh-vcal`` and ``dfos transfer``: what the dfoMonitor's CAL row,
calChecker and transfer panels run (DFOS calChecker, refreshVCAL, the transfer queries)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date

import click

from dfos.cli.context import Cli, pass_cli
from dfos.cli.options import date_option

__all__ = ["cal_checker_cmd", "refresh_vcal_cmd", "transfer_cmd"]


@click.command("cal-checker")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def cal_checker_cmd(cli: Cli, as_json: bool) -> None:
    """Which calibrations are due or missing, per calibration type and setup (DFOS calChecker).

    The rules' validity windows (select ... within A, ..., C days) against the newest date in the
    calibration memory (MCAL, VCAL): ok within A days, due within C days, missing beyond. Writes
    $DFO_MON_DIR/CAL_CHECKER (cron: every half hour; docs/monitor.md).
    """
    from dfos.steps.cal_checker import run_cal_checker

    report, path = run_cal_checker(cli.workspace())
    if as_json:
        click.echo(json.dumps({"when": report.when, "today": report.today, "instrument": report.instrument,
                               "counts": report.counts(), "checks": [asdict(c) for c in report.checks]}, indent=2))
        return
    for c in report.checks:
        age = "never" if c.age_days is None else f"{c.age_days} d ago ({c.last}, {c.memory})"
        click.echo(f"{c.status:<8} {c.catg} [{c.setup}]: {age}; due after {c.due_days:g} d, valid {c.valid_days:g} d")
    counts = report.counts()
    click.echo(f"{len(report.checks)} calibration(s): {counts['ok']} ok, {counts['due']} due, "
               f"{counts['missing']} missing; written to {path}")


@click.command("refresh-vcal")
@pass_cli
def refresh_vcal_cmd(cli: Cli) -> None:
    """Check the VCAL memory against the ABs that make it (DFOS refreshVCAL).

    A virtual product whose AB is gone or rejected, or whose header is unreadable, is taken out of the
    memory ('dfos create-ab -d DATE' writes it again); dates with CALIB ABs but no VCAL are named.
    """
    from dfos.steps.memory_depth import refresh_vcal

    result = refresh_vcal(cli.workspace())
    for name, why in result.removed:
        click.echo(f"removed VCAL/{name}: {why}")
    for day in result.missing_dates:
        click.echo(f"{day}: CALIB ABs but no VCAL; 'dfos create-ab -m CALIB -d {day}' writes them")
    click.echo(f"VCAL memory: {result.kept} kept, {len(result.removed)} removed")


@click.command("transfer")
@date_option()
@click.option("--query", "which", type=click.Choice(["pending", "arrived", "all"]), default="pending",
              show_default=True, help="Frames not yet here, frames here, or both.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def transfer_cmd(cli: Cli, day: date, which: str, as_json: bool) -> None:
    """Query the archive for the frames of DATE (any DPR.CATG) and whether each arrived here.

    A frame has arrived when its header is in $DFO_HDR_DIR/DATE; the delay is the time since its
    exposure started (the dfoMonitor's transfer panel buttons run this).
    """
    from dfos.steps.transfer import query_date

    rows = query_date(cli.workspace(), day, which)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    for r in rows:
        state = "arrived" if r.arrived else f"pending {r.delay_h:.1f} h"
        click.echo(f"{r.name}  {r.catg:<12} {r.taken}  {state}")
    click.echo(f"{day}: {len(rows)} frame(s) {which}")
