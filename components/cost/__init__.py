"""What a stack costs: a monthly estimate of its offline render, per item and per model."""

__all__ = ["estimate", "estimate_stack", "to_json", "to_table"]


def __getattr__(name: str):
    # Importing the package stays light: the render (and Pulumi) load only when asked for.
    if name == "estimate":
        from components.cost.estimate import estimate

        return estimate
    if name == "estimate_stack":
        from components.cost.cli import estimate_stack

        return estimate_stack
    if name in ("to_json", "to_table"):
        from components.cost import report

        return getattr(report, name)
    raise AttributeError(name)
