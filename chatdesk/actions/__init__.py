"""What may happen to the domain: plain functions that both sockets, the API and tasks call."""
