"""The root command, its shared state and the decorators every command uses.

The commands live in ``commands_*.py`` and attach themselves to ``root``; ``main.py`` imports
them all and is the console script's entry point.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from . import __version__
from .api import Api
from .config import DEFAULT_URL, Store, normalise_url
from .errors import EXIT_CODES, FAILED, INTERRUPTED, USAGE, CliError
from .output import Output

F = TypeVar("F", bound=Callable[..., Any])

EPILOG = "\b\nExit codes:\n" + "\n".join(f"  {code:>3}  {text}" for code, text in sorted(EXIT_CODES.items()))


class Env:
    """What every command needs: the server, the credentials, the output."""

    def __init__(self, url: str | None, ws_url: str | None, as_json: bool, no_color: bool) -> None:
        self.url_option = url
        self.ws_url_option = ws_url or os.environ.get("HAUL_WS_URL") or None
        self.out = Output(as_json=as_json, no_color=no_color)
        self.store = Store()
        self._api: Api | None = None

    def url(self) -> str:
        chosen = self.url_option or os.environ.get("HAUL_URL") or self.store.current_url() or DEFAULT_URL
        return normalise_url(chosen)

    def api(self) -> Api:
        if self._api is None:
            url = self.url()
            self._api = Api(url, self.store.get(url), self.store, api_key=os.environ.get("HAUL_API_KEY") or None,
                            ws_url=self.ws_url_option)
        return self._api

    def close(self) -> None:
        if self._api is not None:
            self._api.close()


pass_env = click.make_pass_decorator(Env)


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Env).out.json = True


def json_option(fn: F) -> F:
    """``--json`` on a command (also accepted before the command: ``haul --json ls``)."""
    return click.option("--json", "as_json", is_flag=True, expose_value=False, callback=_set_json,
                        help="Machine-readable output: one JSON object, or JSON lines for lists and events.")(fn)


class HaulGroup(click.Group):
    """A group whose errors become one line (or a JSON envelope) and a documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.parent is not None:
            return super().invoke(ctx)
        try:
            return super().invoke(ctx)
        except CliError as err:
            env = ctx.find_object(Env)
            (env.out if env else Output()).error(err)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt:
            sys.stderr.write("\ninterrupted\n")
            ctx.exit(INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            # `haul ls | head`: the reader left; nothing more to say.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)
        except Exception as exc:  # noqa: BLE001 - the last resort: one line, never a traceback
            env = ctx.find_object(Env)
            (env.out if env else Output()).error(
                CliError(f"unexpected {type(exc).__name__}: {exc}", FAILED, code="CLI_BUG")
            )
            ctx.exit(FAILED)
        finally:
            env = ctx.find_object(Env)
            if env:
                env.close()


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=HaulGroup, context_settings=CONTEXT, epilog=EPILOG)
@click.option("--url", metavar="URL", help="The Haul server (default: HAUL_URL, else the one you last logged in to, "
              f"else {DEFAULT_URL}).")
@click.option(
    "--ws-url", metavar="URL", help="The WebSocket endpoint, if the server does not say (default: HAUL_WS_URL)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (also accepted after any command).")
@click.option(
    "--no-color", is_flag=True, help="No colours (also: the NO_COLOR environment variable, or output to a pipe)."
)
@click.version_option(__version__, "-V", "--version", prog_name="haul")
@click.pass_context
def root(ctx: click.Context, url: str | None, ws_url: str | None, as_json: bool, no_color: bool) -> None:
    """haul: the command-line client of the Haul download manager.

    \b
    Log in once (credentials are kept per server in your config directory, readable by you only):
      haul login --url http://127.0.0.1:8000
    then:
      haul add https://example.com/big.iso --follow
      haul ls --state downloading
      haul get <id> -o big.iso

    Scripts and CI can set HAUL_URL and HAUL_API_KEY instead of logging in. Every command takes
    --json. Colours and progress bars appear only on a terminal (and never with NO_COLOR).
    """
    ctx.obj = Env(url, ws_url, as_json, no_color)


def fail_usage(message: str) -> CliError:
    return CliError(message, USAGE, code="USAGE")
