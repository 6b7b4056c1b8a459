"""The OCA rule language: syntax (:mod:`.syntax`), parser (:mod:`.parser`), evaluation (:mod:`.evaluate`)."""

from dfos.oca.evaluate import compile_condition
from dfos.oca.parser import RuleSyntaxError, merge, parse_rules
from dfos.oca.syntax import Action, ClassifyRule, Match, OrganiseRule, RuleSet, Select

__all__ = [
    "Action",
    "ClassifyRule",
    "Match",
    "OrganiseRule",
    "RuleSet",
    "RuleSyntaxError",
    "Select",
    "compile_condition",
    "merge",
    "parse_rules",
]
