"""Cascades: the pure scheduler (:mod:`.scheduler`) and the runner that drives an executor (:mod:`.run`)."""
