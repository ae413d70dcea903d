"""Values of ``crmsync.toml``: type checks and ``${ENV}`` resolution, with errors that name
the file, section and key (docs/configuration.md)."""

from __future__ import annotations

import os
import re
from typing import Any

from crmsync.core.errors import ConfigError

__all__ = ["ENV_REF", "expect", "interpolate"]

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

def _interpolate(value: Any, *, file: str | None, section: str, key: str,
                 secrets: set[str]) -> Any:
    """Replace ``${VAR}`` references with environment values (recursively)."""
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                raise ConfigError(f"environment variable {name} is not set", file=file,
                                  section=section, key=key)
            secrets.add(os.environ[name])
            return os.environ[name]
        return ENV_REF.sub(sub, value)
    if isinstance(value, list):
        return [_interpolate(v, file=file, section=section, key=key, secrets=secrets)
                for v in value]
    if isinstance(value, dict):
        return {k: _interpolate(v, file=file, section=section, key=f"{key}.{k}", secrets=secrets)
                for k, v in value.items()}
    return value

def _expect(value: Any, types: type | tuple[type, ...], *, file: str | None, section: str,
            key: str) -> Any:
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in (
            types if isinstance(types, tuple) else (types,))):
        names = (" or ".join(t.__name__ for t in types) if isinstance(types, tuple)
                 else types.__name__)
        raise ConfigError(f"expected {names}, got {type(value).__name__} {value!r}",
                          file=file, section=section, key=key)
    return value


expect = _expect
interpolate = _interpolate
