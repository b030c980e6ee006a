"""ChatDesk's websocket benchmark: a load generator, a bare Channels relay, scenarios and reports (see README.md)."""
