"""Installing the kit and starting its command line print nothing but the kit's own words."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Lines a machine's own pip configuration may print (an extra index folder that does not exist there).
MACHINE_PIP_NOTE = re.compile(r"Location '.*' is ignored: it is neither a file nor a directory")
TF_STARTUP = re.compile(r"oneDNN|absl::InitializeLog|cpu_feature_guard|rebuild TensorFlow")


def test_the_editable_install_prints_no_warning(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    out = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    said = [line for line in (out.stdout + out.stderr).splitlines() if line.strip() and not MACHINE_PIP_NOTE.search(line)]
    noisy = [line for line in said if re.search(r"warn|deprecat|!!", line, re.IGNORECASE)]
    assert not noisy, "\n".join(said)
    text = (ROOT / "pyproject.toml").read_text()
    assert 'license = "MIT"' in text and (ROOT / "LICENSE").is_file()  # an SPDX expression, not a TOML table


def _cli(*args, **env):
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env})


@pytest.mark.parametrize("args", [("--help",), ("predict", "data/astronaut.png", "--detect", "--json")],
                         ids=["help", "predict"])
def test_the_command_line_hides_tensorflows_start_up_lines(args):
    env = {k: v for k, v in os.environ.items() if k not in ("AGEKIT_TF_LOGS", "TF_CPP_MIN_LOG_LEVEL")}
    out = subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert not TF_STARTUP.search(out.stderr), out.stderr[-2000:]


def test_agekit_tf_logs_brings_them_back():
    out = _cli("predict", "data/astronaut.png", "--detect", "--json", AGEKIT_TF_LOGS="1")
    assert out.returncode == 0, out.stderr[-2000:]
    assert TF_STARTUP.search(out.stderr)


WORKER = """
from helpers.replication import worker_pool
with worker_pool(1) as pool:
    pool.submit(exec, "import keras").result()
    level = pool.submit(eval, "__import__('tensorflow').get_logger().level").result()
print(level)
"""


def test_the_replications_worker_processes_are_as_quiet_as_the_command_line():
    env = {k: v for k, v in os.environ.items() if k not in ("AGEKIT_TF_LOGS", "TF_CPP_MIN_LOG_LEVEL")}
    out = subprocess.run([sys.executable, "-c", WORKER], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert not TF_STARTUP.search(out.stderr), out.stderr[-2000:]
    assert out.stdout.split()[-1] == "40"  # TensorFlow's own Python notes: errors only
