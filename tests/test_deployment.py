"""The deployment files agree with each other, with design §3 and with the code.

The Dockerfile, docker-compose.yml, Caddyfile and .env.example are read as text and compared with what
the bot actually does: its settings, its routes and its CLI; where Caddy is installed, the shipped
Caddyfile also runs for real in front of the bot on loopback. The whole deployment (image, Compose,
HTTPS) runs in deploy/test-deploy.sh (`make test-deploy`), which needs a container engine.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from bot.settings import Settings
from bot.web.routes import setup_routes
from emulators.harness import EMULATOR_API_KEY, EMULATOR_BOT_TOKEN, RunningBot, free_port
from emulators.process import Ports
from tests.design_contract import DESIGN_VARIABLES
from tests.integration.conftest import eventually

ROOT = Path(__file__).resolve().parent.parent

# Routes Telegram and the provider must reach from the internet (design §5); /metrics is the operator's.
PUBLIC_ROUTES = {"/telegram", "/callbacks/{token}", "/files/{token}", "/healthz"}
PRIVATE_ROUTES = {"/metrics"}

CADDY = shutil.which("caddy")
needs_caddy = pytest.mark.skipif(
    CADDY is None, reason="caddy is not installed (deploy/test-deploy.sh installs it: apt-get install caddy)"
)


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------


@dataclass
class Dockerfile:
    stages: list[list[tuple[str, str]]] = field(default_factory=list)

    @property
    def final(self) -> list[tuple[str, str]]:
        return self.stages[-1]

    def values(self, instruction: str, stage: list[tuple[str, str]] | None = None) -> list[str]:
        return [arg for name, arg in (stage if stage is not None else self.final) if name == instruction]

    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for arg in self.values("ENV"):
            for pair in shlex.split(arg):
                key, _, value = pair.partition("=")
                env[key] = value
        return env


def parse_dockerfile(text: str) -> Dockerfile:
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    parsed = Dockerfile()
    for line in lines:
        name, _, arg = line.partition(" ")
        name = name.upper()
        if name == "FROM":
            parsed.stages.append([])
        parsed.stages[-1].append((name, arg.strip()))
    return parsed


def exec_form(arg: str) -> list[str]:
    value = json.loads(arg)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), arg
    return value


def caddy_blocks(text: str) -> dict[str, str]:
    """Each top-level block's header mapped to its body (nested braces kept), comments dropped."""
    text = "\n".join(
        line.split("#", 1)[0] if not line.lstrip().startswith("#") else "" for line in text.splitlines()
    )
    blocks: dict[str, str] = {}
    i = 0
    while i < len(text):
        open_at = text.find("{", i)
        # `{$VAR}` placeholders are not blocks.
        while open_at != -1 and text.startswith("{$", open_at):
            open_at = text.find("{", text.index("}", open_at) + 1)
        if open_at == -1:
            break
        header = text[i:open_at].strip()
        depth, j = 0, open_at
        while j < len(text):
            if text[j] == "{" and not text.startswith("{$", j):
                depth += 1
            elif text[j] == "}" and not _closes_placeholder(text, j):
                depth -= 1
                if depth == 0:
                    break
            j += 1
        blocks[header] = text[open_at + 1 : j]
        i = j + 1
    return blocks


def _closes_placeholder(text: str, j: int) -> bool:
    start = text.rfind("{", 0, j)
    return start != -1 and text.startswith("{$", start) and "\n" not in text[start:j]


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f".env.example line without '=': {line!r}"
            values[key.strip()] = value.strip()
    return values


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile((ROOT / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def caddyfile() -> str:
    return (ROOT / "Caddyfile").read_text(encoding="utf-8")


def settings_aliases() -> dict[str, Any]:
    return {f.alias: f for f in Settings.model_fields.values() if f.alias}


def default_port() -> int:
    return int(settings_aliases()["PORT"].default)


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def healthcheck_url(command: str) -> str:
    match = re.search(r"https?://[^'\"\s]+", command)
    assert match, f"no URL in health check {command!r}"
    return match.group(0)


def bot_routes() -> set[str]:
    app = web.Application()
    setup_routes(app)
    return {resource.canonical for resource in app.router.resources()}


# --------------------------------------------------------------------------------------------------
# Configuration: design §3, Settings and .env.example
# --------------------------------------------------------------------------------------------------


def test_every_design_variable_is_a_setting_and_documented_in_env_example() -> None:
    aliases = settings_aliases()
    example = env_example()
    assert [v for v in DESIGN_VARIABLES if v not in aliases] == []
    assert [v for v in DESIGN_VARIABLES if v not in example] == []


def test_env_example_names_only_variables_the_bot_or_compose_reads() -> None:
    # PUBLIC_HOST and COMPOSE_PROFILES are read by docker compose (Caddy's host name, its profile).
    known = set(settings_aliases()) | {"PUBLIC_HOST", "COMPOSE_PROFILES"}
    assert [v for v in env_example() if v not in known] == []


def test_env_example_defaults_match_the_settings_defaults() -> None:
    aliases = settings_aliases()
    for name, value in env_example().items():
        if name not in aliases or value == "":
            continue
        default = aliases[name].default
        if isinstance(default, Path):
            assert PurePosixPath(value) == PurePosixPath(default), name
        elif isinstance(default, float):
            assert float(value) == default, name
        else:
            assert value == str(default), name


# --------------------------------------------------------------------------------------------------
# Dockerfile
# --------------------------------------------------------------------------------------------------


def test_dockerfile_builds_from_python_311_slim(dockerfile: Dockerfile) -> None:
    for stage in dockerfile.stages:
        image = dockerfile.values("FROM", stage)[0].split()[0]
        assert image == "python:3.11-slim"


def test_dockerfile_needs_no_buildkit_frontend() -> None:
    # A `# syntax=` line makes BuildKit fetch a frontend image first: no build where registries are out
    # of reach, and the legacy builder and podman need none.
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert not re.search(r"^#\s*syntax\s*=", text, flags=re.MULTILINE | re.IGNORECASE)


def test_dockerfile_installs_the_package_without_dev_extras(dockerfile: Dockerfile) -> None:
    runs = " ".join(arg for stage in dockerfile.stages for arg in dockerfile.values("RUN", stage))
    assert re.search(r"pip install (--\S+ )*\.(\s|$)", runs), runs
    assert "[dev]" not in runs and "-e " not in runs


def test_everything_the_dockerfile_copies_is_in_the_repository(dockerfile: Dockerfile) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    copied: list[str] = []
    for stage in dockerfile.stages:
        for arg in dockerfile.values("COPY", stage):
            if arg.startswith("--from"):
                continue
            *sources, _dest = arg.split()
            copied += sources
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= set(copied), "every package pyproject installs must be copied in"
    # pyproject's readme is read when the package is built: a missing one fails `pip install .`.
    assert pyproject["project"]["readme"] in copied
    missing = [source for source in copied if not (ROOT / source).exists()]
    assert missing == [], f"the Dockerfile copies files that do not exist: {missing}"


def test_dockerfile_runs_as_a_non_root_user(dockerfile: Dockerfile) -> None:
    users = dockerfile.values("USER")
    assert users, "no USER: the bot would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    names = [name for name, _ in dockerfile.final]
    assert names.index("USER") < names.index("CMD")


def test_dockerfile_paths_port_and_command(dockerfile: Dockerfile) -> None:
    env = dockerfile.env()
    assert dockerfile.values("WORKDIR")[-1] == "/app"
    assert env["DATA_DIR"] == "/data"
    assert env["DATABASE_PATH"] == "/data/bot.sqlite3"
    assert PurePosixPath(env["DATABASE_PATH"]).parent == PurePosixPath(env["DATA_DIR"])
    assert env.get("PORT", str(default_port())) == str(default_port())
    volumes = [
        v for arg in dockerfile.values("VOLUME") for v in (exec_form(arg) if "[" in arg else arg.split())
    ]
    assert volumes == [env["DATA_DIR"]]
    assert dockerfile.values("EXPOSE") == [str(default_port())]
    assert exec_form(dockerfile.values("CMD")[-1]) == ["python", "-m", "bot", "run"]


def test_the_data_volume_belongs_to_the_bot_user(dockerfile: Dockerfile) -> None:
    user = dockerfile.values("USER")[-1].split(":")[0]
    runs = " ".join(dockerfile.values("RUN"))
    assert re.search(rf"chown (-R )?{re.escape(user)}(:\S+)? .*/data", runs), runs
    names = [name for name, _ in dockerfile.final]
    # A VOLUME declared before the chown would freeze /data as root-owned in new volumes.
    assert names.index("RUN") < names.index("VOLUME")


def test_dockerfile_healthcheck_uses_python_on_healthz(dockerfile: Dockerfile) -> None:
    (check,) = dockerfile.values("HEALTHCHECK")
    options, _, command = check.partition("CMD ")
    argv = exec_form(command)
    assert argv[:2] == ["python", "-c"]
    assert "urllib" in argv[2] and "curl" not in check and "wget" not in check
    assert healthcheck_url(argv[2]) == f"http://127.0.0.1:{default_port()}/healthz"
    assert "--timeout=" in options


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git", ".env", "data", "demo-output", ".pytest_cache", ".ruff_cache"} <= ignored
    assert not {"bot", "handlers", "storage", "pyproject.toml", "README.md"} & ignored


# --------------------------------------------------------------------------------------------------
# docker-compose.yml
# --------------------------------------------------------------------------------------------------


def test_compose_bot_service(compose: dict[str, Any], dockerfile: Dockerfile) -> None:
    bot = compose["services"]["bot"]
    assert bot["build"] in (".", {"context": "."})
    env_files = bot["env_file"] if isinstance(bot["env_file"], list) else [bot["env_file"]]
    assert ".env" in [f if isinstance(f, str) else f["path"] for f in env_files]
    assert bot["restart"] == "unless-stopped"
    assert "ports" not in bot, "only Caddy is public: the bot's /metrics must not be published"
    env = compose_env(bot)
    image_env = dockerfile.env()
    assert env["DATA_DIR"] == image_env["DATA_DIR"]
    assert env["DATABASE_PATH"] == image_env["DATABASE_PATH"]
    assert env["PORT"] == str(default_port())
    assert env["HOST"] == "0.0.0.0"  # Caddy reaches the bot from another container


def test_compose_bot_data_volume_is_the_data_dir(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    env = compose_env(bot)
    mounts = dict(volume.rsplit(":", 1)[::-1] for volume in bot["volumes"])
    assert mounts[env["DATA_DIR"]] == "bot-data"
    assert PurePosixPath(env["DATABASE_PATH"]).is_relative_to(env["DATA_DIR"])
    assert "bot-data" in compose["volumes"]


def test_compose_bot_healthcheck_targets_healthz(compose: dict[str, Any]) -> None:
    test = compose["services"]["bot"]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1:3] == ["python", "-c"]
    assert "curl" not in test[3] and "urllib" in test[3]
    assert healthcheck_url(test[3]) == f"http://127.0.0.1:{default_port()}/healthz"


def test_compose_caddy_service(compose: dict[str, Any]) -> None:
    caddy = compose["services"]["caddy"]
    assert str(caddy["image"]).split(":")[0] == "caddy" and str(caddy["image"]).split(":")[1].startswith("2")
    assert set(caddy["ports"]) == {"80:80", "443:443", "443:443/udp"}
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert {"caddy-data:/data", "caddy-config:/config"} <= set(caddy["volumes"])
    assert {"caddy-data", "caddy-config"} <= set(compose["volumes"])
    depends = caddy["depends_on"]
    assert "bot" in (depends if isinstance(depends, list) else list(depends))
    assert "PUBLIC_HOST" in compose_env(caddy)
    # Caddy gets the host name only, never the bot's token and key.
    assert "env_file" not in caddy


def test_polling_mode_starts_the_bot_alone(compose: dict[str, Any]) -> None:
    # `docker compose up -d` without a profile: Caddy, which has no site without PUBLIC_HOST, stays down
    # instead of restarting forever; webhook mode asks for it with COMPOSE_PROFILES=https.
    started = [name for name, service in compose["services"].items() if not service.get("profiles")]
    assert started == ["bot"]
    assert compose["services"]["caddy"]["profiles"] == ["https"]


def test_only_caddy_publishes_ports(compose: dict[str, Any]) -> None:
    published = [name for name, service in compose["services"].items() if service.get("ports")]
    assert published == ["caddy"]


# --------------------------------------------------------------------------------------------------
# Caddyfile
# --------------------------------------------------------------------------------------------------


def test_caddy_serves_public_host_and_proxies_to_the_bot_service(
    caddyfile: str, compose: dict[str, Any]
) -> None:
    blocks = caddy_blocks(caddyfile)
    assert list(blocks) == ["{$PUBLIC_HOST}"], "one site block, its address from PUBLIC_HOST"
    site = blocks["{$PUBLIC_HOST}"]
    assert "tls internal" not in site and "auto_https off" not in caddyfile  # automatic HTTPS stays on
    upstreams = re.findall(r"reverse_proxy\s+(\S+)", site)
    assert upstreams == [f"bot:{default_port()}"]
    assert "bot" in compose["services"]


def test_caddy_forwards_the_public_routes_and_blocks_metrics(caddyfile: str) -> None:
    site = caddy_blocks(caddyfile)["{$PUBLIC_HOST}"]
    # Every route of the bot is either forwarded or blocked, so a new route is a conscious choice.
    routes = bot_routes()
    assert routes == PUBLIC_ROUTES | PRIVATE_ROUTES
    matcher = re.search(r"@public\s+path\s+([^\n]+)", site)
    assert matcher, "a named matcher @public lists the forwarded paths"
    forwarded = set(matcher.group(1).split())
    as_caddy = {re.sub(r"\{[^}]+\}$", "*", route) for route in PUBLIC_ROUTES}
    assert forwarded == as_caddy
    assert re.search(r"handle\s+@public\s*\{\s*reverse_proxy\s+bot:", site)
    assert not any(path.startswith("/metrics") for path in forwarded)
    assert re.search(r"handle\s+/metrics\*?\s*\{\s*respond\s+404\s*\}", site), "/metrics answers 404"
    # Everything else is refused rather than handed to the bot.
    assert re.search(r"handle\s*\{\s*respond\s+404\s*\}", site)


# --------------------------------------------------------------------------------------------------
# The Caddyfile run by Caddy itself (where it is installed)
# --------------------------------------------------------------------------------------------------


def caddy_env(home: Path, public_host: str) -> dict[str, str]:
    # Caddy keeps its CA and certificates under XDG_DATA_HOME: a folder of the test's, not root's home.
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "PUBLIC_HOST": public_host,
    }


@needs_caddy
def test_caddy_validates_the_shipped_caddyfile(tmp_path: Path) -> None:
    assert CADDY is not None
    result = subprocess.run(
        [CADDY, "validate", "--config", str(ROOT / "Caddyfile"), "--adapter", "caddyfile"],
        env=caddy_env(tmp_path, "bot.example.com"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


@needs_caddy
async def test_caddy_serves_https_and_forwards_only_the_public_routes(
    caddyfile: str, bot: RunningBot, tmp_path: Path
) -> None:
    assert CADDY is not None
    upstream = f"bot:{default_port()}"
    assert upstream in caddyfile
    http_port, https_port, admin_port = free_port(), free_port(), free_port()
    # The shipped site as it is, in front of the bot on loopback; the global block only moves Caddy to
    # free loopback ports with its own local CA, as on a machine with no public name.
    config = tmp_path / "Caddyfile"
    config.write_text(
        "{\n"
        f"\tadmin 127.0.0.1:{admin_port}\n"
        "\tdefault_bind 127.0.0.1\n"
        f"\thttp_port {http_port}\n"
        f"\thttps_port {https_port}\n"
        "\tlocal_certs\n"
        "\tskip_install_trust\n"
        "}\n" + caddyfile.replace(upstream, f"127.0.0.1:{bot.settings.port}"),
        encoding="utf-8",
    )
    root_cert = tmp_path / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    base = f"https://localhost:{https_port}"
    with (tmp_path / "caddy.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            CADDY,
            "run",
            "--config",
            str(config),
            "--adapter",
            "caddyfile",
            env=caddy_env(tmp_path, "localhost"),
            stdout=log,
            stderr=log,
        )
    try:
        await eventually(lambda: _exists(root_cert), timeout=30)
        trust = ssl.create_default_context(cafile=str(root_cert))
        connector = aiohttp.TCPConnector(ssl=trust, family=socket.AF_INET)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def answers() -> bool:
                try:
                    async with http.get(f"{base}/healthz") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(answers, timeout=30)

            async def fetch(method: str, path: str) -> tuple[int, str]:
                async with http.request(method, f"{base}{path}") as response:
                    return response.status, await response.text()

            # Refused by Caddy itself: an empty 404, though the bot serves /metrics.
            for path in ("/metrics", "/metrics/extra", "/", "/admin", "/telegramx"):
                assert await fetch("GET", path) == (404, ""), path
            async with http.get(f"{bot.url}/metrics") as direct:
                assert direct.status == 200
            # Forwarded: the bot's own answers to unsigned requests.
            assert await fetch("POST", "/telegram") == (403, "wrong secret token")
            assert await fetch("POST", "/callbacks/forged") == (403, "bad token")
            assert await fetch("GET", "/files/forged") == (403, "bad or expired link")
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), timeout=15)


async def _exists(path: Path) -> bool:
    return await asyncio.to_thread(path.exists)


# --------------------------------------------------------------------------------------------------
# The deployment test's own files (deploy/): they must test the shipped files, not others
# --------------------------------------------------------------------------------------------------


class _ComposeLoader(yaml.SafeLoader):
    """Compose's merge tags, read as their plain values."""


_ComposeLoader.add_constructor("!override", lambda loader, node: _plain(loader, node))
_ComposeLoader.add_constructor("!reset", lambda loader, node: None)


def _plain(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def deploy_override() -> dict[str, Any]:
    data = yaml.load((ROOT / "deploy" / "compose.test.yml").read_text(encoding="utf-8"), _ComposeLoader)
    assert isinstance(data, dict)
    return data


def test_the_deployment_test_publishes_on_loopback_only(deploy_override: dict[str, Any]) -> None:
    for name, service in deploy_override["services"].items():
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    # Caddy's ports replace the shipped ones instead of adding to them.
    raw = (ROOT / "deploy" / "compose.test.yml").read_text(encoding="utf-8")
    assert re.search(r"^    ports: !override$", raw, flags=re.MULTILINE)


def test_the_deployment_test_env_points_the_bot_at_the_emulators_service(
    deploy_override: dict[str, Any], compose: dict[str, Any]
) -> None:
    bot = deploy_override["services"]["bot"]
    assert bot["env_file"] == ["deploy/test.env"]
    env_file = ROOT / "deploy" / "test.env"
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    values = dict(
        line.split("=", 1) for line in env_file.read_text(encoding="utf-8").splitlines() if "=" in line
    )
    ports = Ports()
    assert settings.telegram_bot_token.get_secret_value() == EMULATOR_BOT_TOKEN
    assert settings.suno_api_key.get_secret_value() == EMULATOR_API_KEY
    assert settings.telegram_api_url == f"http://emulators:{ports.telegram}"
    assert settings.suno_api_url == settings.suno_upload_url == f"http://emulators:{ports.provider}"
    assert settings.public_url == f"https://{values['PUBLIC_HOST']}" == "https://localhost"
    # The profile the shipped compose file puts Caddy in, so `up` starts it as an operator's would.
    assert values["COMPOSE_PROFILES"] in compose["services"]["caddy"]["profiles"]
    emulators = deploy_override["services"]["emulators"]
    assert emulators["image"] == bot["image"], "the emulators run from the bot's own image"
    assert emulators["command"][:4] == ["python", "-m", "emulators", "serve"]


# --------------------------------------------------------------------------------------------------
# The health check command actually works against the real server
# --------------------------------------------------------------------------------------------------


async def run_python(code: str) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(process.wait(), timeout=30)


async def test_the_healthcheck_command_passes_against_the_running_bot(
    dockerfile: Dockerfile, bot: RunningBot
) -> None:
    (check,) = dockerfile.values("HEALTHCHECK")
    code = exec_form(check.partition("CMD ")[2])[2]
    assert await run_python(code.replace(f":{default_port()}/", f":{bot.settings.port}/")) == 0


async def test_the_healthcheck_command_fails_when_nothing_answers(dockerfile: Dockerfile) -> None:
    (check,) = dockerfile.values("HEALTHCHECK")
    code = exec_form(check.partition("CMD ")[2])[2]
    assert await run_python(code.replace(f":{default_port()}/", ":9/")) != 0


# --------------------------------------------------------------------------------------------------
# The operator's guide names only commands that exist
# --------------------------------------------------------------------------------------------------


def test_the_deploy_guide_names_existing_make_targets_and_cli_commands() -> None:
    guide = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, flags=re.MULTILINE))
    named = set(re.findall(r"\bmake ([a-z][a-z0-9-]*)", guide))
    assert named and named <= targets
    commands = set(re.findall(r"python -m bot ([a-z][a-z-]*[a-z])", guide))
    assert commands and commands <= {"run", "demo", "doctor", "migrate-to-postgres"}
    services = set(re.findall(r"docker compose (?:exec|logs -f|logs|up -d|restart) (?:-T )?([a-z]+)", guide))
    assert services <= {"bot", "caddy", "postgres"}  # bot-2 reads as bot
