#!/usr/bin/env python
"""A screenshot of the web page of `python -m tagger.serve` with a sentence tagged and the LSTM's
internals drawn under it, for the docs (the browser test takes the same view of a tiny model).

    python scripts/screenshot_page.py --model models/latest --out reports/inside/explain-page-default.png

Needs Chromium (`apt-get install chromium`) and the test extra's Playwright.
"""

import shutil
import socket
import subprocess
import sys
from pathlib import Path

from tagger.errors import ArgumentParser, TaggerError, cli
from tagger.serve import wait_until_serving


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def screenshot(url, text, out, units):
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        raise TaggerError("scripts/screenshot_page.py needs Playwright (the test extra): "
                          "pip install -e '.[test]'") from None
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser_path is None:
        raise TaggerError("no Chromium found; install it: apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "/")
        page.fill("#text", text)
        page.click("#tag")
        page.wait_for_selector("#inside [data-name='h']")
        if units:
            page.check("#inside-units")
        page.screenshot(path=str(out), full_page=True)
        browser.close()


@cli
def main(argv=None):
    parser = ArgumentParser(prog="scripts/screenshot_page.py", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="models/latest", help="(default: %(default)s)")
    parser.add_argument("--text", default="The dog ate the apple", help="(default: %(default)s)")
    parser.add_argument("--units", action="store_true", help="show every unit, not the means")
    parser.add_argument("--out", default="reports/inside/explain-page-default.png")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tagger.serve", "--model", args.model,
                               "--port", str(port), "--threads", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_serving(url, server)
        except RuntimeError as e:
            raise TaggerError(str(e).strip().splitlines()[-1]) from None
        screenshot(url, args.text, out, args.units)
    finally:
        server.kill()
        server.wait()
    print(f"screenshot in {out}")


if __name__ == "__main__":
    main()
