"""The replicas' deployment files (docker-compose.replicas.yml, Caddyfile.replicas) agree with the
single-replica ones and with the bot, and Caddyfile.replicas balances for real: where Caddy is installed,
it runs in front of two bots on loopback, spreads requests over both, and keeps answering when one stops.
The whole stack (PostgreSQL, two replicas, Caddy, a killed replica) runs in deploy/test-deploy.sh.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot.settings import Settings
from emulators.harness import RunningBot, free_port
from tests.integration.conftest import eventually
from tests.test_deployment import (
    CADDY,
    ROOT,
    _ComposeLoader,
    _exists,
    caddy_blocks,
    caddy_env,
    compose_env,
    default_port,
    needs_caddy,
)

StartBot = Callable[[Settings], AbstractAsyncContextManager[RunningBot]]


@pytest.fixture(scope="module")
def replicas() -> dict[str, Any]:
    data = yaml.load((ROOT / "docker-compose.replicas.yml").read_text(encoding="utf-8"), _ComposeLoader)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def single() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def replica_names(replicas: dict[str, Any]) -> list[str]:
    return [name for name in replicas["services"] if name == "bot" or name.startswith("bot-")]


def upstreams(caddyfile: str) -> list[str]:
    site = caddy_blocks(caddyfile)["{$PUBLIC_HOST}"]
    match = re.search(r"reverse_proxy\s+([^{\n]+)\{", site)
    assert match, "one reverse_proxy with a block of options"
    return match.group(1).split()


def test_the_override_adds_replicas_on_one_database(replicas: dict[str, Any], single: dict[str, Any]) -> None:
    names = replica_names(replicas)
    assert len(names) >= 2 and names[0] == "bot", "bot (docker-compose.yml's) and at least one more"
    urls = set()
    for name in names:
        merged = {**single["services"].get(name, {}), **replicas["services"][name]}
        env = {**compose_env(single["services"]["bot"]), **compose_env(replicas["services"][name])}
        assert merged["env_file"] in (".env", [".env"]), f"{name} reads the same .env"
        assert "ports" not in merged, f"{name}: only Caddy is public"
        assert merged["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert env["HOST"] == "0.0.0.0" and env["PORT"] == str(default_port()), name
        urls.add(env["DATABASE_URL"])
    (url,) = urls  # one database for all of them
    assert re.fullmatch(
        r"postgresql://\$\{POSTGRES_USER:-\w+\}:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/"
        r"\$\{POSTGRES_DB:-\w+\}",
        url,
    ), url
    # One /data for all: the provider may fetch an upload (/files/{token}) from any replica.
    mounts = {
        tuple(replicas["services"][n].get("volumes") or single["services"][n]["volumes"]) for n in names
    }
    assert mounts == {("bot-data:/data",)}


def test_the_postgres_service(replicas: dict[str, Any]) -> None:
    postgres = replicas["services"]["postgres"]
    assert str(postgres["image"]).startswith("postgres:")
    env = compose_env(postgres)
    assert set(env) == {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
    assert "env_file" not in postgres, "the database gets its own variables, never the bot's token"
    assert "ports" not in postgres
    assert "postgres-data:/var/lib/postgresql/data" in postgres["volumes"]
    assert "postgres-data" in replicas["volumes"]
    test = postgres["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL" and test[1].startswith("pg_isready")


def test_caddy_balances_over_every_replica(replicas: dict[str, Any]) -> None:
    caddy = replicas["services"]["caddy"]
    assert "./Caddyfile.replicas:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert not any(v.endswith(":/etc/caddy/Caddyfile:ro") and "replicas" not in v for v in caddy["volumes"])
    assert set(caddy["depends_on"]) == set(replica_names(replicas))
    caddyfile = (ROOT / "Caddyfile.replicas").read_text(encoding="utf-8")
    assert upstreams(caddyfile) == [f"{name}:{default_port()}" for name in replica_names(replicas)]
    site = caddy_blocks(caddyfile)["{$PUBLIC_HOST}"]
    assert re.search(r"health_uri\s+/healthz\b", site), "active checks on the bot's health route"
    assert re.search(r"lb_policy\s+\w+", site)
    assert re.search(r"lb_try_duration\s+\d+s", site), "passive retries: a dead replica is skipped"


def test_the_replicas_caddyfile_forwards_what_the_single_one_does() -> None:
    def without_proxy(text: str) -> str:
        """The site with its reverse_proxy line (and that line's block, nested braces and all) cut out."""
        site = caddy_blocks(text)["{$PUBLIC_HOST}"]
        start = site.index("reverse_proxy")
        end = site.index("\n", start)
        if site[start:end].rstrip().endswith("{"):
            depth, end = 0, start
            while True:
                depth += {"{": 1, "}": -1}.get(site[end], 0)
                end += 1
                if depth == 0 and site[end - 1] == "}":
                    break
        return re.sub(r"\s+", " ", site[:start] + "reverse_proxy" + site[end:]).strip()

    single = (ROOT / "Caddyfile").read_text(encoding="utf-8")
    several = (ROOT / "Caddyfile.replicas").read_text(encoding="utf-8")
    assert without_proxy(several) == without_proxy(single)


def test_the_deployment_test_runs_the_shipped_replica_files() -> None:
    script = (ROOT / "deploy" / "test-deploy.sh").read_text(encoding="utf-8")
    assert '"$ROOT/docker-compose.replicas.yml"' in script
    assert "podman kill" in script
    override = yaml.load(
        (ROOT / "deploy" / "compose.replicas.test.yml").read_text(encoding="utf-8"), _ComposeLoader
    )
    # The test changes only which image and settings the second replica takes, as for the first.
    assert set(override["services"]) == {"bot-2"}
    assert set(override["services"]["bot-2"]) == {"image", "env_file"}


@needs_caddy
async def test_caddy_spreads_requests_over_replicas_and_skips_a_stopped_one(
    make_settings: Callable[..., Settings], start_bot: StartBot, tmp_path: Path
) -> None:
    assert CADDY is not None
    caddyfile = (ROOT / "Caddyfile.replicas").read_text(encoding="utf-8")
    first = make_settings()
    second = make_settings(
        PORT=free_port(), DATA_DIR=tmp_path / "second", DATABASE_PATH=tmp_path / "second" / "bot.sqlite3"
    )
    for name, settings in zip(upstreams(caddyfile), (first, second), strict=True):
        caddyfile = caddyfile.replace(name, f"127.0.0.1:{settings.port}")
    http_port, https_port, admin_port = free_port(), free_port(), free_port()
    config = tmp_path / "Caddyfile"
    config.write_text(
        "{\n"
        f"\tadmin 127.0.0.1:{admin_port}\n"
        "\tdefault_bind 127.0.0.1\n"
        f"\thttp_port {http_port}\n"
        f"\thttps_port {https_port}\n"
        "\tlocal_certs\n"
        "\tskip_install_trust\n"
        "}\n" + caddyfile,
        encoding="utf-8",
    )
    root_cert = tmp_path / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    base = f"https://localhost:{https_port}"
    async with AsyncExitStack() as stack:
        other = await stack.enter_async_context(start_bot(second))
        # A stack of its own, to be stopped half way; the outer one closes it if the test fails first.
        stoppable = await stack.enter_async_context(AsyncExitStack())
        one = await stoppable.enter_async_context(start_bot(first))
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
            connector = aiohttp.TCPConnector(ssl=trust, family=socket.AF_INET, force_close=True)
            async with aiohttp.ClientSession(connector=connector) as http:

                async def status(method: str, path: str) -> int:
                    try:
                        async with http.request(method, f"{base}{path}") as response:
                            return response.status
                    except aiohttp.ClientError:
                        return 0

                async def answers() -> bool:
                    return await status("GET", "/healthz") == 200

                await eventually(answers, timeout=30)
                # A forged callback is counted where it lands: both replicas must get some.
                for _ in range(6):
                    assert await status("POST", "/callbacks/forged") == 403
                for running in (one, other):
                    forged = running.services.metrics.callbacks.labels(result="forged")._value.get()
                    assert forged > 0, f"replica on port {running.settings.port} got no request"

                await stoppable.aclose()
                # At once, before any health check has seen it: every request still finds a replica.
                codes = [await status("GET", "/healthz") for _ in range(10)]
                assert codes == [200] * 10
        finally:
            if process.returncode is None:
                process.terminate()
            await asyncio.wait_for(process.wait(), timeout=15)
