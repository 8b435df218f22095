"""Test set-up shared by every tier.

eventlet must patch the standard library before anything else is imported, or nameko
containers hang (docs/architecture.md, "Pitfalls of the stack").
"""

import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")
warnings.filterwarnings("ignore", category=DeprecationWarning)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


@pytest.fixture(scope="session")
def s3_port():
    """A real S3 server over HTTP (moto's), for this test session only."""
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_slot() -> tuple[str, int]:
    """Name suffix and Redis database of this test session.

    `DISAN_TEST_SLOT=N` (1-9) gives a session its own database, role, vhost and Redis
    database, so several suites can run side by side on one machine; unset, the names are
    the plain `disan_test` ones.
    """
    slot = os.environ.get("DISAN_TEST_SLOT", "").strip()
    if not slot:
        return "", 15
    if not (slot.isdigit() and 1 <= int(slot) <= 9):
        raise pytest.UsageError("DISAN_TEST_SLOT must be a number from 1 to 9")
    return f"_{slot}", 15 - int(slot)


@pytest.fixture(scope="session")
def test_env(s3_port):
    """Environment of the test platform: its own database, vhost and S3 server."""
    suffix, redis_db = test_slot()
    name = f"disan_test{suffix}"
    return {
        "DISAN_ENV": "test",
        "DISAN_DATABASE_URL": f"postgresql://{name}:{name}@127.0.0.1:5432/{name}",
        "DISAN_AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{name}",
        "DISAN_REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "DISAN_S3_ENDPOINT": f"127.0.0.1:{s3_port}",
        "DISAN_S3_ACCESS_KEY": "test-access",
        "DISAN_S3_SECRET_KEY": "test-secret",
        "DISAN_RETRY_BASE_SECONDS": "0.2",
        "DISAN_RETRY_MAX_ATTEMPTS": "3",
        "DISAN_RELAY_IDLE_SECONDS": "0.02",
        "DISAN_TOKEN_SECRET": "test-token-secret-0123456789abcdefghijklmnop",
    }


@pytest.fixture(scope="session")
def settings(test_env):
    """Validated settings of the test platform, with its database and vhost provisioned."""
    from disan.cli.provision import provision
    from shared.config import load_settings

    settings = load_settings(env=test_env)
    provision(settings)
    _empty_parking_queues(settings.amqp_uri)
    return settings


def _empty_parking_queues(amqp_uri: str) -> None:
    """The test vhost keeps what earlier runs left in the dead letters and unrouted queues:
    start each session with them empty, so tests find their own messages quickly."""
    from kombu import Connection

    from shared.bus import DEAD_LETTERS, UNROUTED, declare_base

    with Connection(amqp_uri) as conn:
        declare_base(conn)
        for name in (DEAD_LETTERS, UNROUTED):
            conn.default_channel.queue_purge(name)
