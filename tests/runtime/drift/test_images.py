"""Image inputs in the drift monitor: statistics per image against the registered image profile."""

import base64

import mlflow
import numpy as np
import pytest

from runtime.drift.images import expand_images, stats_frame
from runtime.drift.monitor import VariantMonitor
from runtime.drift.profile import load_profile
from runtime.spec import DriftSpec
from tests.vision_model import heldout, jpeg, png, registered


@pytest.fixture(scope="module")
def image_profile():
    model = registered()
    client = mlflow.MlflowClient(tracking_uri=model["tracking_uri"])
    return load_profile(client.download_artifacts(model["run_id"], "reference_profile.json"))


def as_sent(images: list) -> list[str]:
    """The images as the gateway's tap forwards them: the base64 strings of the V2 JSON."""
    return [base64.b64encode(png(v) if isinstance(v, np.ndarray) else v).decode() for v in images]


def test_statistics_mean_what_they_say_and_failures_are_counted():
    dark = np.full((30, 60, 3), 20, dtype=np.uint8)
    light = np.full((40, 40, 3), 230, dtype=np.uint8)
    light[:, :, 2] = 30  # yellow
    frame = stats_frame([jpeg(dark), base64.b64encode(png(light)).decode(), light, b"not an image", "%%%", None])
    assert list(frame["width"][:3]) == [60, 40, 40] and frame["aspect"][0] == pytest.approx(2.0)
    assert frame["brightness"][0] == pytest.approx(20 / 255, abs=0.02)
    assert frame["contrast"][1] == pytest.approx(0.0, abs=1e-6)
    assert frame["mean_b"][1] == pytest.approx(30 / 255, abs=1e-3) and frame["mean_r"][1] == pytest.approx(
        230 / 255, abs=1e-3
    )
    assert frame["decode_failed"].tolist()[:5] == [0, 0, 0, 1, 1]
    assert frame["decode_failed"].isna().tolist()[5] and frame["width"].isna().tolist()[3:] == [True, True, True]


def test_inputs_are_left_alone_without_an_image_profile():
    inputs = {"amount": [1.0, 2.0]}
    assert expand_images(inputs, {}) is inputs


@pytest.mark.parametrize(
    ("shift", "expected"), [("darker", {"brightness", "mean_r"}), ("rotated", {"width", "height", "aspect", "edges_x"})]
)
def test_a_changed_camera_is_flagged_and_the_same_camera_is_not(image_profile, shift, expected):
    monitor = VariantMonitor("vision", "v1", image_profile, DriftSpec(window_rows=240, p_value=0.01, drift_share=0.3))
    same, _ = heldout()
    (report,) = monitor.ingest({"image": as_sent(same[:240])})
    assert not report.dataset_drifted, [f for f in report.features if f.drifted]
    changed, _ = heldout(seed=7, shift=shift)
    (report,) = monitor.ingest({"image": as_sent(changed[:240])})
    drifted = {f.name for f in report.features if f.drifted}
    assert report.dataset_drifted and expected <= drifted, drifted


def test_a_rising_share_of_undecodable_images_is_drift(image_profile):
    monitor = VariantMonitor("vision", "v1", image_profile, DriftSpec(window_rows=200, p_value=0.01, drift_share=0.1))
    images, _ = heldout()
    sent = as_sent(images[:200])
    sent[::5] = [base64.b64encode(b"corrupt upload").decode()] * len(sent[::5])
    (report,) = monitor.ingest({"image": sent})
    assert "decode_failed" in {f.name for f in report.features if f.drifted}
