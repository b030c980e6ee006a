"""The shopper side: the widget's socket, its static script and the demo store."""
