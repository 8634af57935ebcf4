"""The base of every pydantic model here."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A pydantic model whose validator is built on first use, not at import (`defer_build`):
    a function's cold start builds only the models it validates or dumps. Subclasses'
    `model_config` merges with this one."""

    model_config = ConfigDict(defer_build=True)
