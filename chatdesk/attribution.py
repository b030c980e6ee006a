"""Revenue attribution of orders to conversations (METRICS.md); filled in by the offers issue."""


def attribute_order(order) -> None:
    """Link `order` to the conversation it is attributed to, if any. Called inside the order's transaction."""
    return None
