"""login, logout, whoami, completion."""

from __future__ import annotations

import getpass
import os
import sys

import click
from click.shell_completion import get_completion_class

from .api import Api
from .cli import Env, fail_usage, json_option, pass_env, root
from .config import Credentials, normalise_url
from .errors import AUTH, CliError


def _read_password(prompt: str, from_stdin: bool, confirm: bool = False) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise fail_usage("no terminal to ask for the password: use --password-stdin (or HAUL_API_KEY)")
    password = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    return str(password)


@root.command()
@click.option("--url", "login_url", metavar="URL", help="The server to log in to (it becomes the default one).")
@click.option("-u", "--username", help="Your user name (asked when not given).")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (one line) instead of asking."
)
@click.option("--api-key", "use_api_key", is_flag=True,
              help="Store an API key (read like a password) instead of logging in with a password.")
@json_option
@pass_env
def login(env: Env, login_url: str | None, username: str | None, password_stdin: bool, use_api_key: bool) -> None:
    """Log in to a Haul server and remember it.

    Asks for the password without echoing it. On a server with no users yet, it offers the
    first-run setup instead: the account you type becomes the first admin. The access and
    refresh tokens are stored per server in your config directory (mode 0600) and refreshed
    silently; `haul logout` ends the session.
    """
    if login_url:
        env.url_option = normalise_url(login_url)
    api = env.api()
    out = env.out
    if use_api_key:
        key = _read_password("API key", password_stdin)
        api.api_key = key
        me = api.get("/auth/me")
        env.store.save(Credentials(url=api.url, username=me.get("username"), api_key=key, ws_url=env.ws_url_option))
        _logged_in(env, me, "with an API key")
        return
    status = api.request("GET", "/auth/status", auth=False).json()
    setup = bool(status.get("setup_required"))
    if setup and not out.json:
        out.note(f"{api.url} has no users yet: the account you create now becomes its first admin.")
    if not username:
        if not sys.stdin.isatty() or password_stdin:
            raise fail_usage("give --username when the password comes from standard input")
        username = str(click.prompt("Username", default=getpass.getuser(), err=True))
    password = _read_password("Password", password_stdin, confirm=setup and not password_stdin)
    path = "/auth/setup" if setup else "/auth/login"
    answer = api.request("POST", path, auth=False, json={"username": username, "password": password})
    grant = answer.json()
    env.store.save(Credentials(url=api.url, username=grant["user"]["username"], access_token=grant["access_token"],
                               refresh_token=grant["refresh_token"], ws_url=env.ws_url_option))
    _logged_in(env, grant["user"], "(first admin created)" if setup else "")


def _logged_in(env: Env, user: dict[str, object], how: str) -> None:
    env.out.result(
        {"url": env.url(), "user": user},
        f"Logged in to {env.url()} as {user.get('username')} ({user.get('role')}) {how}".rstrip(),
    )


@root.command()
@click.option("--all", "everywhere", is_flag=True, help="Log out of every server you are logged in to.")
@json_option
@pass_env
def logout(env: Env, everywhere: bool) -> None:
    """End your session on the server and forget its credentials."""
    urls = env.store.servers() if everywhere else [env.url()]
    done = []
    for url in urls:
        creds = env.store.get(url)
        if creds is None:
            continue
        if creds.access_token:
            session = Api(url, creds, env.store)  # the stored session, whatever HAUL_API_KEY says
            try:
                session.request("POST", "/auth/logout")
            except CliError:
                pass  # an expired or revoked session: forgetting it is all that is left to do
            finally:
                session.close()
        env.store.forget(url)
        done.append(url)
    if env.out.json:
        env.out.emit({"logged_out": done})
    elif done:
        for url in done:
            env.out.line(f"Logged out of {url}")
    else:
        env.out.line(f"Not logged in to {env.url()}")


@root.command()
@json_option
@pass_env
def whoami(env: Env) -> None:
    """Who you are on the current server, and which server that is."""
    api = env.api()
    if not api.logged_in:
        raise CliError(f"not logged in to {api.url}: run `haul login` (or set HAUL_API_KEY)", AUTH)
    me = api.get("/auth/me")
    how = "HAUL_API_KEY" if os.environ.get("HAUL_API_KEY") else ("API key" if api.api_key else "login session")
    env.out.result(
        {"url": api.url, "credentials": how, "user": me},
        f"{me.get('username')} ({me.get('role')}) on {api.url}, by {how}",
    )


@root.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for bash, zsh or fish.

    \b
    bash:  eval "$(haul completion bash)"           (or save it in ~/.local/share/bash-completion/completions/haul)
    zsh:   eval "$(haul completion zsh)"            (or save it as _haul in a directory of your $fpath)
    fish:  haul completion fish > ~/.config/fish/completions/haul.fish
    """
    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - click knows the three
        raise fail_usage(f"no completion for {shell}")
    click.echo(cls(root, {}, "haul", "_HAUL_COMPLETE").source())


# -- API keys -----------------------------------------------------------------------------
@root.group()
def keys() -> None:
    """Personal API keys for scripts and CI (send one as HAUL_API_KEY)."""


@keys.command("ls")
@json_option
@pass_env
def keys_ls(env: Env) -> None:
    """Your API keys (never their secrets)."""
    listed = list(env.api().pages("/auth/api-keys", "keys", per_page=50))
    if env.out.json:
        for key in listed:
            env.out.emit(key)
        return
    env.out.table(("ID", "NAME", "PREFIX", "CREATED", "LAST USED", "EXPIRES"),
                  ([k.get("id"), k.get("name"), k.get("prefix"), k.get("created_at"), k.get("last_used_at") or "never",
                    k.get("expires_at") or "never"] for k in listed))


@keys.command("create")
@click.argument("name")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), help="Its lifetime (default: the server's).")
@click.option("--never-expires", is_flag=True, help="A key that never expires (admins only).")
@click.option("--password-stdin", is_flag=True, help="Read your password from standard input instead of asking.")
@json_option
@pass_env
def keys_create(env: Env, name: str, expires_in_days: int | None, never_expires: bool, password_stdin: bool) -> None:
    """Create an API key: asks for your password again; the key is shown once.

    Needs a login session (a key cannot make keys).
    """
    if never_expires and expires_in_days:
        raise fail_usage("--expires-in-days or --never-expires, not both")
    password = _read_password("Password", password_stdin)
    body: dict[str, object] = {"name": name, "password": password}
    if never_expires:
        body["expires_in_days"] = None
    elif expires_in_days:
        body["expires_in_days"] = expires_in_days
    created = env.api().post("/auth/api-keys", body)
    if env.out.json:
        env.out.emit(created)
        return
    env.out.line(str(created.get("key")))
    env.out.note(f"API key {created.get('id')} ({name}), expires {created.get('expires_at') or 'never'}: "
                 "shown once; use it as HAUL_API_KEY")


@keys.command("rm")
@click.argument("key_id", metavar="ID")
@json_option
@pass_env
def keys_rm(env: Env, key_id: str) -> None:
    """Revoke one of your API keys."""
    answer = env.api().delete(f"/auth/api-keys/{key_id}")
    env.out.result(answer, f"revoked {key_id}")
