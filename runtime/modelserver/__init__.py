"""The model server: one MLflow model over the V2 protocol on KServe's ModelServer."""

from runtime.modelserver.model import MLflowModel, PredictionFailed, resolve_model_dir
from runtime.modelserver.settings import ModelServerSettings, parse_settings

__all__ = ["MLflowModel", "PredictionFailed", "resolve_model_dir", "ModelServerSettings", "parse_settings"]
