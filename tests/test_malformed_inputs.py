"""The malformed-input corpus: every dfos command against damaged files and bad arguments.

A small UVES night is processed once per session (real esorex); each case runs on its own copy. A
case damages one file (non-UTF-8, truncated, a huge line, a directory in its place, missing, or a
hostile value such as a path escape) or passes a bad argument, runs one command in-process through
``dfos.cli.main.main`` and asserts the error contract:

* no traceback: no exception leaves ``main`` and no ``Traceback`` is printed;
* the exit code is one the case documents (0 when the command may go on, 2-6 for errors, 10-14
  for outcomes); on an error, stderr is ``Warning:`` lines then exactly one ``Error:`` line, and no
  line is longer than an error message may be (a 5 MB argument is never echoed);
* nothing is written outside the workspace (a sibling directory, the current directory, /tmp, and
  the session's processed workspace are compared before and after);
* the rest of the date is untouched when the command failed or only reads: products, calibrations,
  headers, raw frames, the AB files, AB list and execAB file other than the damaged file keep
  their bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from dfos.cli.main import cli, main
from dfos.errors import MAX_MESSAGE
from dfos.workspace import init_workspace
from nights import BIAS, DAG, FLAT, NIGHT, ORDERPOS, process_night

D = NIGHT.isoformat()
HDR = f"headers/{D}/UVES.{D}T18:05:00.500.hdr"
AB_LIST = f"monitor/AB_list_CALIB_{D}"
EXEC_AB = f"jobs/execAB_{DAG}"
DECISIONS = "decisions.txt"
BIG = "x" * 5_000_000
#: In a case's arguments, {ws} is the workspace copy.
W = "{ws}/"
#: A /tmp directory no case may create (an escape through '../../..' from the workspace would).
ESCAPE = Path("/tmp") / f"dfos-corpus-escape-{os.getuid()}"


class Hung(BaseException):
    """A command ran longer than the hang guard allows (not an OSError: main() must not catch it)."""


# -- damages: each changes the workspace copy at ``ws`` -------------------------------------------------

Damage = Callable[[Path], None]


def non_utf8(rel: str) -> Damage:
    def damage(ws: Path) -> None:
        data = (ws / rel).read_bytes()
        middle = data.find(b"\n", len(data) // 2) + 1
        (ws / rel).write_bytes(data[:middle] + b"caf\xe9 \xff\xfe\x80\n" + data[middle:])
    return damage


def truncated(rel: str) -> Damage:
    def damage(ws: Path) -> None:
        data = (ws / rel).read_bytes()
        (ws / rel).write_bytes(data[: len(data) // 2 + 7])  # mid-line
    return damage


def huge_line(rel: str) -> Damage:
    def damage(ws: Path) -> None:
        with open(ws / rel, "ab") as handle:
            handle.write(b"Z" * 5_000_000 + b"\n")
    return damage


def directory(rel: str) -> Damage:
    def damage(ws: Path) -> None:
        (ws / rel).unlink()
        (ws / rel).mkdir()
        (ws / rel / "inside").write_text("a directory where a file belongs\n")
    return damage


def missing(rel: str) -> Damage:
    def damage(ws: Path) -> None:
        (ws / rel).unlink()
    return damage


def replaced(rel: str, old: str, new: str) -> Damage:
    def damage(ws: Path) -> None:
        text = (ws / rel).read_text(encoding="utf-8")
        assert old in text, f"{rel} holds no {old!r}"
        (ws / rel).write_text(text.replace(old, new, 1), encoding="utf-8")
    return damage


def appended(rel: str, text: str) -> Damage:
    def damage(ws: Path) -> None:
        with open(ws / rel, "a", encoding="utf-8") as handle:
            handle.write(text)
    return damage


def written(rel: str, data: bytes) -> Damage:
    def damage(ws: Path) -> None:
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_bytes(data)
    return damage


def both(*damages: Damage) -> Damage:
    def damage(ws: Path) -> None:
        for one in damages:
            one(ws)
    return damage


def garbage_database(ws: Path) -> None:
    for extra in ("dfos.sqlite-wal", "dfos.sqlite-shm"):
        (ws / extra).unlink(missing_ok=True)
    (ws / "dfos.sqlite").write_bytes(b"this is not a database\x00\xff" * 100)


def database_directory(ws: Path) -> None:
    garbage_database(ws)
    directory("dfos.sqlite")(ws)


def truncated_database(ws: Path) -> None:
    for extra in ("dfos.sqlite-wal", "dfos.sqlite-shm"):
        (ws / extra).unlink(missing_ok=True)
    data = (ws / "dfos.sqlite").read_bytes()
    (ws / "dfos.sqlite").write_bytes(data[:1000])


def rules(data: bytes | None) -> Damage:
    """dfos.toml names config/bad.oca as the rule file; ``data`` is its content (None: a directory)."""
    def damage(ws: Path) -> None:
        replaced("dfos.toml", '# OCA_RULES = ""', 'OCA_RULES = "config/bad.oca"')(ws)
        if data is None:
            (ws / "config/bad.oca").mkdir(parents=True)
        else:
            written("config/bad.oca", data)(ws)
    return damage


def decisions(text: str | bytes) -> Damage:
    return written(DECISIONS, text.encode() if isinstance(text, str) else text)


GOOD_DECISIONS = f"{FLAT} accept flat looks fine\n{ORDERPOS} accept orders found\n"

# -- the corpus -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    codes: frozenset[int]
    damage: Damage | None = None
    ab: str | None = None
    """The AB the command works on: its own files may change."""
    warn: bool = False
    """Exit 0 only with a 'Warning:' line (a tolerated damage must be said)."""


def case(id_: str, argv: list[str], codes: set[int], damage: Damage | None = None, ab: str | None = None,
         warn: bool = False) -> Case:
    return Case(id_, tuple(argv), frozenset(codes), damage, ab, warn)


#: Commands that only read: they never change the date, whatever they exit with.
READ_ONLY = {"status", "explain", "cascade-stat", "watch-queue", "qc1", "health", "trend", "env", "config", "oca",
             "monitor", "cron", "instruments"}

#: Five damages every text file gets.
def damaged(rel: str) -> list[tuple[str, Damage]]:
    return [("non-utf8", non_utf8(rel)), ("truncated", truncated(rel)), ("huge-line", huge_line(rel)),
            ("directory", directory(rel)), ("missing", missing(rel))]


#: certify as a script runs it: every green AB accepted, no questions.
CERTIFY = ["certify", "-d", D, "--accept-green", "--user", "t", "--no-interactive"]


def _dfo_status_cases() -> list[Case]:
    """DFO_STATUS: a damaged line is skipped with a warning; a directory or a missing file is refused."""
    cases: list[Case] = []
    for kind, damage in damaged("monitor/DFO_STATUS"):
        tolerable = {0} if kind in ("non-utf8", "truncated", "huge-line", "missing") else set()
        cases += [
            case(f"DFO_STATUS-{kind}-status", ["status"], tolerable | {3, 5}, damage),
            case(f"DFO_STATUS-{kind}-status-json", ["status", "--json", "-d", D], tolerable | {2, 3, 5}, damage),
            case(f"DFO_STATUS-{kind}-flag", ["flag", "cal_Certif", "-d", D], tolerable | {3, 5}, damage),
            case(f"DFO_STATUS-{kind}-finish", ["finish", "-d", D], {3, 5}, damage),
            case(f"DFO_STATUS-{kind}-remove", ["remove", "-d", D], {3, 5}, damage),
            case(f"DFO_STATUS-{kind}-monitor-export", ["monitor", "export", W + "export"], tolerable | {3, 5},
                 damage),
        ]
    return cases


def _ab_file_cases() -> list[Case]:
    """An AB file: every command that reads it refuses it, naming it; an escape never writes outside."""
    cases: list[Case] = []
    ab = f"AB/{FLAT}"
    ab_damages = [*damaged(ab)[:4],
                  ("prod-path-escape", replaced(ab, "PROD_PATH       $DFS_PRODUCT/FLAT_BLUE/2013-02-12",
                                                "PROD_PATH       $DFS_PRODUCT/../../../outside")),
                  ("product-escape", replaced(ab, "PRODUCTS        r.", "PRODUCTS        ../../../outside/r.")),
                  ("sof-escape", replaced(ab, "SOF_CONTENT     $DFO_RAW_DIR/", f"SOF_CONTENT     {ESCAPE}/../")),
                  ("duplicated-key", appended(ab, "PROD_PATH       $DFS_PRODUCT/X\n"))]
    for kind, damage in ab_damages:
        cases += [
            case(f"AB-{kind}-process-ab", ["process-ab", "-a", FLAT], {5}, damage, FLAT),
            case(f"AB-{kind}-process-qc", ["process-qc", "-a", FLAT], {5}, damage, FLAT),
            case(f"AB-{kind}-explain", ["explain", FLAT], {0, 5}, damage),
            case(f"AB-{kind}-cascade-stat", ["cascade-stat", "--dag-id", DAG], {0, 5}, damage),
            case(f"AB-{kind}-certify", CERTIFY, {3, 5}, damage),
            case(f"AB-{kind}-create-job", ["create-job", "-d", D], {3, 5}, damage),
            case(f"AB-{kind}-exec-cascade", ["exec-cascade", "--dag-id", DAG, "--jobs", W + EXEC_AB], {3, 5, 11},
                 damage),
            # score works from the database alone: a damaged AB file is not its business
            case(f"AB-{kind}-score", ["score", "-d", D], {0, 3, 5}, damage),
            case(f"AB-{kind}-monitor-export", ["monitor", "export", W + "export"], {0, 5}, damage),
        ]
    cases += [case(f"AB-{kind}-{name}", argv, {3, 5}, damage) for kind, damage in ab_damages[:4]
              for name, argv in (("move", ["move", "-d", D]), ("ingest", ["ingest", "-d", D]))]
    # create-ab leaves ABs tagged DONE alone, but must say that one cannot be read
    cases += [case(f"AB-{kind}-create-ab", ["create-ab", "-d", D], {0, 3, 5}, damage, warn=True)
              for kind, damage in ab_damages[:4]]
    return cases


def _ab_list_cases() -> list[Case]:
    """The AB list: steps that need it refuse (StateError names it), create-ab makes it again."""
    cases: list[Case] = []
    for kind, damage in damaged(AB_LIST):
        cases += [
            case(f"AB_list-{kind}-certify", CERTIFY, {3, 5}, damage),
            case(f"AB_list-{kind}-move", ["move", "-d", D], {3, 5}, damage),
            case(f"AB_list-{kind}-create-job", ["create-job", "-d", D], {3, 5}, damage),
            case(f"AB_list-{kind}-finish", ["finish", "-d", D], {3, 5}, damage),
            case(f"AB_list-{kind}-cleanup", ["cleanup", "-d", D, "--force"], {3, 5}, damage),
            # a missing list is how an operator makes createAB redo a date; a damaged one must be said
            case(f"AB_list-{kind}-create-ab", ["create-ab", "-d", D], {0} if kind == "missing" else {0, 3, 5},
                 damage, warn=kind != "missing"),
            case(f"AB_list-{kind}-monitor-export", ["monitor", "export", W + "export"], {0, 5}, damage),
        ]
    return cases


def _exec_ab_cases() -> list[Case]:
    """The execAB file: exec-cascade refuses; a cycle or a duplicated line is a format error."""
    cases: list[Case] = []
    first = f"{BIAS} || processAB || -a {BIAS} || NONE\n"
    exec_damages = [*damaged(EXEC_AB)[:4],
                    ("duplicated-line", appended(EXEC_AB, first)),
                    ("cycle", replaced(EXEC_AB, f"-a {BIAS} || NONE", f"-a {BIAS} || {FLAT}")),
                    ("unknown-ab", appended(EXEC_AB, "NOPE.ab || processAB || -a NOPE.ab || NONE\n")),
                    ("escape", appended(EXEC_AB, "../../x.ab || processAB || -a ../../x.ab || NONE\n"))]
    for kind, damage in exec_damages:
        cases += [
            case(f"execAB-{kind}-exec-cascade", ["exec-cascade", "--dag-id", DAG, "--jobs", W + EXEC_AB],
                 {2, 3, 5} if kind == "directory" else {3, 5}, damage),
            case(f"execAB-{kind}-watch-queue", ["watch-queue", "--dag-id", DAG, "--once"], {0, 3, 5}, damage),
            case(f"execAB-{kind}-stop-cascade", ["stop-cascade", "--dag-id", DAG], {0, 3, 5}, damage),
        ]
    return cases


def _job_file_cases() -> list[Case]:
    """Job files."""
    cases: list[Case] = []
    for kind, damage in damaged("jobs/JOBS_NIGHT")[:4]:
        cases += [
            case(f"JOBS_NIGHT-{kind}-create-job", ["create-job", "-d", D], {3, 5}, damage),
            case(f"JOBS_NIGHT-{kind}-monitor-export", ["monitor", "export", W + "export"], {0, 5}, damage),
            # exit 1: the copy's dfos_ab.sub names the root it was copied from (a warning)
            case(f"JOBS_NIGHT-{kind}-sharing-check", ["sharing", "check"], {0, 1}, damage),
            case(f"JOBS_NIGHT-{kind}-sharing-relocate", ["sharing", "relocate"], {0}, damage),
        ]
    return cases


def _decisions_cases() -> list[Case]:
    """Decisions files."""
    cases: list[Case] = []
    certify_file = ["certify", "-d", D, "--decisions", W + DECISIONS, "--user", "t", "--no-interactive"]
    for kind, damage in [("non-utf8", both(decisions(GOOD_DECISIONS), non_utf8(DECISIONS))),
                         ("truncated", decisions(f"{FLAT} acc")),
                         ("huge-line", decisions(GOOD_DECISIONS + BIG)),
                         ("directory", both(decisions(GOOD_DECISIONS), directory(DECISIONS))),
                         ("missing", lambda ws: None),
                         ("unknown-ab", decisions("NOPE.ab accept\n")),
                         ("newline-ab", decisions(f"{FLAT}\r accept\n")),
                         ("bad-decision", decisions(f"{FLAT} maybe\n"))]:
        cases.append(case(f"decisions-{kind}-certify", certify_file, {2, 5}, damage))
    cases.append(case("decisions-contradicting-certify", certify_file, {0, 5},
                      decisions(f"{FLAT} accept fine\n{FLAT} reject no, bad\n"), warn=True))
    return cases


def _header_cases() -> list[Case]:
    """Header files: an unreadable header is skipped with a warning; an escaping ARCFILE is refused."""
    cases: list[Case] = []
    rules_file = "/usr/share/cpl-plugins/uves-6.1.8/gasgano/config/uves.oca"
    hdr_damages = [*damaged(HDR)[:4],
                   ("arcfile-escape", replaced(HDR, f"'UVES.{D}T18:05:00.500.fits'", "'../../../outside/pwn'")),
                   ("arcfile-tmp", replaced(HDR, f"'UVES.{D}T18:05:00.500.fits'", f"'../../../../../../..{ESCAPE}/p'")),
                   ("exptime-nan", replaced(HDR, "EXPTIME =                  0.0", "EXPTIME =                  NaN")),
                   ("exptime-1e308", replaced(HDR, "EXPTIME =                  0.0", "EXPTIME =              1.0E308")),
                   ("many-cards", lambda ws: (ws / HDR).write_text(
                       (ws / HDR).read_text().replace("END" + " " * 77, "".join(
                           f"HIERARCH ESO X{i} = {i} /".ljust(80) + "\n" for i in range(5000)) + "END" + " " * 77)))]
    for kind, damage in hdr_damages:
        cases += [
            case(f"hdr-{kind}-create-ab", ["create-ab", "-d", D], {0}, damage,
                 warn=kind not in ("many-cards", "huge-line")),  # a line after END is no card
            case(f"hdr-{kind}-oca-classify", ["oca", "classify", "--rules", rules_file, W + HDR],
                 {0, 2} if kind == "directory" else {0}, damage, warn=kind in ("non-utf8", "truncated")),
        ]
    cases.append(case("hdr-non-utf8-oca-organise", ["oca", "organise", "--rules", rules_file, W + HDR], {0},
                      non_utf8(HDR), warn=True))
    return cases


def _toml_cases() -> list[Case]:
    """Dfos.toml: every command refuses a configuration it cannot read (exit 4)."""
    cases: list[Case] = []
    toml_damages = [("non-utf8", non_utf8("dfos.toml")),
                    ("truncated", replaced("dfos.toml", 'INSTRUMENT = "UVES"', 'INSTRUMENT = "UV')),
                    ("huge-line", huge_line("dfos.toml")), ("directory", directory("dfos.toml")),
                    ("bad-value", appended("dfos.toml", '\n[executors]\nSLOTS = "many"\n')),
                    ("unknown-key", appended("dfos.toml", "\nNO_SUCH_KEY = 1\n"))]
    for kind, damage in toml_damages:
        codes = {3, 4} if kind == "directory" else {4}
        cases += [case(f"toml-{kind}-{argv[0]}", argv, codes, damage)
                  for argv in (["status"], ["env"], ["config", "show"], ["create-ab", "-d", D], ["auto-daily"],
                               ["cron", "install"], ["health"], ["instruments"])]
    return cases


def _rules_cases() -> list[Case]:
    """Rule files named in the configuration."""
    cases: list[Case] = []
    for kind, data in [("non-utf8", b'if X == "\xe9" then { Y = 1; }\n'), ("directory", None),
                       ("deep", b"if " + b"(" * 100_000 + b"X == 1"), ("huge-line", b"x" * 5_000_000),
                       ("garbage", bytes(range(256)))]:
        cases.append(case(f"rules-{kind}-create-ab", ["create-ab", "-d", D], {2}, rules(data)))
        # dfos instruments reports the unreadable rules (RULES UNREADABLE) and exits 0
        cases.append(case(f"rules-{kind}-instruments", ["instruments"], {0}, rules(data)))
    cases.append(case("rules-empty-create-ab", ["create-ab", "-d", D], {0, 2}, rules(b"")))
    cases.append(case("rules-missing-create-ab", ["create-ab", "-d", D], {2, 4},
                      replaced("dfos.toml", '# OCA_RULES = ""', 'OCA_RULES = "config/none.oca"')))
    cases.append(case("rules-non-utf8-oca-check", ["oca", "check", W + "config/bad.oca"], {2},
                      written("config/bad.oca", b"// r\xe8gle\n")))
    return cases


def _database_cases() -> list[Case]:
    """The database."""
    cases: list[Case] = []
    for kind, damage in [("garbage", garbage_database), ("directory", database_directory),
                         ("truncated", truncated_database)]:
        cases += [case(f"db-{kind}-{argv[0]}", argv, {3, 5, 6}, damage)
                  for argv in (CERTIFY, ["qc1", "-d", D], ["health"], ["cascade-stat", "--dag-id", DAG],
                               ["score", "-d", D], ["trend", "--param", "QC BIAS LEVEL"], ["process-qc", "-a", FLAT],
                               ["move", "-d", D], ["release", "hide", "--release", "R2", "--from", D, "--to", D],
                               ["sharing", "check"])]
        cases.append(case(f"db-{kind}-status", ["status"], {0, 3, 6}, damage))  # status needs no database
    return cases


def _argument_cases() -> list[Case]:
    """Bad arguments."""
    cases: list[Case] = []
    for name, value in [("unknown", "NOPE.ab"), ("newline", "a\nb.ab"), ("5MB", BIG), ("escape", "../../dfos.toml")]:
        cases += [
            case(f"arg-{name}-process-ab", ["process-ab", "-a", value], {2}),
            case(f"arg-{name}-process-qc", ["process-qc", "-a", value], {2}),
            case(f"arg-{name}-explain", ["explain", value], {2}),
            case(f"arg-{name}-create-job", ["create-job", "-d", D, "-a", value], {2}),
            case(f"arg-{name}-cascade-stat", ["cascade-stat", "--dag-id", value], {2}),
            case(f"arg-{name}-watch-queue", ["watch-queue", "--dag-id", value, "--once"], {2}),
            # a new cascade id is no error, but it names files: it must be a safe name
            case(f"arg-{name}-stop-cascade", ["stop-cascade", "--dag-id", value],
                 {0, 2} if name == "unknown" else {2, 5}),
            case(f"arg-{name}-exec-cascade", ["exec-cascade", "--dag-id", value, "--jobs", W + EXEC_AB],
                 {0, 2} if name == "unknown" else {2, 5}),
            case(f"arg-{name}-fetch-mcal", ["fetch-mcal", value], {2, 5}),
            case(f"arg-{name}-fetch-raw", ["fetch-raw", "-d", D, value], {2, 5}),
            case(f"arg-{name}-flag", ["flag", value, "-d", D], {2}),
            # another installation named by a bad path: refused in one line, nothing written anywhere
            case(f"arg-{name}-shadow", ["shadow", "--reference", value], {2, 3}),
            case(f"arg-{name}-compare", ["compare", W, value], {2, 3}),
            case(f"arg-{name}-migrate", ["migrate", "-I", value, W], {2, 3}),
        ]
    for bad in ("2013-02-30", "0000-01-01", BIG):
        tag = bad if len(bad) < 20 else "5MB"
        cases += [case(f"date-{tag.strip()}-{argv[0]}", argv, {2}) for argv in (
            ["create-ab", "-d", bad], ["create-job", "-d", bad], ["headers", "-d", bad], ["certify", "-d", bad],
            ["move", "-d", bad], ["finish", "-d", bad], ["flag", "cal_QC", "-d", bad], ["status", "-d", bad],
            ["remove", "-d", bad], ["score", "-d", bad], ["cleanup", "-d", bad], ["ingest", "-d", bad],
            ["download", "-d", bad], ["fetch-raw", "-d", bad, f"UVES.{D}T18:05:00.500.fits"], ["qc1", "-d", bad],
            ["health", "--until", bad],
            ["auto-daily", "-D", bad], ["demo-data", "-d", bad], ["trend", "--param", "QC BIAS LEVEL", "--until", bad],
            ["phoenix", "-d", bad], ["shadow", "-d", bad], ["compare", W, W, "-d", bad],
        )]
    cases += [
        case("arg-instrument-init", ["init", W + "sub", "--instrument", "NOPE"], {2}),
        case("arg-set-5MB-status", ["--set", "SLOTS=" + BIG, "status"], {2, 4}),
        case("arg-set-unknown-status", ["--set", "NO_SUCH_KEY=1", "status"], {2, 4}),
        case("arg-archive-serve-missing", ["archive", "serve", "no-such-dir"], {2}),
        case("arg-archive-serve-port", ["archive", "serve", W + "archive", "--port", "0"], {2}),
        case("arg-monitor-serve-port", ["monitor", "serve", "--port", "99999"], {2}),
        case("arg-monitor-export-two-dirs", ["monitor", "export", W + "a", "--out", W + "b"], {2}),
        case("arg-export-command-quote", ["--set", "EXPORT_COMMAND=rsync -a '{dir}/", "monitor", "export", "--out",
                                          W + "export"], {2, 4}),
        case("arg-export-command-missing", ["--set", "EXPORT_COMMAND=no-such-publisher {dir}", "monitor", "export",
                                            "--out", W + "export"], {6}),
        case("arg-export-every", ["--set", "EXPORT_EVERY=61", "cron", "install"], {2, 4}),
        case("arg-export-every-negative", ["--set", "EXPORT_EVERY=-1", "cron", "install"], {2, 4}),
        case("arg-monitor-user-add-bad-name", ["monitor", "user", "add", "../../x"], {2}),
        case("arg-monitor-user-add-no-password", ["monitor", "user", "add", "alice"], {2}),
        case("arg-monitor-user-remove-missing", ["monitor", "user", "remove", "nobody"], {2}),
        case("arg-monitor-users-readable", ["monitor", "user", "list"], {4}, written(".monitor_users", b"a b\n")),
        case("arg-monitor-users-garbage", ["monitor", "user", "list"], {4},
             both(written(".monitor_users", b"\xff" * 10 + b" scrypt$1$2\n" + b"Z" * 100_000),
                  lambda ws: (ws / ".monitor_users").chmod(0o600))),
        case("arg-cron-run-job", ["cron", "run", "-t", "rm -rf"], {2}),
        case("arg-oca-check-missing", ["oca", "check", "no-such.oca"], {2}),
        case("arg-trend-5MB", ["trend", "--param", BIG], {0, 2}),
        case("arg-qc1-5MB", ["qc1", "--param", BIG], {0, 2}),
        case("arg-download-parallel", ["download", "-d", D, "--parallel", "0"], {2}),
        case("arg-process-cluster-missing", ["process-cluster", W + "jobs/batch/no-such.manifest"], {2}),
        case("arg-process-cluster-garbage", ["process-cluster", W + "jobs/garbage.manifest"], {2, 5},
             written("jobs/garbage.manifest", b"not a manifest line\n" + b"Z" * 100_000 + b"\n")),
        case("arg-phoenix-in-an-ops-workspace", ["phoenix", "-d", D], {3}),
        case("arg-phoenix-nothing", ["phoenix"], {2}),
        case("arg-phoenix-month", ["phoenix", "-m", "2013-13"], {2}),
        case("arg-phoenix-run-without-step", ["phoenix", "-r", "090.C-0456(A)"], {2}),
        case("arg-phoenix-5MB-run", ["phoenix", "-r", BIG, "-C"], {2, 3}),
        case("arg-phoenix-escape-run", ["phoenix", "-r", "../../x", "-C"], {2, 3}),
        *_project_cases(),
    ]
    return cases


def _project_cases() -> list[Case]:
    """OPSHUB projects (dfos project, dfos init --flavour opshub) with bad names, dates, lists and instruments."""
    create = ["project", "create", "P1", "--instrument", "UVES"]
    listed = W + "lists/science.txt"
    return [
        case("arg-project-in-an-ops-workspace", [*create, "--dates", D], {3}),
        case("arg-project-run-in-an-ops-workspace", ["project", "run", "P1"], {3}),
        case("arg-project-escape-name", ["project", "create", "../../x", "--instrument", "UVES", "--dates", D], {2}),
        case("arg-project-date-name", ["project", "create", D, "--instrument", "UVES", "--dates", D], {2}),
        case("arg-project-5MB-name", ["project", "run", BIG], {2}),
        case("arg-project-bad-date", [*create, "--dates", f"{D},2013-02-30"], {2}),
        case("arg-project-5MB-dates", [*create, "--dates", BIG], {2}),
        case("arg-project-no-dates", create, {2}),
        case("arg-project-unknown-instrument", ["project", "create", "P1", "--instrument", "NOPE", "--dates", D],
             {2, 3}),
        case("arg-project-list-missing", [*create, "--science-list", W + "no-such-list"], {2}),
        case("arg-project-list-garbage", [*create, "--science-list", listed], {2},
             written("lists/science.txt", b"2013-02-12\n../../etc/passwd\n")),
        case("arg-project-list-non-utf8", [*create, "--science-list", listed], {2, 5},
             written("lists/science.txt", b"caf\xe9\n")),
        case("arg-project-list-huge-line", [*create, "--science-list", listed], {2},
             written("lists/science.txt", b"Z" * 5_000_000 + b"\n")),
        case("arg-project-list-directory", [*create, "--science-list", W + "lists"], {2}),
        case("arg-init-opshub-instrument", ["init", W + "hub", "--flavour", "opshub", "--instrument", "NOPE"], {2}),
        case("arg-init-two-instruments", ["init", W + "sub", "--instrument", "UVES", "--instrument", "NACO"], {2}),
    ]


def _release_cases() -> list[Case]:
    """The release log ($DFO_MON_DIR/RELEASE_LOG) and the release commands' arguments."""
    log = "monitor/RELEASE_LOG"
    hide = ["release", "hide", "--release", "R2", "--from", D, "--to", D]
    cases: list[Case] = []
    for kind, damage in [("non-utf8", written(log, b"2013-02-13T14:00:00 hide R2 caf\xe9.fits 2013-02-12 CALIB\n")),
                         ("garbage", written(log, b"not a release log line\n")),
                         ("huge-line", written(log, b"Z" * 5_000_000 + b"\n")),
                         ("directory", written(log + "/inside", b"a directory\n"))]:
        cases += [case(f"RELEASE_LOG-{kind}-status", ["release", "status"], {0, 3, 5}, damage),
                  case(f"RELEASE_LOG-{kind}-undo", ["release", "undo", "--release", "R2"], {2, 3, 5}, damage),
                  case(f"RELEASE_LOG-{kind}-hide", hide, {0, 3}, damage)]
    for name, value in [("newline", "a\nb"), ("5MB", BIG), ("escape", "../../dfos.toml")]:
        cases += [case(f"arg-{name}-release-hide", ["release", "hide", "--release", value, "--from", D, "--to", D],
                       {2}),
                  case(f"arg-{name}-release-undo", ["release", "undo", "--release", value], {2})]
    for bad in ("2013-02-30", BIG):
        tag = bad if len(bad) < 20 else "5MB"
        cases += [case(f"date-{tag}-release-hide", ["release", "hide", "--release", "R2", "--from", bad, "--to", D],
                       {2}),
                  case(f"date-{tag}-release-raw2raw", ["release", "raw2raw", "--from", D, "--to", bad], {2})]
    cases.append(case("arg-reversed-release-raw2raw", ["release", "raw2raw", "--from", D, "--to", "2013-01-01"], {2}))
    return cases


def _panel_cases() -> list[Case]:
    """The dfoMonitor panels' commands: cal-checker, refresh-vcal and transfer (damaged memory, rules, arguments)."""
    vcal, mcal = f"calib/VCAL/{D}/garbage.hdr", f"calib/MCAL/{D}/garbage.hdr"
    cases = [
        case("panels-cal-checker", ["cal-checker"], {0}),
        case("panels-cal-checker-json", ["cal-checker", "--json"], {0}),
        case("panels-mcal-garbage-cal-checker", ["cal-checker"], {0}, written(mcal, b"not a FITS header\xe9" * 100)),
        case("panels-mcal-huge-cal-checker", ["cal-checker"], {0}, written(mcal, b"Z" * 5_000_000)),
        case("panels-rules-garbage-cal-checker", ["cal-checker"], {2}, rules(b"action {{ select")),
        case("panels-rules-missing-cal-checker", ["cal-checker"], {2, 4}, rules(None)),
        case("panels-vcal-garbage-refresh-vcal", ["refresh-vcal"], {0}, written(vcal, b"not a FITS header\xe9")),
        case("panels-vcal-directory-refresh-vcal", ["refresh-vcal"], {0}, written(vcal + "/inside.hdr", b"x")),
        case("panels-transfer", ["transfer", "-d", D], {0}),
        case("panels-transfer-arrived-json", ["transfer", "-d", D, "--query", "arrived", "--json"], {0}),
        case("arg-transfer-query", ["transfer", "-d", D, "--query", "rm -rf"], {2}),
        case("arg-transfer-no-date", ["transfer"], {2}),
    ]
    for bad in ("2013-02-30", BIG):
        cases.append(case(f"date-{bad if len(bad) < 20 else '5MB'}-transfer", ["transfer", "-d", bad], {2}))
    return cases


def _todo_cases() -> list[Case]:
    """ToDo lists that cannot hurt: check-job, end-job, reset, create-job -r (issue 20)."""
    cases: list[Case] = []
    for kind, damage in damaged("jobs/JOBS_NIGHT")[:4]:
        cases += [case(f"JOBS_NIGHT-{kind}-end-job", ["end-job", "-d", D], {0, 3, 5}, damage),
                  case(f"JOBS_NIGHT-{kind}-create-job-r", ["create-job", "-r", "-d", D], {0, 3, 5}, damage)]
    for bad in ("2013-02-30", BIG):
        tag = bad if len(bad) < 20 else "5MB"
        cases += [case(f"date-{tag}-{argv[0]}", argv, {2}) for argv in (
            ["check-job", "-d", bad], ["end-job", "-d", bad], ["reset", "-m", "CALIB", "-d", bad, "--yes"],
            ["requeue", "-d", bad])]
    cases += [case("arg-reset-without-yes", ["reset", "-m", "CALIB", "-d", D], {2}),
              case("arg-reset-mode", ["reset", "-m", "NOPE", "-d", D, "--yes"], {2}),
              case("arg-create-job-r-with-a", ["create-job", "-r", "-d", D, "-a", "NOPE.ab"], {2}),
              case("arg-check-job-mode", ["check-job", "-m", "x\ny", "-d", D], {2}),
              case("arg-requeue-unknown-ab", ["requeue", "-d", D, "-a", "NOPE.ab"], {2, 3}),
              case("arg-requeue-newline-ab", ["requeue", "-d", D, "-a", "a\nb.ab"], {2}),
              case("arg-stop-cascade-now-escape", ["stop-cascade", "--dag-id", "../../x", "--now"], {2})]
    return cases


def corpus() -> list[Case]:
    """Every case, section by section (one input each, and the commands that read it)."""
    sections = (_dfo_status_cases, _ab_file_cases, _ab_list_cases, _exec_ab_cases, _job_file_cases, _decisions_cases,
                _header_cases, _toml_cases, _rules_cases, _database_cases, _argument_cases, _release_cases,
                _panel_cases, _todo_cases)
    return [one for section in sections for one in section()]


CASES = corpus()


def test_the_corpus_runs_every_command() -> None:
    ran = {c.argv[2] if c.argv[0] == "--set" else c.argv[0] for c in CASES}
    assert set(cli.commands) <= ran, f"commands without a case: {sorted(set(cli.commands) - ran)}"
    assert len({c.id for c in CASES}) == len(CASES)


# -- the workspace and the checks ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def processed(tmp_path_factory: pytest.TempPathFactory, uves_small_archive: Path) -> Path:
    """A small UVES night processed with real esorex up to cal_QC (built once per session)."""
    ws, _ = init_workspace(tmp_path_factory.mktemp("corpus") / "ws", env={}, instrument="UVES")
    for source in uves_small_archive.rglob("*.fits"):
        target = ws.archive_dir / source.relative_to(uves_small_archive)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
    process_night(ws)
    return ws.root


def tree_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``root``: size and modification time (what any write changes)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


PROTECTED = ("products", "calib", "headers", "raw", "archive")


def date_files(ws: Path, skip: set[Path]) -> dict[str, str]:
    """Hashes of the date's data: products, calibrations, headers, raw frames, AB files, AB list, execAB."""
    files = [p for top in PROTECTED for p in (ws / top).rglob("*")]
    files += [*(ws / "AB").glob("*.ab"), ws / AB_LIST, ws / EXEC_AB]
    return {str(p.relative_to(ws)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
            if p.is_file() and not p.is_symlink() and p not in skip}


@contextmanager
def hang_guard(seconds: int) -> Iterator[None]:
    def hung(*_: object) -> None:
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def owned_by(ab: str | None, rel: str) -> bool:
    """Whether ``rel`` is a file of ``ab`` (its AB file, products, log, QC files)."""
    return ab is not None and ab.removesuffix(".ab") in rel


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_malformed_input(c: Case, processed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(processed, ws, symlinks=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "keep.txt").write_text("a sibling of the workspace\n")
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("DFOS_NOW", "2013-02-13T14:00:00")
    if c.damage is not None:
        c.damage(ws)
    damaged_files = {ws / DECISIONS}
    before_outside = {top: tree_state(top) for top in (tmp_path, processed)}
    shutil.rmtree(ESCAPE, ignore_errors=True)
    before = date_files(ws, damaged_files)

    argv = ["--root", str(ws), *(a.replace(W, f"{ws}/") for a in c.argv)]
    try:
        with hang_guard(120):
            code = main(argv)
    except BaseException as exc:
        pytest.fail(f"{c.id}: {type(exc).__name__} escaped main(): {str(exc)[:300]}")
    out, err = capsys.readouterr()

    assert "Traceback" not in out + err, f"{c.id}: a traceback was printed:\n{err[-2000:]}"
    assert code in c.codes, f"{c.id}: exit {code}, expected {sorted(c.codes)}; stderr: {err[-600:]!r}"
    lines = err.splitlines()
    if 2 <= code <= 6:
        assert lines and lines[-1].startswith("Error: "), f"{c.id}: the last stderr line is no 'Error:': {err[-600:]!r}"
        assert all(line.startswith("Warning: ") for line in lines[:-1]), f"{c.id}: stderr: {err[-1000:]!r}"
    if code == 0 and c.warn:
        assert any(line.startswith("Warning: ") for line in lines), f"{c.id}: tolerated without a warning"
    longest = max(map(len, lines), default=0)
    assert longest <= MAX_MESSAGE + 200, f"{c.id}: a stderr line is {longest} characters long"

    for top, state in before_outside.items():
        changed = {k for k in tree_state(top).items() ^ state.items() if not k[0].startswith("ws")} \
            if top == tmp_path else tree_state(top).items() ^ state.items()
        assert not changed, f"{c.id}: written outside the workspace: {sorted(changed)[:5]}"
    assert not ESCAPE.exists(), f"{c.id}: wrote {ESCAPE}"
    if 2 <= code <= 6 or c.argv[0] in READ_ONLY:
        after = date_files(ws, damaged_files)
        differ = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k) and not owned_by(c.ab, k)}
        assert not differ, f"{c.id}: exit {code} but the date changed: {sorted(differ)[:5]}"
