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

    `lazy` maps a command name to "package.module:attribute". `errors` are the packages' error
    roots: caught here, once, and shown as a one-line message with exit status 1.
    """

    def __init__(
        self,
        *args: Any,
        lazy: dict[str, str] | None = None,
        errors: tuple[type[Exception], ...] = (),
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        self._lazy = dict(lazy or {})
        self._errors = errors

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.BadParameter as exc:
            raise name_source(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.BadParameter as exc:
            raise name_source(exc) from None
        except self._errors as exc:
            raise click.ClickException(str(exc)) from exc

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


def name_source(exc: click.BadParameter) -> click.BadParameter:
    """Say where a bad value came from when the user did not type it: an environment variable
    or a config file key, so that `BZAUDIT_WINDOW=7` is not reported as if it were `--window 7`."""
    from click.core import ParameterSource

    from scanner.clikit.config import config_used

    ctx, param = exc.ctx, exc.param
    if ctx is None or param is None or param.name is None:
        return exc
    source = ctx.get_parameter_source(param.name)
    if source is ParameterSource.ENVIRONMENT:
        names = param.envvar if isinstance(param, click.Option) else None
        if names is None and ctx.auto_envvar_prefix is not None:
            names = f"{ctx.auto_envvar_prefix}_{param.name.upper()}"
        shown = names if isinstance(names, str) else ", ".join(names or [])
        return click.BadParameter(
            f"{exc.message} (from environment variable {shown})", ctx=ctx, param=param
        )
    elif source is ParameterSource.DEFAULT_MAP:
        key = next((o[2:] for o in param.opts if o.startswith("--")), param.name)
        where = f"key '{key}' in {config_used(ctx.find_root())}"
        return click.BadParameter(f"{exc.message} (from {where})", ctx=ctx, param=param)
    return exc
