"""Option types shared by `bzscan` and `bzagg`, so every command reads a value the same way."""

from __future__ import annotations

import importlib
from typing import Any

import click

from scanner.wire.duration import parse_duration


class Duration(click.ParamType[float]):
    """A duration such as 90s, 10m or 1h (bare numbers are seconds); the value is seconds."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if value > 0:
                return float(value)
            self.fail(f"{value!r}: must be positive", param, ctx)
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()
LANGS = click.Choice(["vi", "en"])
LANG_HELP = "Language of the output: vi (Vietnamese) or en (English)."


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used: no cycles, no import side effects.

    `lazy` maps a command name to "package.module:attribute".
    """

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            module, attr = self._lazy[cmd_name].split(":")
            cmd = getattr(importlib.import_module(module), attr)
            if not isinstance(cmd, click.Command):  # pragma: no cover - a wiring mistake
                raise TypeError(f"{self._lazy[cmd_name]} is not a click command")
            return cmd
        return super().get_command(ctx, cmd_name)
