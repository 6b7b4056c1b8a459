"""Synthetic nights: the plan as data (:mod:`.plan`) and frame rendering (:mod:`.render`)."""

from dfos.synth.plan import Arm, Chip, FramePlan, Signal, Template, expand
from dfos.synth.render import render_frame

__all__ = ["Arm", "Chip", "FramePlan", "Signal", "Template", "expand", "render_frame"]
