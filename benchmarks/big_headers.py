"""Big headers benchmark: createAB of a small UVES bias night whose first .hdr carries 10,000 and 30,000
extra cards (problem 6 of issue 14: card-by-card header building made this quadratic, 84 s for 30,000).

Every product of the bias AB gets a virtual header with all the cards, so the figure is dominated by
reading the big .hdr and writing the virtual products' headers; it should grow linearly.
"""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

from dfos.steps.create_ab import create_abs
from dfos.steps.demo_data import generate_night
from dfos.steps.headers import extract_headers
from dfos.workspace import init_workspace

NIGHT = date(2013, 2, 12)


def one(tmp: Path, cards: int) -> float:
    ws, _ = init_workspace(tmp / f"cards-{cards}", env={}, instrument="UVES")
    generate_night(ws, NIGHT, small=True, seed=1, only=("BIAS_BLUE",))
    extract_headers(ws, NIGHT)
    hdr = sorted((ws.hdr_dir / NIGHT.isoformat()).glob("*.hdr"))[0]
    lines = hdr.read_text().splitlines()
    extra = [f"HIERARCH ESO XTRA K{i} = {i}".ljust(80) for i in range(cards)]
    hdr.write_text("\n".join(lines[:-1] + extra + lines[-1:]) + "\n")
    start = time.perf_counter()
    create_abs(ws, NIGHT, "CALIB")
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as name:
        for cards in (10_000, 30_000):
            seconds = one(Path(name), cards)
            print(f"{f'create-ab, a .hdr with {cards:,} extra cards':<58} {seconds:8.3f} s")


if __name__ == "__main__":
    main()
