import numpy as np
import pandas as pd
import pytest

from examples.train_vision import evaluate
from runtime.vision.network import choose_device
from tests.vision_model import heldout, trained


def test_the_cnn_reaches_95_percent_on_held_out_digits_and_fails_on_a_changed_camera():
    model, accuracy = trained()
    assert accuracy >= 0.95
    assert evaluate(model, shift="darker") < accuracy - 0.3  # what drift monitoring is for


def test_predict_takes_a_frame_a_series_or_a_list_and_answers_class_and_scores():
    model, _ = trained()
    images, labels = heldout()
    files = [v for v in images if isinstance(v, bytes)][:8]
    by_frame = model.predict(None, pd.DataFrame({"image": files}))
    by_list = model.predict(None, files)
    assert list(by_frame["class"]) == list(by_list["class"])
    assert by_frame["scores"].shape == (8, 10) and by_frame["scores"].dtype == np.float32
    np.testing.assert_allclose(by_frame["scores"].sum(axis=1), 1.0, rtol=1e-5)
    assert set(by_frame["class"]) <= {str(d) for d in range(10)}


def test_the_gpu_path_is_the_cpu_path_in_another_dtype_and_half_precision_is_for_gpus_only(tmp_path, monkeypatch):
    """``place`` and ``forward`` are one path for both devices; here FP16 runs it on the CPU."""
    import torch

    from runtime.vision.classifier import HALF_ENV, ImageClassifier

    model, _ = trained()
    images, _ = heldout()
    files = [v for v in images if isinstance(v, bytes)][:64]
    expected = model.predict(None, files)
    half = ImageClassifier(model.preprocessing, model.labels, model.width)
    half.place(model._net, torch.device("cpu"), half=True)
    assert half.describe()["precision"] == "fp16" and next(half._net.parameters()).dtype == torch.float16
    answered = half.predict(None, files)
    assert answered["scores"].dtype == np.float32
    assert (answered["class"] == expected["class"]).mean() >= 0.98
    np.testing.assert_allclose(answered["scores"], expected["scores"], atol=0.02)

    weights = tmp_path / "weights.pt"
    torch.save(model._net.state_dict(), weights)
    monkeypatch.setenv(HALF_ENV, "true")
    loaded = ImageClassifier(model.preprocessing, model.labels, model.width)
    loaded.load_weights(str(weights), device="cpu")
    assert loaded.describe()["device"] == "cpu" and loaded.describe()["precision"] == "fp32"
    assert list(loaded.predict(None, files)["class"]) == list(expected["class"])


def test_the_device_is_chosen_at_load_and_a_missing_gpu_is_a_clear_error(monkeypatch):
    assert choose_device("cpu").type == "cpu"
    import torch

    if not torch.cuda.is_available():
        assert choose_device().type == "cpu"
        with pytest.raises(ValueError, match="no CUDA device is visible"):
            choose_device("cuda")
    monkeypatch.setenv("ML_SERVING_DEVICE", "tpu")
    with pytest.raises(ValueError, match="expected auto, cpu or cuda"):
        choose_device()
