"""Allocatable per node by the EKS AMI's reservation formula (nodeadm), worked by hand."""

from __future__ import annotations

import pytest

from components.cost.nodes import INSTANCE_TYPES, allocatable, instance_type, max_pods
from components.cost.packing import Pod, pack
from runtime.errors import MLServingError


def test_m6i_xlarge():
    node = allocatable(instance_type("m6i.xlarge"))
    # 4 ENIs x (15 - 1) + 2 = 58 pods; CPU 60 + 10 + 2000 x 0.5% = 80m; memory 11 x 58 + 255 = 893Mi.
    assert (node.pods, node.reserved_cpu_m, node.reserved_memory_mib) == (58, 80, 893)
    assert (node.cpu_m, node.memory_mib, node.gpus) == (3920, 16384 - 893 - 100, 0)


def test_two_and_eight_vcpu_types():
    small = allocatable(instance_type("m6i.large"))  # 3 x 9 + 2 = 29 pods; 60 + 10 = 70m
    assert (small.pods, small.cpu_m, small.memory_mib) == (29, 1930, 8192 - (11 * 29 + 255) - 100)
    big = allocatable(instance_type("g5.2xlarge"))  # 80m for the first four cores + 4000 x 0.25% = 90m
    assert (big.cpu_m, big.gpus) == (7910, 1)


def test_every_type_reserves_less_than_it_has():
    for t in INSTANCE_TYPES.values():
        node = allocatable(t)
        assert (
            0 < node.cpu_m < t.vcpu * 1000 and 0 < node.memory_mib < t.memory_gib * 1024 and node.pods == max_pods(t)
        ), t.name


def test_unknown_instance_type_names_the_table():
    with pytest.raises(MLServingError, match="'x9.huge' is not in the cost estimate's table; known: .*m6i.xlarge"):
        instance_type("x9.huge")


def test_packing_largest_first():
    node = allocatable(instance_type("m6i.xlarge"))
    pods = [Pod(1100, 640, 0)] * 2 + [Pod(3100, 6272, 0)] * 2 + [Pod(600, 1152, 0)] * 2
    assert pack(pods, node).nodes == 3
    assert pack([Pod(5000, 100, 0)], node).unplaceable == 1
    assert pack([Pod(10, 10, 0)] * 59, node).nodes == 2  # pod slots run out at 58
