import numpy as np
import torch
from torch import nn

from runtime.vision.network import for_inference
from tests.vision_model import heldout, trained


def batch_of_heldout() -> torch.Tensor:
    model, _ = trained()
    images, _ = heldout()
    prep = model.prep
    return torch.from_numpy(np.stack([model.prepare(v, i, prep) for i, v in enumerate(images)]))


def test_folding_the_batch_norms_keeps_every_class_and_leaves_the_trained_network_alone():
    model, _ = trained()
    net = model._net
    served = for_inference(net)
    x = batch_of_heldout()
    with torch.inference_mode():
        before, after = net(x), served(x)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in served.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules()), "the original was changed"
    assert (before.argmax(1) == after.argmax(1)).all()
    np.testing.assert_allclose(after.numpy(), before.numpy(), atol=1e-4)
