"""``dfos oca check`` and RuleSet.counts agree with an independent count of every installed rule file.

The independent count is a small scanner that knows nothing of the parser: it blanks comments and
strings, then counts the statement words (``if`` ... ``then``, ``select execute``, ``action NAME {``,
``select file``, ``product NAME`` declarations, where a dfos ``product A, B;`` list declares two).
A hand-written file with known counts checks the scanner itself, so the comparison can fail.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

import pytest

from dfos.cli.main import main
from dfos.oca.parser import parse_rules

INSTALLED = sorted(glob.glob("/usr/share/cpl-plugins/*/gasgano/config/*.oca"))

#: Comments and strings, in one pass (a "//" inside a string is no comment, a quote inside a comment no string).
_NOISE = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:[^"\\\n]|\\.)*"', re.DOTALL)
_NAME = r"[A-Za-z_][\w.#-]*"
_WORD = r"(?<![\w.#-]){}(?![\w.#-])"  # a whole word, never part of a dotted keyword (INS.IF.NAME)


def scan(text: str) -> dict[str, int]:
    """Statement counts of OCA text, by pattern matching alone."""
    code = _NOISE.sub(" ", text)
    ifs = len(re.findall(_WORD.format("if") + r".*?" + _WORD.format("then"), code, re.IGNORECASE | re.DOTALL))
    organise = len(re.findall(_WORD.format("select") + r"\s+execute\b", code, re.IGNORECASE))
    actions = len(re.findall(_WORD.format("action") + rf"\s+{_NAME}\s*\{{", code, re.IGNORECASE))
    selects = len(re.findall(_WORD.format("select") + r"\s+file\b", code, re.IGNORECASE))
    products = 0
    for names, _ in re.findall(_WORD.format("product") + rf"\s+({_NAME}(?:\s*,\s*{_NAME})*)\s*([{{;])", code,
                               re.IGNORECASE):
        products += len(names.split(","))
    return {"classify": ifs, "organise": organise, "actions": actions, "selects": selects, "products": products}


HAND_WRITTEN = """
// if DPR.CATG == "X" then { DO.CATG = "COMMENTED_OUT"; }   select execute(NOT_ME) ...
/* action HIDDEN { select file as A from calibFiles where DO.CATG == "A"; product HIDDEN; } */
if DPR.CATG == "CALIB" and INS.IF.NAME == "if then" then { DO.CATG = "A"; }
IF DPR.TYPE like "%select execute%" THEN { DO.CATG = "B"; }
select execute(MAKE_A) from inputFiles where DO.CATG == "A";
SELECT EXECUTE(MAKE_B) from inputFiles where DO.CATG == "B" group by TPL.START;
action MAKE_A
{
  minRet = 0; maxRet = 1;
  select file as CAT from calibFiles where DO.CATG == "CAT"; // select file as NOT_ME
  select file as REF from inputFiles where DO.CATG == "REF";
  product A, B;
  recipe make_a { "--text=product X, Y;"; }
}
action MAKE_B {
  product PROD_C { PRO.CATG = "PROD_C"; PRO.EXT = "0000.fits"; }
  recipe make_b;
}
action MAKE_A { product D; }
"""
HAND_COUNTS = {"classify": 2, "organise": 2, "actions": 3, "selects": 2, "products": 4}


def check_output(capsys: pytest.CaptureFixture[str], *files: str) -> dict[str, dict[str, int]]:
    """What ``dfos oca check`` reports per file."""
    code = main(["oca", "check", *files])
    out = capsys.readouterr().out
    assert code == 0, out
    found = {}
    pattern = re.compile(r"^(.*): ok: (\d+) classification, (\d+) organisation, (\d+) actions with (\d+) selects, "
                         r"(\d+) products$")
    for line in out.splitlines():
        match = pattern.match(line)
        assert match, line
        numbers = [int(g) for g in match.groups()[1:]]
        found[match.group(1)] = dict(zip(("classify", "organise", "actions", "selects", "products"), numbers,
                                         strict=True))
    return found


def counts_of(text: str) -> dict[str, int]:
    counts = parse_rules(text).counts
    return {"classify": counts.classify, "organise": counts.organise, "actions": counts.actions,
            "selects": counts.selects, "products": counts.products}


def test_the_scanner_counts_a_hand_written_file_right(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert scan(HAND_WRITTEN) == HAND_COUNTS
    assert counts_of(HAND_WRITTEN) == HAND_COUNTS
    path = tmp_path / "hand.oca"
    path.write_text(HAND_WRITTEN)
    assert check_output(capsys, str(path)) == {str(path): HAND_COUNTS}


def test_the_scanner_notices_a_difference() -> None:
    """One more product in a list, one statement commented out: the counts change, so a mismatch would show."""
    more = HAND_WRITTEN.replace("product A, B;", "product A, B, E;")
    assert scan(more)["products"] == counts_of(more)["products"] == 5
    fewer = HAND_WRITTEN.replace("select execute(MAKE_A)", "// select execute(MAKE_A)")
    assert scan(fewer)["organise"] == 1
    assert scan(fewer) != HAND_COUNTS


def test_installed_rule_files_are_there() -> None:
    names = {Path(p).name for p in INSTALLED}
    assert {"amber.oca", "giraf.oca", "hawki.oca", "muse.oca", "naco.oca", "uves.oca", "vimos.oca",
            "visir.oca"} <= names


@pytest.mark.parametrize("path", INSTALLED, ids=[Path(p).name for p in INSTALLED])
def test_counts_of_installed_rule_files(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = Path(path).read_text(encoding="utf-8")
    expected = scan(text)
    assert expected["classify"] > 0 and expected["organise"] > 0 and expected["actions"] > 0
    assert counts_of(text) == expected
    assert check_output(capsys, path) == {path: expected}
