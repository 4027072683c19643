"""Integrity checks for docker-compose.yaml, Dockerfile and .env.example.

There is no Docker engine where these tests run, so the deployment files are
checked statically: parsed with PyYAML, validated against the compose-spec JSON
schema (vendored in check-jsonschema, so it works offline), cross-checked with
requirements.lock, and, when a compose CLI is installed, run through
``docker-compose config``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
LOCK_FILE = ROOT / "requirements.lock"
ENV_EXAMPLE = ROOT / ".env.example"
PREFLIGHT_SCRIPT = ROOT / "docker" / "preflight.sh"
WAREHOUSE_INIT_DIR = ROOT / "docker" / "warehouse-init"
# Required, and empty in .env.example on purpose: `docker compose config` fails until it is generated.
GENERATED_BY_USER = {"AIRFLOW_FERNET_KEY"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET")

AIRFLOW_IMAGE = "dsrwatch-airflow:3.3.2"
AIRFLOW_COMMANDS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
}
AIRFLOW_SERVICES = {*AIRFLOW_COMMANDS, "airflow-init"}
REQUIRED_SERVICES = {*AIRFLOW_SERVICES, "postgres", "redis", "warehouse", "mailpit"}
LOCALHOST = "127.0.0.1"

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# $$ (literal dollar), ${...} or $NAME, as in the compose-spec interpolation rules.
_VAR_RE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED_RE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$", re.S)


class MissingVariable(LookupError):
    """A ``${VAR:?message}`` / ``${VAR?message}`` variable was not provided."""


def interpolate(value: str, env: dict[str, str]) -> str:
    """Resolve compose variable references in ``value`` using ``env``."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return env.get(match["named"], "")
        braced = _BRACED_RE.match(match["braced"])
        if braced is None:
            raise ValueError(f"invalid interpolation {match[0]!r}")
        name, op, arg = braced["name"], braced["op"], braced["arg"]
        current = env.get(name)
        is_set = current is not None
        is_nonempty = bool(current)
        if op is None:
            return current or ""
        present = is_nonempty if op.startswith(":") else is_set
        if op.endswith("-"):
            return current if present else arg
        if op.endswith("?"):
            if not present:
                raise MissingVariable(f"{name}: {arg}")
            return current
        return arg if present else ""  # ':+' / '+'

    return _VAR_RE.sub(replace, value)


def interpolate_tree(node: object, env: dict[str, str]) -> object:
    """Apply :func:`interpolate` to every string in a parsed YAML tree."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    return node


def referenced_variables(node: object) -> dict[str, str | None]:
    """Map each variable referenced in a parsed YAML tree to its operator (None if bare).

    Works on parsed values, not raw text: compose does not interpolate comments.
    """
    found: dict[str, str | None] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            for name, op in referenced_variables([key, value]).items():
                found.setdefault(name, op)
        return found
    if isinstance(node, list):
        for item in node:
            for name, op in referenced_variables(item).items():
                found.setdefault(name, op)
        return found
    if not isinstance(node, str):
        return found
    for match in _VAR_RE.finditer(node):
        if match["escaped"]:
            continue
        if match["named"]:
            found.setdefault(match["named"], None)
            continue
        braced = _BRACED_RE.match(match["braced"])
        assert braced is not None, f"invalid interpolation {match[0]!r}"
        found.setdefault(braced["name"], braced["op"])
    return found


def parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {raw!r}"
        values[key.strip()] = value.strip()
    return values


def as_dict(environment: object) -> dict[str, str]:
    """Compose allows environment as a mapping or a list of KEY=VALUE."""
    if isinstance(environment, dict):
        return {str(k): "" if v is None else str(v) for k, v in environment.items()}
    if isinstance(environment, list):
        return dict(str(item).partition("=")[::2] for item in environment)
    return {}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuations joined."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, args = line.strip().partition(" ")
            result.append((instruction.upper(), args.strip()))
    return result


def base_image() -> tuple[str, str]:
    froms = [args for instruction, args in dockerfile_instructions() if instruction == "FROM"]
    assert len(froms) == 1, f"expected a single-stage Dockerfile, got FROM lines {froms}"
    image = froms[0].split()[0]
    name, _, tag = image.partition(":")
    return name, tag


def locked_version(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)\s*$", LOCK_FILE.read_text(encoding="utf-8"), re.M)
    assert match, f"{package} is not pinned in {LOCK_FILE.name}"
    return match[1]


def check_jsonschema_command() -> list[str]:
    script = Path(sys.executable).with_name("check-jsonschema")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "check_jsonschema"]


def run_schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*check_jsonschema_command(), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def raw_compose(compose_text: str) -> dict:
    """The compose file as written (anchors/merge keys resolved, variables not)."""
    data = yaml.safe_load(compose_text)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE)


def fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def valid_env(example_env: dict[str, str]) -> dict[str, str]:
    """.env as a user writes it from .env.example: real secrets, a generated Fernet key."""
    import secrets

    env = {name: secrets.token_urlsafe(24) if value.startswith("change-me") else value
           for name, value in example_env.items()}  # fmt: skip
    env.update(dict.fromkeys(GENERATED_BY_USER, fernet_key()))
    return env


@pytest.fixture(scope="module")
def compose(raw_compose: dict, example_env: dict[str, str]) -> dict:
    """The compose file as docker compose would see it with .env copied from .env.example, plus the
    Fernet key the user must generate (the placeholders themselves are refused by `preflight`)."""
    return interpolate_tree(raw_compose, {**example_env, **dict.fromkeys(GENERATED_BY_USER, fernet_key())})


@pytest.fixture(scope="module")
def common_env(compose: dict) -> dict[str, str]:
    return as_dict(compose["x-airflow-common"]["environment"])


# ---------------------------------------------------------------------------
# Services and layout
# ---------------------------------------------------------------------------


def test_required_services_exist(compose: dict) -> None:
    missing = REQUIRED_SERVICES - set(compose["services"])
    assert not missing, f"missing services: {sorted(missing)}"


def test_airflow_services_use_common_image_and_commands(compose: dict) -> None:
    common = compose["x-airflow-common"]
    assert common["image"] == AIRFLOW_IMAGE
    build = common["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    assert Path(ROOT, context).resolve() == ROOT, "x-airflow-common must build from the local Dockerfile"
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        assert service["image"] == AIRFLOW_IMAGE, name
        assert service.get("build") == build, name
    for name, command in AIRFLOW_COMMANDS.items():
        assert compose["services"][name]["command"] == command, name


def test_common_volumes_mount_project_dirs(compose: dict) -> None:
    targets = {}
    for volume in compose["x-airflow-common"]["volumes"]:
        source, target = volume.split(":")[:2]
        targets[target] = source
    for directory in ("dags", "plugins", "sql", "logs"):
        assert targets.get(f"/opt/airflow/{directory}") == f"./{directory}", directory
    # Runtime state must live on a mount so every container sees the same files.
    data_dir = as_dict(compose["x-airflow-common"]["environment"])["DSR_DATA_DIR"]
    assert data_dir in targets, f"DSR_DATA_DIR={data_dir} is not a mounted directory"


def test_executor_is_celery_everywhere(compose: dict, common_env: dict[str, str]) -> None:
    assert common_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert urlsplit(common_env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
    assert urlsplit(common_env["AIRFLOW__CELERY__RESULT_BACKEND"]).hostname == "postgres"
    assert common_env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"
    for name in AIRFLOW_SERVICES:
        env = as_dict(compose["services"][name]["environment"])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name


def test_common_env_is_shared_across_airflow_services(compose: dict, common_env: dict[str, str]) -> None:
    # Services that override `environment` must still merge the whole common block.
    for name in AIRFLOW_SERVICES:
        env = as_dict(compose["services"][name]["environment"])
        differing = {key for key, value in common_env.items() if env.get(key) != value}
        assert not differing, f"{name} does not carry common settings {sorted(differing)}"


def test_airflow_components_share_signing_secrets(raw_compose: dict) -> None:
    env = as_dict(raw_compose["x-airflow-common"]["environment"])
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        assert key in env, f"{key} must be shared by all Airflow containers"
        assert "${" in env[key], f"{key} must come from a variable"


# ---------------------------------------------------------------------------
# Network exposure
# ---------------------------------------------------------------------------


def _published_ports(service: dict) -> list[object]:
    return list(service.get("ports") or [])


def test_every_published_port_binds_to_localhost(raw_compose: dict, compose: dict) -> None:
    for name, service in compose["services"].items():
        assert service.get("network_mode") != "host", f"{name} uses host networking"
        raw_ports = _published_ports(raw_compose["services"][name])
        for raw, port in zip(raw_ports, _published_ports(service), strict=True):
            if isinstance(port, dict):  # long syntax
                assert port.get("host_ip") == LOCALHOST, f"{name}: {port} must set host_ip {LOCALHOST}"
                assert port.get("published"), f"{name}: {port} must pin a host port"
                continue
            # Short syntax: the literal file must start with the address, so no
            # variable can widen the binding.
            assert isinstance(raw, str) and raw.startswith(f"{LOCALHOST}:"), (
                f'{name}: port {raw!r} must be written "{LOCALHOST}:HOST:CONTAINER"'
            )
            parts = str(port).split(":")
            assert len(parts) == 3 and parts[0] == LOCALHOST and parts[1], f"{name}: {port!r}"


def test_expected_ports_only(compose: dict) -> None:
    def container_ports(name: str) -> set[str]:
        ports = set()
        for port in _published_ports(compose["services"][name]):
            target = port["target"] if isinstance(port, dict) else str(port).rsplit(":", 1)[-1]
            ports.add(str(target).split("/")[0])
        return ports

    assert container_ports("airflow-apiserver") == {"8080"}
    assert container_ports("mailpit") == {"8025"}, "only Mailpit's web UI may be published, not SMTP"
    assert container_ports("warehouse") == {"5432"}
    for name in ("postgres", "redis", *(AIRFLOW_SERVICES - {"airflow-apiserver"})):
        assert not container_ports(name), f"{name} must not publish ports"


def test_default_host_ports(raw_compose: dict) -> None:
    empty = interpolate_tree(raw_compose["services"]["airflow-apiserver"]["ports"], {})
    assert empty == [f"{LOCALHOST}:8080:8080"]
    assert interpolate_tree(raw_compose["services"]["mailpit"]["ports"], {}) == [f"{LOCALHOST}:8025:8025"]


# ---------------------------------------------------------------------------
# Databases, mail and DSR Watch settings
# ---------------------------------------------------------------------------


def test_warehouse_is_separate_from_metadata_db(compose: dict, common_env: dict[str, str]) -> None:
    metadata = urlsplit(common_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    warehouse = urlsplit(common_env["DSR_WAREHOUSE_URL"])

    assert warehouse.scheme.startswith("postgresql")
    assert warehouse.hostname == "warehouse"
    assert (warehouse.port or 5432) == 5432
    assert warehouse.username == "dsr"
    assert warehouse.path == "/dsrwatch"
    assert metadata.hostname == "postgres"
    assert (metadata.hostname, metadata.path) != (warehouse.hostname, warehouse.path)

    services = compose["services"]
    meta_env = as_dict(services["postgres"]["environment"])
    wh_env = as_dict(services["warehouse"]["environment"])
    assert wh_env["POSTGRES_DB"] == "dsrwatch" != meta_env["POSTGRES_DB"]
    # dsr is created by docker/warehouse-init, not as the image's superuser (POSTGRES_USER)
    assert wh_env["POSTGRES_USER"] != "dsr"
    assert wh_env["DSR_WAREHOUSE_PASSWORD"] == warehouse.password != wh_env["POSTGRES_PASSWORD"]
    assert meta_env["POSTGRES_PASSWORD"] == metadata.password
    assert services["warehouse"]["image"].startswith("postgres:16")
    assert services["postgres"]["image"].startswith("postgres:16")

    def data_volume(name: str) -> str:
        return next(
            v.split(":")[0] for v in services[name]["volumes"] if v.endswith("/var/lib/postgresql/data")
        )

    assert data_volume("warehouse") != data_volume("postgres")
    assert {data_volume("warehouse"), data_volume("postgres")} <= set(compose.get("volumes") or {})


def test_dsr_settings_in_common_env(common_env: dict[str, str]) -> None:
    for key in (
        "DSR_WAREHOUSE_URL",
        "AIRFLOW_CONN_SMTP_DEFAULT",
        "DSR_ALERT_TO",
        "DSR_REPLAY_DIR",
        "DSR_RECORD_DIR",
    ):
        assert key in common_env, key
    assert common_env["DSR_ALERT_TO"], "DSR_ALERT_TO needs a default recipient"


def test_smtp_connection_points_at_mailpit_in_plain_smtp(common_env: dict[str, str]) -> None:
    uri = urlsplit(common_env["AIRFLOW_CONN_SMTP_DEFAULT"])
    assert (uri.scheme, uri.hostname, uri.port) == ("smtp", "mailpit", 1025)
    extras = {key: values[-1] for key, values in parse_qs(uri.query).items()}
    # The smtp provider defaults to SMTP_SSL and STARTTLS; Mailpit offers neither.
    assert extras.get("disable_ssl") == "true"
    assert extras.get("disable_tls") == "true"


def test_smtp_connection_sends_to_plain_smtp_server(common_env: dict[str, str], tmp_path: Path) -> None:
    """Send a real message with Airflow's SmtpHook to a local plain SMTP server
    (standing in for Mailpit), using the compose connection URI."""
    script = textwrap.dedent(
        """
        import os
        import socket
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Sink

        class Handler(Sink):
            messages = []
            async def handle_DATA(self, server, session, envelope):
                self.messages.append(envelope)
                return "250 OK"

        with socket.socket() as probe:  # aiosmtpd cannot listen on port 0
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        handler = Handler()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            uri = os.environ["COMPOSE_SMTP_URI"].replace("//mailpit:1025", f"//127.0.0.1:{port}", 1)
            assert uri != os.environ["COMPOSE_SMTP_URI"], uri
            os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = uri
            from airflow.providers.smtp.hooks.smtp import SmtpHook
            with SmtpHook(smtp_conn_id="smtp_default") as hook:
                hook.send_email_smtp(to="alerts@example.org", subject="dsr", html_content="<p>x</p>")
        finally:
            controller.stop()
        assert len(handler.messages) == 1, handler.messages
        print("sent-ok")
        """
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "COMPOSE_SMTP_URI": common_env["AIRFLOW_CONN_SMTP_DEFAULT"],
    }
    env.pop("AIRFLOW_CONN_SMTP_DEFAULT", None)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=180, check=False
    )
    assert result.returncode == 0 and "sent-ok" in result.stdout, result.stdout + result.stderr


# ---------------------------------------------------------------------------
# Start-up ordering and init
# ---------------------------------------------------------------------------


def test_depends_on_uses_health_conditions(compose: dict) -> None:
    services = compose["services"]
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert isinstance(depends, dict), f"{name}: depends_on must use conditions"
        for backing in ("postgres", "redis", "warehouse"):
            assert depends[backing]["condition"] == "service_healthy", f"{name} -> {backing}"
        if name != "airflow-init":
            assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    # Every service waited on as healthy must define a healthcheck.
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            if spec.get("condition") == "service_healthy":
                assert services[dependency].get("healthcheck", {}).get("test"), (
                    f"{name} waits on {dependency}"
                )
    for name in ("postgres", "redis", "warehouse", "mailpit", *AIRFLOW_COMMANDS):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_airflow_init_migrates_and_creates_admin(raw_compose: dict) -> None:
    init = raw_compose["services"]["airflow-init"]
    env = as_dict(init["environment"])
    assert env["_AIRFLOW_DB_MIGRATE"] == "true"  # the image entrypoint runs `airflow db migrate`
    assert env["_AIRFLOW_WWW_USER_CREATE"] == "true"
    assert "${" in env["_AIRFLOW_WWW_USER_USERNAME"]
    assert env["_AIRFLOW_WWW_USER_PASSWORD"].startswith("${AIRFLOW_ADMIN_PASSWORD:?")
    script = "\n".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert "mkdir" in script
    assert "/entrypoint" in script, "the image entrypoint performs the migration and user creation"
    assert init.get("restart") in (None, "no"), "airflow-init is one-shot"


# ---------------------------------------------------------------------------
# Variables and secrets
# ---------------------------------------------------------------------------


def test_passwords_come_from_variables(raw_compose: dict) -> None:
    services = raw_compose["services"]
    for name in ("postgres", "warehouse"):
        value = as_dict(services[name]["environment"])["POSTGRES_PASSWORD"]
        assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", value), (
            f"{name}: POSTGRES_PASSWORD must be ${{VAR:?...}}"
        )
    env = as_dict(raw_compose["x-airflow-common"]["environment"])
    for key in (
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "DSR_WAREHOUSE_URL",
    ):
        # Not urlsplit: the '?' of ${VAR:?message} would end the netloc.
        userinfo = re.match(r"^[a-z0-9+]+://(?P<user>[^:@/]+):(?P<password>.*)@[^@]+$", env[key])
        assert userinfo, f"{key}: no user:password in {env[key]!r}"
        assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", userinfo["password"]), (
            f"{key} embeds a literal password"
        )


def test_required_variables_are_enforced(raw_compose: dict) -> None:
    with pytest.raises(MissingVariable):
        interpolate_tree(raw_compose, {})


def test_env_example_documents_every_variable(raw_compose: dict, example_env: dict[str, str]) -> None:
    referenced = referenced_variables(raw_compose)
    undocumented = set(referenced) - set(example_env)
    assert not undocumented, f".env.example lacks {sorted(undocumented)}"
    unused = set(example_env) - set(referenced)
    assert not unused, f".env.example documents variables compose never uses: {sorted(unused)}"
    for name, op in referenced.items():
        if op in (":?", "?") and name not in GENERATED_BY_USER:
            assert example_env[name], f"required variable {name} needs a placeholder in .env.example"
    for name in GENERATED_BY_USER:
        assert referenced[name] == ":?" and example_env[name] == "", f"{name}: required, and empty in .env.example"


def test_env_example_has_only_placeholder_secrets(example_env: dict[str, str]) -> None:
    for name, value in example_env.items():
        if re.search(r"PASSWORD|SECRET", name):
            assert value.startswith("change-me"), f"{name} in .env.example must be an obvious placeholder"
    assert example_env.get("AIRFLOW_FERNET_KEY", "") == ""


# ---------------------------------------------------------------------------
# Dockerfile and lock file
# ---------------------------------------------------------------------------


def test_dockerfile_base_image() -> None:
    name, tag = base_image()
    assert name == "apache/airflow"
    assert re.fullmatch(r"3\.3\.2(-python3\.\d+)?", tag), tag


def test_base_image_matches_locked_airflow() -> None:
    _, tag = base_image()
    image_version = tag.split("-", 1)[0]
    assert locked_version("apache-airflow") == image_version
    assert locked_version("apache-airflow-core") == image_version
    assert AIRFLOW_IMAGE.rsplit(":", 1)[1] == image_version


def test_base_image_python_matches_lock() -> None:
    _, tag = base_image()
    header = re.search(r"uv pip compile .*?-p\s*(\d+\.\d+)", LOCK_FILE.read_text(encoding="utf-8"))
    assert header, "requirements.lock header does not record the target Python (-p X.Y)"
    match = re.search(r"-python(\d+\.\d+)$", tag)
    assert match, f"tag {tag!r} uses the image's default Python; pin -python{header[1]} to match the lock"
    assert match[1] == header[1]


def test_dockerfile_installs_lock_as_airflow_user() -> None:
    instructions = dockerfile_instructions()
    user = "root"
    copied_lock = False
    installed = False
    for instruction, args in instructions:
        if instruction == "USER":
            user = args.split(":")[0]
        elif instruction == "COPY" and "requirements.lock" in args:
            copied_lock = True
        elif instruction == "RUN" and re.search(r"\bpip install\b", args):
            assert re.search(r"pip install --no-cache-dir -r \S*requirements\.lock\b", args), args
            assert "--no-deps" not in args
            assert copied_lock, "requirements.lock must be copied before it is installed"
            assert user == "airflow", "the official image only allows pip install as the airflow user"
            installed = True
    assert installed, "Dockerfile does not pip install requirements.lock"


def test_dockerfile_copies_project_code() -> None:
    copies = [args.split() for instruction, args in dockerfile_instructions() if instruction == "COPY"]
    destinations = {}
    for parts in copies:
        paths = [p for p in parts if not p.startswith("--")]
        for source in paths[:-1]:
            destinations[source.rstrip("/")] = paths[-1].rstrip("/")
    for directory in ("dags", "plugins", "sql"):
        assert destinations.get(directory) == f"/opt/airflow/{directory}", directory


# ---------------------------------------------------------------------------
# Compose-spec schema and compose CLI
# ---------------------------------------------------------------------------


def test_compose_file_matches_compose_spec_schema() -> None:
    result = run_schema_check(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("description", "mutate"),
    [
        ("unknown top-level key", lambda data: data.update(bogus_top_level_key={"a": 1})),
        ("ports is not a list", lambda data: data["services"]["warehouse"].update(ports=5432)),
        ("unknown service key", lambda data: data["services"]["redis"].update(imagee="redis")),
    ],
)
def test_schema_check_rejects_broken_compose(
    tmp_path: Path, description: str, mutate: Callable[[dict], None]
) -> None:
    broken = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    mutate(broken)
    path = tmp_path / "docker-compose.yaml"
    path.write_text(yaml.safe_dump(broken, sort_keys=False), encoding="utf-8")
    result = run_schema_check(path)
    assert result.returncode != 0, f"schema check accepted a compose file with {description}"
    assert "validation" in (result.stdout + result.stderr).lower()


def _compose_cli() -> list[str] | None:
    binary = shutil.which("docker-compose")
    if binary:
        return [binary]
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    return None


def _compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    cli = _compose_cli()
    if cli is None:
        pytest.skip(
            "neither `docker-compose` nor the `docker compose` plugin is installed; schema check only"
        )
    # Validate with the given env file only; ignore any developer .env or shell values.
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "TMPDIR", "LANG")}
    return subprocess.run(
        [*cli, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


def _write_env_file(path: Path, env: dict[str, str]) -> Path:
    path.write_text("".join(f"{name}={value}\n" for name, value in env.items()), encoding="utf-8")
    return path


def test_docker_compose_config(tmp_path: Path, valid_env: dict[str, str]) -> None:
    result = _compose_config(_write_env_file(tmp_path / ".env", valid_env))
    assert result.returncode == 0, result.stdout + result.stderr


def test_docker_compose_config_refuses_the_example_env() -> None:
    """.env.example as it is: no Fernet key, so compose stops before creating anything."""
    result = _compose_config(ENV_EXAMPLE)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "AIRFLOW_FERNET_KEY" in result.stdout + result.stderr


# ---------------------------------------------------------------------------
# Preflight: no placeholder secret reaches a database or Airflow
# ---------------------------------------------------------------------------


def run_preflight(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(PREFLIGHT_SCRIPT)], env={"PATH": os.environ["PATH"], **env},
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip


def test_preflight_receives_every_secret(raw_compose: dict) -> None:
    preflight = raw_compose["services"]["preflight"]
    checked = set(as_dict(preflight["environment"]))
    secrets_used = {name for name in referenced_variables(raw_compose) if SECRET_NAME.search(name)}
    assert secrets_used and checked == secrets_used, "preflight must check every secret compose uses"
    for name, value in as_dict(preflight["environment"]).items():
        assert value.startswith(f"${{{name}:?"), f"preflight: {name} must be passed as ${{{name}:?...}}"
    source = next(v.split(":")[0] for v in preflight["volumes"] if v.split(":")[1] == "/preflight.sh")
    assert (ROOT / source).resolve() == PREFLIGHT_SCRIPT
    assert preflight["entrypoint"][-1] == "/preflight.sh" and preflight.get("restart") in (None, "no")


def test_everything_with_secrets_waits_for_preflight(compose: dict) -> None:
    services = compose["services"]
    for name in ("postgres", "warehouse", *AIRFLOW_SERVICES):
        depends = services[name].get("depends_on") or {}
        assert depends.get("preflight", {}).get("condition") == "service_completed_successfully", name


def test_preflight_refuses_placeholders(example_env: dict[str, str], valid_env: dict[str, str]) -> None:
    secrets_only = {name: value for name, value in example_env.items() if SECRET_NAME.search(name)}
    placeholders = {name for name, value in secrets_only.items() if value.startswith("change-me")}
    assert placeholders
    result = run_preflight({**secrets_only, "AIRFLOW_FERNET_KEY": fernet_key()})
    assert result.returncode != 0
    for name in placeholders:
        assert f"{name} is still the placeholder" in result.stderr, result.stderr
    # one placeholder left is enough
    valid_secrets = {name: valid_env[name] for name in secrets_only}
    name = sorted(placeholders)[0]
    one_left = run_preflight({**valid_secrets, name: "change-me-later"})
    assert one_left.returncode != 0 and name in one_left.stderr
    assert "change-me-later" not in one_left.stdout + one_left.stderr, "preflight must not print values"


def test_preflight_checks_fernet_key_and_url_safe_passwords(valid_env: dict[str, str]) -> None:
    valid_secrets = {name: value for name, value in valid_env.items() if SECRET_NAME.search(name)}
    ok = run_preflight(valid_secrets)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for name, bad in (("AIRFLOW_FERNET_KEY", "not-a-fernet-key"), ("AIRFLOW_FERNET_KEY", ""),
                      ("DSR_WAREHOUSE_PASSWORD", "p@ss/word"), ("AIRFLOW_DB_PASSWORD", "a:b")):  # fmt: skip
        result = run_preflight({**valid_secrets, name: bad})
        assert result.returncode != 0 and name in result.stderr, (name, bad, result.stderr)


def test_warehouse_pipeline_user_is_not_superuser(raw_compose: dict, compose: dict) -> None:
    """The image's superuser is `postgres`; dsr (DSR_WAREHOUSE_URL) comes from docker/warehouse-init."""
    warehouse = compose["services"]["warehouse"]
    env = as_dict(warehouse["environment"])
    assert env["POSTGRES_USER"] == "postgres" and env["POSTGRES_DB"] == "dsrwatch"
    raw_env = as_dict(raw_compose["services"]["warehouse"]["environment"])
    assert raw_env["POSTGRES_PASSWORD"].startswith("${DSR_WAREHOUSE_ADMIN_PASSWORD:?")
    assert raw_env["DSR_WAREHOUSE_PASSWORD"].startswith("${DSR_WAREHOUSE_PASSWORD:?")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in warehouse["volumes"]}
    assert (ROOT / mounts["/docker-entrypoint-initdb.d"]).resolve() == WAREHOUSE_INIT_DIR
    assert all(v.endswith(":ro") for v in warehouse["volumes"] if not v.endswith("/var/lib/postgresql/data"))
    scripts = sorted(WAREHOUSE_INIT_DIR.iterdir())
    assert scripts and all(p.suffix in (".sh", ".sql") for p in scripts)
    init = "\n".join(p.read_text(encoding="utf-8") for p in scripts)
    assert re.search(r"CREATE ROLE dsr LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE", init)
    assert re.search(r"ALTER DATABASE .* OWNER TO dsr", init)
    # the hardening file the init script runs is mounted where it looks for it
    default = re.search(r"DSR_ROLE_HARDENING_SQL:-(?P<path>[^}]+)\}", init)["path"]
    assert (ROOT / mounts[default]).resolve() == ROOT / "sql" / "migrations" / "0007_role_hardening.sql"
    # healthy only once initialisation is over (the init server listens on its socket only)
    assert warehouse["healthcheck"]["test"][1:4] == ["pg_isready", "-h", "127.0.0.1"]


def test_fernet_key_is_required(raw_compose: dict) -> None:
    env = as_dict(raw_compose["x-airflow-common"]["environment"])
    assert env["AIRFLOW__CORE__FERNET_KEY"].startswith("${AIRFLOW_FERNET_KEY:?")
