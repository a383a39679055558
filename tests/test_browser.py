"""Notebook 08 served as a page with voila, driven in a real headless Chromium.

The test trains a tiny model, starts ``voila notebooks/08_try_it.ipynb`` on 127.0.0.1 with
``AGEKIT_MODEL`` pointing at it, moves the slider (the shown prediction must change to the
one the Python API gives for that image) and uploads the shipped photo (a labelled box must
appear). It needs Debian's ``chromium`` (``apt-get install chromium``; CI installs it) and
the pip packages voila and playwright; without them it is skipped, saying why (or fails,
when ``AGEKIT_REQUIRE_BROWSER=1`` as in CI). Playwright drives the system Chromium: no
browser download.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_predict import train_tiny_run

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "08_try_it.ipynb"
ASTRONAUT = ROOT / "data" / "astronaut.png"
CHROMIUM = os.environ.get("AGEKIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_S = 60  # voila up and answering
PAGE_READY_S = 120  # the notebook executed in the page's kernel, widgets drawn
STEP_S = 45  # one interaction answered



def _missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM}: `apt-get install chromium` (Debian) to run the browser test"
    if _voila_script() is None:
        return "voila is not installed: pip install -r requirements.txt -c constraints.txt"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -r requirements.txt -c constraints.txt"
    return None


def _voila_script() -> str | None:
    return shutil.which("voila", path=str(Path(sys.executable).parent)) or shutil.which("voila")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _voila_command(port: int) -> list[str]:
    return [_voila_script(), str(NOTEBOOK), f"--port={port}", "--no-browser", "--Voila.ip=127.0.0.1",
            "--show_tracebacks=True"]


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM (voila then shuts its kernels down), SIGKILL after 20 s; kernels also exit when voila is gone."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    reason = _missing()
    if reason:  # CI sets AGEKIT_REQUIRE_BROWSER=1: there a missing piece fails the test instead
        (pytest.fail if os.environ.get("AGEKIT_REQUIRE_BROWSER") == "1" else pytest.skip)(reason)
    # several epochs, so that different faces get visibly different answers
    return train_tiny_run(tmp_path_factory.mktemp("browser-model"), n_images=40, epochs=8)


@pytest.fixture
def voila_page(tiny_model, tmp_path):
    port = _free_port()
    env = {**os.environ, "AGEKIT_MODEL": str(tiny_model), "AGEKIT_DATA": str(tmp_path / "data"),
           "AGEKIT_RUNS": str(tmp_path / "runs"), "MPLBACKEND": "Agg"}
    env.pop("AGEKIT_MIRROR", None)
    log = open(tmp_path / "voila.log", "w+")
    proc = subprocess.Popen(_voila_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)

    def tail() -> str:
        log.flush()
        return (tmp_path / "voila.log").read_text()[-4000:]

    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"voila exited with {proc.returncode}:\n{tail()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"voila did not answer within {SERVER_START_S} s:\n{tail()}")
                time.sleep(0.5)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
            try:
                page = browser.new_page()
                page.goto(url, wait_until="commit", timeout=SERVER_START_S * 1000)
                yield page, tail
            finally:
                browser.close()
    finally:
        _stop(proc)
        log.close()


def _prediction_text(fragment: str) -> str:
    """The visible text of the prediction block in an example_html fragment."""
    import html
    import re

    block = fragment.split('class="agekit-prediction">')[1].split("</div>")[0]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", block)).split())


def test_slider_and_upload_in_a_real_browser(voila_page, tiny_model):
    from playwright.sync_api import TimeoutError as PageTimeout

    from helpers.drawing import example_html
    from helpers.examples import validation_examples
    from helpers.predict import predict

    page, tail = voila_page
    shown = page.locator(".agekit-example-view .agekit-prediction")
    try:
        shown.wait_for(timeout=PAGE_READY_S * 1000)
    except PageTimeout:
        pytest.fail(f"the app did not appear within {PAGE_READY_S} s. Page text:\n"
                    f"{page.inner_text('body')[-3000:]}\nvoila log:\n{tail()}")
    assert "Traceback" not in page.inner_text("body")

    # what the notebook shows for each image, computed here with the Python API
    examples = validation_examples(tiny_model, 40)
    expected = [_prediction_text(example_html(row, predict(row["path"], tiny_model, detect=False)))
                for row in examples.to_dict("records")]
    assert " ".join(shown.inner_text().split()) == expected[0]
    target = next((k for k, text in enumerate(expected) if text != expected[0]), None)
    assert target is not None, f"the test model gives every image the same answer: {expected[0]}"

    handle = page.locator(".agekit-slider .noUi-handle")
    handle.focus()
    for _ in range(target):
        handle.press("ArrowRight")
    page.wait_for_function(
        "want => { const e = document.querySelector('.agekit-example-view .agekit-prediction');"
        " return e && e.innerText.split(/\\s+/).join(' ').trim() === want; }",
        arg=expected[target], timeout=STEP_S * 1000)
    assert page.inner_text(".agekit-slider .widget-readout").strip() == str(target)

    with page.expect_file_chooser(timeout=STEP_S * 1000) as chooser:
        page.locator(".agekit-upload").click()
    chooser.value.set_files(str(ASTRONAUT))
    label = page.locator(".agekit-upload-result .agekit-box .agekit-label")
    try:
        label.first.wait_for(timeout=STEP_S * 1000)
    except PageTimeout:
        pytest.fail(f"no labelled box after the upload. Result:\n{page.inner_text('.agekit-upload-result')}\n"
                    f"voila log:\n{tail()}")
    assert label.count() == 1
    text = label.first.inner_text()
    assert text.startswith("#1 age ") and (" male " in text or " female " in text)
    box = page.locator(".agekit-upload-result .agekit-box").first.bounding_box()
    photo = page.locator(".agekit-upload-result .agekit-photo img").bounding_box()
    assert box and photo and photo["width"] * 0.05 < box["width"] < photo["width"] * 0.5
