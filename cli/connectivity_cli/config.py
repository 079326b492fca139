"""Where `cportal login` keeps the portal URL and token, and how the environment overrides it.

The file is `$XDG_CONFIG_HOME/cportal/config.json` (`~/.config/cportal/config.json` when
XDG_CONFIG_HOME is unset), readable by its owner only (0600, in a 0700 directory): it holds a
bearer token. CPORTAL_URL and CPORTAL_TOKEN, when set, win over the file, so CI needs no file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

URL_ENV = "CPORTAL_URL"
TOKEN_ENV = "CPORTAL_TOKEN"


class NotLoggedIn(Exception):
    pass


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cportal"


def config_path() -> Path:
    return config_dir() / "config.json"


def normalise_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"The portal URL must start with https:// (or http:// locally): {url!r}")
    return url


def save(credentials: Credentials) -> Path:
    """Write the file with mode 0600 from the start, so the token is never readable by others."""
    directory = config_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = config_path()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file keeps its mode under O_CREAT: tighten it
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": credentials.url, "token": credentials.token}, handle, indent=2)
        handle.write("\n")
    return path


def stored() -> dict[str, str]:
    path = config_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise NotLoggedIn(f"{path} is not readable JSON ({exc}); run `cportal login` again.") from None
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def load() -> Credentials:
    data = stored()
    url = os.environ.get(URL_ENV) or data.get("url")
    token = os.environ.get(TOKEN_ENV) or data.get("token")
    if not url or not token:
        raise NotLoggedIn(f"Not logged in: run `cportal login`, or set {URL_ENV} and {TOKEN_ENV}.")
    return Credentials(url=normalise_url(url), token=token)


def forget() -> bool:
    try:
        config_path().unlink()
    except FileNotFoundError:
        return False
    return True
