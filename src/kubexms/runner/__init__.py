"""The Runner: idempotent host operations over one connector, with cached facts."""

from kubexms.runner._facts import FactsParseError, HostFacts, parse_facts
from kubexms.runner._runner import Runner

__all__ = ["FactsParseError", "HostFacts", "Runner", "parse_facts"]
