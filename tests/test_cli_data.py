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


def test_main_job_on_the_offline_sample(tmp_path):
    """The main job end to end (data reports, the grid, the headline), kept small: one tiny backbone, one recipe."""
    import os

    env = {**os.environ, "AGEKIT_DATA": str(tmp_path / "data"), "AGEKIT_RUNS": str(tmp_path / "runs")}
    env.pop("AGEKIT_MIRROR", None)
    out = _run("main", "--profile", "smoke", "--backbones", "tiny", "--recipes", "kit", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "OFFLINE SAMPLE" in out.stdout and "seed paper" in out.stdout
    assert "0.7165" in out.stdout and "kit backbone" in out.stdout  # the headline table, the seed's value beside ours
    # first the committed CPU replication's headline and claims, then this call's grid, called a pipeline check
    committed, _, now = out.stdout.partition("now running what this machine affords: the smoke profile")
    assert "The committed CPU replication" in committed and "The paper's claims" in committed
    assert "Finer age groups lower the accuracy" in committed and "holds" in committed
    assert "PIPELINE CHECK" in now and "this call's smoke grid" in now
    folder = tmp_path / "runs" / "replication-smoke"
    results = (folder / "results.csv").read_text().splitlines()
    assert len(results) == 1 + 7  # 2 wiki + 3 UTKFace task sets + 2 mixes, once for the kit's per-year output
    assert (folder / "report.md").is_file() and list((folder / "figures").glob("*.png"))
