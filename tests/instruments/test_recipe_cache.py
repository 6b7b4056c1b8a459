"""The recipe list createAB checks ABs against: ``esorex --recipes``, cached until esorex or a pipeline changes."""

from __future__ import annotations

from pathlib import Path

from dfos.instruments.inventory import cached_esorex_recipes, esorex_recipes


def test_the_list_is_esorex_s_and_is_read_back_from_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / ".esorex_recipes"
    fresh = cached_esorex_recipes("esorex", cache)
    assert fresh is not None and fresh == esorex_recipes() and "naco_img_dark" in fresh
    fingerprint, *names = cache.read_text().splitlines()
    assert len(fingerprint) == 64 and set(names) == fresh
    cache.write_text(f"{fingerprint}\nonly_this_recipe\n")  # the cache is what is read while it is current
    assert cached_esorex_recipes("esorex", cache) == frozenset({"only_this_recipe"})
    cache.write_text("another machine\nonly_this_recipe\n")  # a stale fingerprint: esorex is asked again
    assert cached_esorex_recipes("esorex", cache) == fresh


def test_a_program_that_lists_no_recipe_tells_nothing(tmp_path: Path) -> None:
    cache = tmp_path / ".esorex_recipes"
    assert cached_esorex_recipes("true", cache) is None and not cache.exists()
    assert cached_esorex_recipes("no-such-esorex", cache) is None and not cache.exists()
