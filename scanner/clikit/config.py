"""YAML config for the CLIs: keys are option names; click applies CLI > env > YAML > defaults.

Without `--config` (or `BZAUDIT_CONFIG`), the first existing file of the search path is used:
`$XDG_CONFIG_HOME/bluezone-audit/<kind>.yaml` (default `~/.config/...`), then
`/etc/bluezone-audit/<kind>.yaml`, where kind is `scanner` or `aggregator`. The working directory
is deliberately not searched: a file picked up from wherever a command happens to run is how the
same store once gave three different province figures.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml

META_KEY = "bzaudit.config"  # ctx.meta entry: the config file actually used (or None)


def search_path(kind: str, env: dict[str, str] | None = None) -> list[Path]:
    """Where `bzscan` (kind "scanner") or `bzagg` ("aggregator") looks for its config file."""
    env = dict(os.environ) if env is None else env
    xdg = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return [Path(xdg) / "bluezone-audit" / f"{kind}.yaml", Path(f"/etc/bluezone-audit/{kind}.yaml")]


def config_callback_for(kind: str) -> Callable[[click.Context, click.Parameter, str | None], None]:
    """Eager `--config` callback: the YAML becomes click's default_map (below env and CLI)."""

    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is None and ctx.parent is not None:
            return  # the search path is read once, by the root command, sections and all
        path = (
            Path(value)
            if value is not None
            else next((p for p in search_path(kind) if p.is_file()), None)
        )
        ctx.meta[META_KEY] = path
        if path is None:
            return
        assert isinstance(ctx.command, click.Command)
        data = load_yaml_config(ctx, path, command=ctx.command)
        ctx.default_map = {**(ctx.default_map or {}), **data}

    return callback


def config_used(ctx: click.Context) -> Path | None:
    """The config file this invocation read, if any (for "which files were used" lines)."""
    found: Path | None = ctx.meta.get(META_KEY)
    return found


def load_yaml_config(ctx: click.Context, path: Path, *, command: click.Command) -> dict[str, Any]:
    """Read a YAML mapping whose keys are `command`'s option names; exit 2 naming key and file.

    Subcommand sections are nested mappings under the subcommand's name, as click's
    `default_map` expects (e.g. `doctor: {broker: ...}`).
    """
    if not path.is_file():
        raise click.BadParameter(f"{path} does not exist", param_hint="--config")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {path}: {exc.strerror}", param_hint="--config"
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"{path}: not valid YAML: {exc}", param_hint="--config") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise click.BadParameter(
            f"{path}: expected a mapping of option names", param_hint="--config"
        )
    return _check_keys(data, command, path, prefix="")


def _check_keys(
    data: dict[Any, Any], command: click.Command, path: Path, prefix: str
) -> dict[str, Any]:
    # A key may be an option's long name (`rssi-min`, `rssi_min`) or its parameter name.
    names: dict[str, click.Parameter] = {}
    for p in command.params:
        if not p.name or p.name == "config":
            continue
        names[p.name] = p
        for opt in p.opts:
            if opt.startswith("--"):
                names.setdefault(opt[2:].replace("-", "_"), p)
    subs: dict[str, click.Command] = {}
    if isinstance(command, click.Group):
        # list_commands/get_command, not .commands: lazily loaded commands count too.
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                subs[name] = sub
    out: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = str(raw_key).replace("-", "_")
        where = f"{prefix}{raw_key}"
        if key in names:
            param = names[key]
            key = param.name or key
            try:
                out[key] = param.type_cast_value(click.Context(command), value)
            except click.BadParameter as exc:
                raise click.BadParameter(
                    f"key '{where}' in {path}: {exc.message}", param_hint="--config"
                ) from exc
            if isinstance(param.type, click.Path | click.File) and value is not None:
                # Paths in a config file are relative to the file, not to the caller's cwd.
                out[key] = (
                    str((path.parent / str(value)).resolve())
                    if not Path(str(value)).is_absolute()
                    else str(value)
                )
        elif str(raw_key) in subs and isinstance(value, dict):
            out[str(raw_key)] = _check_keys(value, subs[str(raw_key)], path, prefix=f"{where}.")
        else:
            known = ", ".join(sorted(k.replace("_", "-") for k in names) + sorted(subs))
            raise click.BadParameter(
                f"unknown key '{where}' in {path} (known keys: {known})", param_hint="--config"
            )
    return out
