"""The `kafkette` command of the Python package (kafkette._cli, the console_scripts entry point that
`pip install` puts on PATH) from the in-place build: --help, a produce/consume round trip against the
broker, Ctrl-C while Python owns SIGINT, and Python's own handler back afterwards. The full
`pip install` into a throwaway venv is in script/test.d/20-python under KAFKETTE_PIP_INSTALL=1."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "python"))


def kafkette(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "kafkette._cli", *args], env=ENV, capture_output=True, text=True,
                          timeout=60, **kwargs)


def test_the_console_entry_point_is_declared():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(ROOT / "pyproject.toml", "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert scripts == {"kafkette": "kafkette._cli:main"}
    from kafkette import _cli

    assert callable(_cli.main)


def test_help_and_usage_errors():
    r = kafkette("--help")
    assert r.returncode == 0 and "usage: kafkette COMMAND" in r.stdout
    r = kafkette("no-such-command")
    assert r.returncode == 2 and "unknown command" in r.stderr


def test_produce_consume_round_trip(brokers, new_topic):
    topic = new_topic(2)
    b = ",".join(brokers)
    r = kafkette("produce", "-b", b, "-t", topic, "-K", ",", input="k1,v1\nk2,v2\nk1,v3\n")
    assert r.returncode == 0, r.stderr
    assert "3 delivered, 0 failed" in r.stderr
    r = kafkette("consume", "-b", b, "-t", topic, "-e", "-f", "%k=%v\n")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == ["k1=v1", "k1=v3", "k2=v2"]
    r = kafkette("topics", "describe", topic, "-b", b)
    assert r.returncode == 0 and f"topic {topic}: 2 partition(s), 3 record(s)" in r.stdout


def test_ctrl_c_stops_the_command_and_python_gets_sigint_back(brokers, topic):
    # main() runs in-process; afterwards Python's handler must turn SIGINT into KeyboardInterrupt again.
    script = (
        "import os, signal, sys\n"
        "from kafkette import _cli\n"
        "rc = _cli.main(sys.argv[1:])\n"
        "print('rc', rc, flush=True)\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    import time; time.sleep(5)\n"
        "except KeyboardInterrupt:\n"
        "    print('KeyboardInterrupt', flush=True)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", script, "consume", "-b", ",".join(brokers), "-t", topic, "-q"],
                         env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)  # the command waits for messages
    assert p.poll() is None
    start = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert time.monotonic() - start < 5
    assert out.split("\n")[:2] == ["rc 130", "KeyboardInterrupt"], (out, err)
    assert "stopped by Ctrl-C" in err


@pytest.mark.skipif(not Path(sys.prefix, "bin", "kafkette").exists(), reason="kafkette is not installed here")
def test_installed_command_on_path():
    r = subprocess.run([str(Path(sys.prefix, "bin", "kafkette")), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("kafkette ")
