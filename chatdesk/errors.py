"""The one error type the domain raises to a caller, with a stable code."""


class ActionError(Exception):
    """A refused request: `code` is stable and goes to the client in an `error` frame."""

    def __init__(self, code: str, detail: str, field: str | None = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field

    def frame(self, client_id=None) -> dict:
        frame = {"type": "error", "code": self.code, "detail": self.detail}
        if self.field:
            frame["field"] = self.field
        if client_id is not None:
            frame["client_id"] = client_id
        return frame
