"""``dfos migrate``: set up a new workspace from an old one (or from a DFOS installation tree) and copy it over,
verified and resumable (docs/migration.md, "Moving to a new machine").

:mod:`.setup` makes NEW; :mod:`.run` copies (files with :mod:`.sync`, database rows with :mod:`.database`, a DFOS
tree read by :mod:`.dfos_tree`); :mod:`.manifest` holds NEW's records of both.
"""
