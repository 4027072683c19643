"""The CLI keeps secrets to itself: psql gets the password outside its argv, `make up` binds 127.0.0.1
and keeps the admin password file private, and no log record shows a secret at any level."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dsrwatch import cli, config

PLUGINS = str(config.PROJECT_ROOT / "plugins")


# --- make psql ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "postgresql://dsr:s3cr%40t-pw@warehouse.example:5433/dsrwatch?sslmode=require",
    "host=warehouse.example port=5433 dbname=dsrwatch user=dsr password='s3cr@t-pw' sslmode=require",
])  # fmt: skip
def test_psql_gets_the_password_in_its_environment_not_argv(url, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    argv, env = cli.psql_invocation(url, ["-c", "SELECT 1"])
    assert argv[0] == "psql" and argv[-2:] == ["-c", "SELECT 1"]
    assert not any("s3cr" in arg for arg in argv), argv
    assert env["PGPASSWORD"] == "s3cr@t-pw"
    import psycopg.conninfo

    params = psycopg.conninfo.conninfo_to_dict(argv[1])
    assert params == {"host": "warehouse.example", "port": "5433", "dbname": "dsrwatch", "user": "dsr",
                      "sslmode": "require"}  # fmt: skip


def test_psql_without_a_password_keeps_the_users_environment(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "from-the-user")
    argv, env = cli.psql_invocation("postgresql://postgres:@/dsrwatch?host=%2Ftmp%2Fwh", [])
    assert env["PGPASSWORD"] == "from-the-user" and "from-the-user" not in " ".join(argv)
    assert "host=/tmp/wh" in argv[1]


@pytest.mark.skipif(not shutil.which("psql"), reason="psql is not installed")
def test_psql_connects_with_what_the_cli_builds():
    """The built conninfo and environment work for the real psql (the test server trusts 127.0.0.1)."""
    url = os.environ.get("DSR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.OperationalError:
        pytest.skip(f"no PostgreSQL at {url}")
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["password"] = "never-on-the-command-line"
    argv, env = cli.psql_invocation(psycopg.conninfo.make_conninfo(**params), ["-XAtc", "SELECT 42"])
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0 and result.stdout.strip() == "42", result.stderr


# --- make up --------------------------------------------------------------------------------------------
@pytest.fixture
def airflow_home(tmp_path):
    """A private AIRFLOW_HOME; os.environ is restored afterwards (``up`` sets Airflow's variables in it)."""
    saved = dict(os.environ)
    home = tmp_path / "airflow"
    home.mkdir()
    os.environ["AIRFLOW_HOME"] = str(home)
    for name in ("DSR_UI_HOST", "AIRFLOW__API__HOST", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
                 "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):  # fmt: skip
        os.environ.pop(name, None)
    yield home
    os.environ.clear()
    os.environ.update(saved)


def api_server_host(env: dict[str, str]) -> str:
    """The host `airflow api-server` (started by standalone) binds, as Airflow itself reads it."""
    script = "from airflow.cli.cli_config import ARG_API_SERVER_HOSTNAME as a; print(a.kwargs['default'])"
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def test_up_binds_localhost_unless_dsr_ui_host_says_otherwise(airflow_home):
    os.environ["AIRFLOW__API__HOST"] = "0.0.0.0"  # inherited from a shell: DSR_UI_HOST decides
    argv, options = cli.standalone_launch()
    assert argv == ["airflow", "standalone"] and options["start_new_session"]
    assert os.environ["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert api_server_host(dict(os.environ)) == "127.0.0.1"
    os.environ["DSR_UI_HOST"] = "0.0.0.0"
    cli.standalone_launch()
    assert os.environ["AIRFLOW__API__HOST"] == "0.0.0.0"


def test_up_keeps_the_admin_password_file_private(airflow_home):
    stale = airflow_home / "simple_auth_manager_passwords.json.generated"
    stale.write_text('{"admin": "from-an-earlier-start"}\n')
    stale.chmod(0o644)
    argv, options = cli.standalone_launch()
    assert stat.S_IMODE(stale.stat().st_mode) == 0o600
    assert options["umask"] == 0o077
    stale.unlink()
    # what standalone does first (find_user_info -> auth manager init), launched as `up` launches it
    script = textwrap.dedent("""
        from airflow.api_fastapi.app import create_auth_manager
        manager = create_auth_manager()
        manager.init()
        print(manager.get_generated_password_file())
    """)
    env = {**os.environ, "AIRFLOW__CORE__AUTH_MANAGER":
           "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                            check=False, **options)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    created = Path(result.stdout.strip().splitlines()[-1])
    assert created == stale and "admin" in json.loads(created.read_text())
    assert stat.S_IMODE(created.stat().st_mode) == 0o600


# --- logging ----------------------------------------------------------------------------------------
SECRETS = {
    "peeringdb": "pdb-KEY-9f8e7d6c5b4a",
    "smtp": "smtp-PW-1a2b3c4d",
    "warehouse": "wh-PW-5e6f7a8b",
}

LOGGING_SCRIPT = """
import logging, logging.config, smtplib, sys, threading, http.server
import requests
from dsrwatch import cli

cli.configure_logging()

class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", 0), Answer)
threading.Thread(target=server.serve_forever, daemon=True).start()
key, smtp_pw, wh_pw = sys.argv[1:4]
url = f"http://127.0.0.1:{server.server_port}/api/fac"

def log_everything(tag):
    headers = {"Authorization": f"Api-Key {key}", "User-Agent": "dsr"}
    # real requests/urllib3 DEBUG records, with the key in the query string too
    requests.get(url, params={"key": key}, headers=headers, timeout=10)
    logging.getLogger("dsrwatch.fetching").debug("GET %s headers=%s", url, headers)
    logging.getLogger("urllib3.connectionpool").debug("send: %r", f"Authorization: Api-Key {key}".encode())
    logging.getLogger("smtplib").debug("send: %r", "AUTH PLAIN " + __import__("base64").b64encode(
        f"\\0mailer\\0{smtp_pw}".encode()).decode())
    logging.getLogger("airflow.models.connection").debug(
        "Connection Retrieved %s", f"smtp://mailer:{smtp_pw}@mail.example:587?from_email=a%40b")
    logging.getLogger("airflow.hooks").info("conn %s", {"conn_id": "peeringdb", "password": key})
    try:
        raise ConnectionError(f"cannot reach postgresql://dsr:{wh_pw}@warehouse:5432/dsrwatch")
    except ConnectionError:
        logging.getLogger("dsrwatch.pipeline").exception("%s: load failed", tag)
    logging.getLogger("dsrwatch.cli").warning("%s done", tag)

log_everything("basicConfig")
# Airflow replaces the root handlers when dag.test() configures logging: still masked
from airflow.logging_config import configure_logging
configure_logging()
logging.getLogger().setLevel(logging.DEBUG)
log_everything("airflow")
# Airflow's own structlog loggers, e.g. the in-process supervisor of dag.test() at DEBUG
import structlog
from airflow.sdk.execution_time.comms import MaskSecret
structlog.get_logger().debug("Sending request", msg=MaskSecret(value=key))
structlog.get_logger(logger_name="task").info("connection", password=smtp_pw, uri=f"postgresql://dsr:{wh_pw}@wh/db")
try:
    raise RuntimeError(f"smtp login failed with {smtp_pw}")
except RuntimeError:
    structlog.get_logger(logger_name="task").exception("structlog done")
server.shutdown()
"""


def test_secrets_never_reach_the_log_at_debug(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "DSR_"))},
        "PYTHONPATH": PLUGINS,
        "DSR_LOG_LEVEL": "DEBUG",
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
        "AIRFLOW_CONN_PEERINGDB": json.dumps({"conn_type": "generic", "password": SECRETS["peeringdb"]}),
        "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://mailer:{SECRETS['smtp']}@mail.example:587?disable_ssl=true",
        "DSR_WAREHOUSE_URL": f"postgresql://dsr:{SECRETS['warehouse']}@warehouse:5432/dsrwatch",
        "NO_COLOR": "1",
    }
    result = subprocess.run([sys.executable, "-c", LOGGING_SCRIPT, *SECRETS.values()], env=env, capture_output=True,
                            text=True, timeout=180, check=False)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    # the records were written, at DEBUG, through both configurations
    assert "basicConfig done" in output and "airflow done" in output and "structlog done" in output, output[-3000:]
    assert "MaskSecret(value='***'" in output and "RuntimeError: smtp login failed with ***" in output
    assert "Starting new HTTP connection" in output and "/api/fac?key=***" in output, output[-3000:]
    assert "Api-Key ***" in output and "ConnectionError" in output and "dsr:***@warehouse" in output
    for name, secret in SECRETS.items():
        for form in (secret, base64.b64encode(secret.encode()).decode()):
            assert form not in output, f"the {name} secret is in the log output"
    smtp_auth = base64.b64encode(f"\0mailer\0{SECRETS['smtp']}".encode()).decode()
    assert smtp_auth not in output


def test_secret_filter_masks_shapes_and_known_values():
    from dsrwatch.redaction import SecretFilter, secrets_from_environment

    found = secrets_from_environment({
        "DSR_WAREHOUSE_URL": "postgresql://dsr:p%40ss-word-1@h/db",
        "AIRFLOW_CONN_PEERINGDB": '{"conn_type": "generic", "password": "k-123456"}',
        "AIRFLOW_CONN_SMTP_DEFAULT": "smtp://u:smtp-pw-9@mail:25",
        "AIRFLOW__CORE__FERNET_KEY": "fernet-value-1",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": "/home/me/.airflow/passwords.json",
        "AIRFLOW__SECRETS__BACKEND": "airflow.secrets.local_filesystem.LocalFilesystemBackend",
        "SHORT_PASSWORD": "abc",
        "HOME": "/home/me",
    })  # fmt: skip
    assert found == {"p@ss-word-1", "k-123456", "smtp-pw-9", "fernet-value-1"}
    masker = SecretFilter(found)
    assert masker.redact("url postgresql://dsr:p%40ss-word-1@h/db") == "url postgresql://dsr:***@h/db"
    assert masker.redact("key=k-123456 and p@ss-word-1") == "key=*** and ***"
    assert masker.redact("{'Authorization': 'Bearer unknown-token-xyz'}") == "{'Authorization': 'Bearer ***'}"
    assert masker.redact('conninfo host=h password=unknown99 dbname=x') == "conninfo host=h password=*** dbname=x"
    assert masker.redact('{"password": "unknown99"}') == '{"password": "***"}'
    assert masker.redact("scp://user:unknown99@host/x") == "scp://user:***@host/x"
    # ordinary lines stay as they are
    for text in ("password authentication failed for user dsr", "GET https://www.peeringdb.com/api/fac?depth=0",
                 "simple_auth_manager_passwords_file is /x", "Authorization header missing", "http://h:8080/p@x"):
        assert masker.redact(text) == text
