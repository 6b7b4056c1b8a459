"""``dfos oca``: check rule files, and try classification and organisation on headers."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dfos.oca.io import read_rule_text
from dfos.oca.parser import RuleSyntaxError
from dfos.steps.rules import check_rules, classify_files, load_frames, organise_files, rules_from

__all__ = ["oca_group"]

_FILES = click.Path(path_type=Path, dir_okay=False)
_RULES = click.option(
    "--rules", "rules", type=_FILES, multiple=True, required=True,
    help="OCA rule file (repeatable; read in order, actions of the same name merge).",
)


def _warn(problems: list[tuple[str, str]]) -> None:
    for path, reason in problems:
        click.echo(f"Warning: {path}: skipped: {reason}", err=True)


@click.group("oca")
def oca_group() -> None:
    """Inspect OCA rules (classification, organisation, association)."""


@oca_group.command("check")
@click.argument("files", type=_FILES, nargs=-1, required=True)
def check_cmd(files: tuple[Path, ...]) -> None:
    """Parse rule FILES and report what each holds (classification rules, organisation statements, action
    blocks, association selects, products); on any error, one file:line:col line per bad file and exit 2."""
    readable, unreadable = [], []
    for path in files:  # a file that is no UTF-8 text (or no file) is refused before it is parsed
        try:
            read_rule_text(path)
        except RuleSyntaxError as exc:
            unreadable.append(exc.message)
        else:
            readable.append(path)
    reports, errors = check_rules(readable)
    errors = unreadable + errors
    for r in reports:
        click.echo(f"{r.file}: ok: {r.classify} classification, {r.organise} organisation, "
                   f"{r.actions} actions with {r.selects} selects, {r.products} products")
    if errors:
        for line in errors[:-1]:
            click.echo(f"Error: {line}", err=True)
        raise _RuleFileError(errors[-1])


class _RuleFileError(RuleSyntaxError):
    """The last of a rule file's errors (the others are printed before it); exit 2."""


@oca_group.command("classify")
@_RULES
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.argument("headers", type=_FILES, nargs=-1, required=True)
def classify_cmd(rules: tuple[Path, ...], as_json: bool, headers: tuple[Path, ...]) -> None:
    """Show the keys (DO.CATG, RAW.TYPE, ...) the rules assign to each HEADER (.hdr or .fits)."""
    frames, problems = load_frames(headers)
    _warn(problems)
    results = classify_files(rules_from(rules), frames)
    if as_json:
        click.echo(json.dumps({f.path: assigned for f, assigned in results}, indent=1))
        return
    for frame, assigned in results:
        shown = " ".join(f"{k}={v}" for k, v in assigned.items()) or "(unclassified)"
        click.echo(f"{frame.path}  {shown}")


@oca_group.command("organise")
@_RULES
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.argument("headers", type=_FILES, nargs=-1, required=True)
def organise_cmd(rules: tuple[Path, ...], as_json: bool, headers: tuple[Path, ...]) -> None:
    """Show the groups (candidate ABs) the rules make of HEADERs: action, members, grouping values."""
    frames, problems = load_frames(headers)
    _warn(problems)
    result = organise_files(rules_from(rules), frames)
    if as_json:
        doc = {
            "groups": [
                {"action": g.action, "event": g.event, "tag": g.tag, "keys": g.key_values,
                 "files": [f.name for f in g.frames]}
                for g in result.groups
            ],
            "orphans": [f.name for f in result.orphans],
        }
        click.echo(json.dumps(doc, indent=1))
        return
    for group in result.groups:
        keys = " ".join(f"{k}={v}" for k, v in group.key_values.items())
        click.echo(f"{group.action} [{group.tag}] {keys}")
        for frame in group.frames:
            click.echo(f"    {frame.name}")
    for frame in result.orphans:
        click.echo(f"orphan: {frame.name} (no organisation rule selects it)")
