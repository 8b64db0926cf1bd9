"""The one error envelope every non-2xx answer carries: `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorInfo(BaseModel):
    message: str = Field(description="What went wrong, why, and how to fix it.")
    type: str = Field(description="A stable machine-readable name, e.g. `invalid_request`, `overloaded`.")
    param: str | None = Field(default=None, description="The request field at fault, e.g. `items.0.response`.")
    code: int = Field(description="The HTTP status.")


class ErrorResponse(BaseModel):
    error: ErrorInfo
