"""Executors: the contract (:mod:`.base`) and the embedded local executor (:mod:`.local`)."""
