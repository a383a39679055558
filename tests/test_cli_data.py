import json
import subprocess
import sys

from helpers.sample import make_sample


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True, env=env)


def test_data_json_keys_on_sample(tmp_path):
    root = make_sample(tmp_path / "s", n_utkface=50, n_wiki=40)
    out = _run("data", "--dataset", "utkface", "--source", str(root / "UTKFace"), "--json")
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    for key in ("n_images", "n_kept", "excluded", "groups", "gender", "race"):
        assert key in rep
    assert rep["n_images"] == 50 and len(rep["groups"]["10"]) == 10 and rep["race"]["missing"] == 2
    out = _run("data", "--dataset", "wiki", "--source", str(root / "wiki_crop"), "--json")
    rep = json.loads(out.stdout)
    assert rep["n_metadata"] == 40 and sum(rep["excluded"].values()) + rep["n_kept"] == 40


def test_data_bad_source_is_a_clear_error(tmp_path):
    out = _run("data", "--dataset", "utkface", "--source", str(tmp_path / "missing.tar.gz"))
    assert out.returncode == 1
    assert "missing.tar.gz" in out.stderr and "Traceback" not in out.stderr
