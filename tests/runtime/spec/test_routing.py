"""``routing.policy``: a union chosen by ``type``, with errors at the stack file's key paths."""

from __future__ import annotations

import pytest

from runtime.spec import StickyRoutingSpec, WeightedRoutingSpec, load_stack
from tests.runtime.spec.configs import problems_of, stack_config

AT = "stacks/Pulumi.prod.yaml: ml-serving:models.recommender.routing"


def _recommender_routing(routing: dict) -> list[str]:
    config = stack_config("prod")
    config["ml-serving:models"]["recommender"]["routing"] = routing
    return problems_of(config)


def test_the_shipped_stacks_route_by_policy():
    assert load_stack("prod").models["fraud"].routing.policy == WeightedRoutingSpec()
    sticky = load_stack("local").models["recommender"].routing.sticky
    assert sticky == StickyRoutingSpec(type="sticky", input="user_id", header="x-user-id")


def test_the_old_sticky_keys_name_the_new_key_path():
    assert _recommender_routing({"stickyKey": "user_id", "stickyHeader": "x-user-id"}) == [
        f"{AT}.stickyKey: moved into the routing policy; "
        "write routing: {policy: {type: sticky, input: user_id, header: x-user-id}}"
    ]
    assert _recommender_routing({"stickyHeader": "x-user"}) == [
        f"{AT}.stickyHeader: moved into the routing policy; write routing: {{policy: {{type: sticky, header: x-user}}}}"
    ]


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        ({"type": "sticky"}, ".policy.input: sticky routing needs a routing key: set input (e.g. user_id), header"),
        ({"type": "sticky", "header": "x user"}, ".policy.header: string should match pattern"),
        ({"type": "sticky", "input": "u", "key": "u"}, ".policy.key: unknown key"),
        ({"type": "random"}, ".policy: input tag 'random' found using 'type' does not match any of the expected tags"),
        ({"type": "weighted"}, ".policy: an experiment needs sticky routing"),
        (
            {"type": "headerMatch", "header": "x-tester", "values": ["qa"], "variant": "nope"},
            ".policy.variant: 'nope' is not a live variant of this model; expected one of popular, als",
        ),
    ],
)
def test_a_bad_policy_is_refused_at_its_key_path(policy, problem):
    (line,) = _recommender_routing({"policy": policy})
    assert line.startswith(f"{AT}{problem}"), line
