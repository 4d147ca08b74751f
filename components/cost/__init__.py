"""What a stack costs: a monthly estimate of its offline render, per item and per model.

``estimate_stack`` renders and prices a stack; ``components.cost.estimate.estimate`` prices a
render already made; ``to_json`` and ``to_table`` present the result.
"""

__all__ = ["estimate_stack", "to_json", "to_table"]


def __getattr__(name: str):
    # Importing the package stays light: the render (and Pulumi) load only when asked for.
    if name == "estimate_stack":
        from components.cost.cli import estimate_stack

        return estimate_stack
    if name in ("to_json", "to_table"):
        from components.cost import report

        return getattr(report, name)
    raise AttributeError(name)
