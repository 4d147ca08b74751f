"""The recommender use case: a world of users and items with a known ground truth, and two
recommenders trained on its implicit feedback (a popularity baseline and implicit ALS).

The model classes live in the runtime package because the model server loads them back.
"""

from runtime.recommend.models import ALSRecommender, PopularityRecommender
from runtime.recommend.world import CONTEXTS, TasteWorld

__all__ = ["ALSRecommender", "PopularityRecommender", "TasteWorld", "CONTEXTS"]
