"""A/B experiments: exposures joined to outcomes per arm, and the readout that decides.

The statistics live in ``runtime.decisions`` (shared with canary promotion).
"""

from runtime.experiments.readout import DECISIONS, build_readout, look
from runtime.experiments.service import ExperimentService
from runtime.experiments.store import ExperimentStore

__all__ = ["DECISIONS", "ExperimentService", "ExperimentStore", "build_readout", "look"]
