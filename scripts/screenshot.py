"""Developer tool: screenshot an Odoo page as a given user, in headless Chromium.

    .venv/bin/python scripts/screenshot.py URL OUT.png [--login L --password P] [--db DB]
        [--width 1400 --height 900 --wait 4]

Logs in over JSON-RPC, hands the session cookie to Chromium through the
DevTools protocol, opens the page and saves a PNG.
"""

import argparse
import base64
import json
import shutil
import subprocess
import tempfile
import time
from urllib.parse import urlparse

import requests
import websocket


def session_cookie(base, db, login, password):
    response = requests.post(
        f"{base}/web/session/authenticate",
        json={"jsonrpc": "2.0", "params": {"db": db, "login": login, "password": password}},
        timeout=30,
    )
    response.raise_for_status()
    if response.json().get("error"):
        raise SystemExit(f"login failed: {response.json()['error']['data']['message']}")
    return response.cookies["session_id"]


class DevTools:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=60)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(reply["error"])
                return reply.get("result", {})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--login")
    parser.add_argument("--password")
    parser.add_argument("--db", default="collections_demo")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--wait", type=float, default=4)
    args = parser.parse_args()
    parsed = urlparse(args.url)
    base = f"{parsed.scheme}://{parsed.netloc}"
    profile = tempfile.mkdtemp(prefix="collections-shot-")
    browser = subprocess.Popen(
        [
            shutil.which("chromium") or "chromium",
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ws_url = None
        for line in browser.stderr:
            if "DevTools listening on" in line:
                ws_url = line.split("on ", 1)[1].strip()
                break
        port = urlparse(ws_url).port
        target = next(
            t for t in requests.get(f"http://127.0.0.1:{port}/json", timeout=10).json() if t["type"] == "page"
        )
        tools = DevTools(target["webSocketDebuggerUrl"])
        tools.call(
            "Emulation.setDeviceMetricsOverride",
            width=args.width,
            height=args.height,
            deviceScaleFactor=1,
            mobile=False,
        )
        if args.login:
            cookie = session_cookie(base, args.db, args.login, args.password)
            tools.call("Network.enable")
            tools.call("Network.setCookie", name="session_id", value=cookie, url=base)
        tools.call("Page.enable")
        tools.call("Page.navigate", url=args.url)
        time.sleep(args.wait)
        shot = tools.call("Page.captureScreenshot", format="png")
        with open(args.out, "wb") as out:
            out.write(base64.b64decode(shot["data"]))
        print(args.out)
    finally:
        browser.terminate()
        browser.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
