"""dfos: the Data Flow Operations System for ESO-style observatory data.

The package is organised by domain: :mod:`dfos.status` (DFO_STATUS and the
per-date decision table), :mod:`dfos.config` (layered settings),
:mod:`dfos.workspace` (the DFOS directory tree), :mod:`dfos.headers`,
:mod:`dfos.archive`, :mod:`dfos.synth` (synthetic nights), the operator steps
in :mod:`dfos.steps`, and the command line in :mod:`dfos.cli`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
