"""Policy-as-code: the rules of the ml-serving pulumi-policy pack and the offline checker.

The rules are plain functions (``policies.storage``, ``policies.mesh``, ``policies.workloads``,
``policies.rollout``, ``policies.stack_secrets``) registered in ``policies.catalog``. The pack's
``__main__.py`` hands them to pulumi-policy; ``python -m policies.check --stack <name>`` runs them
over the offline render and the stack file.
"""

__all__ = ["catalog", "check", "mesh", "pack", "rollout", "rule", "stack_secrets", "storage", "workloads"]
