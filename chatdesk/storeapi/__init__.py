"""The store server API (CONTRACT section 4): trusted carts and orders from a store's own server."""
