"""ChatDesk: the Django project and the core domain of conversations, carts and orders."""
