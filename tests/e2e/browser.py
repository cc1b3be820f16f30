#!/usr/bin/env python3
"""browser.py - drive headless Chromium over the DevTools protocol (on a pipe:
--remote-debugging-pipe, so nothing but the standard library is needed), to
test a page as a person sees it: after its script has run and updates have
arrived, not only at its load event.

    browser.py --chromium PATH --user-data-dir DIR URL STEP...

Each STEP, in order:
    wait:SECONDS:JS   evaluate JS every 100 ms until it is truthy (fails after SECONDS)
    eval:JS           evaluate JS once (its value, if any, is printed)
    dom:FILE          write document.documentElement.outerHTML to FILE
    text:FILE         write document.body.innerText (what a person reads) to FILE
    shot:FILE         write a PNG screenshot of the viewport to FILE
    size:WxH          set the viewport size (default 1280x900)
    sh:COMMAND        run COMMAND with sh (fails when it does), e.g. to move the system under test

Exits 0 when every step passed; 1 with the reason (and the page's console
errors) on stderr when one did not.
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import time


class Browser:
    def __init__(self, chromium, user_data_dir, log):
        # fd 3: what Chromium reads (our commands); fd 4: what it writes (answers, events).
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                "--user-data-dir=" + user_data_dir, "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--hide-scrollbars",
                "--force-device-scale-factor=1", "--lang=en-US", "about:blank"]

        def child_fds():
            # Copies first: a pipe end that already is 3 or 4 would keep its close-on-exec flag.
            r, w = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(args, preexec_fn=child_fds, stdout=log, stderr=log, close_fds=False)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.session = None
        self.console = []

    def send(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self.read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            self.note(reply)

    def note(self, event):
        m = event.get("method")
        if m == "Runtime.consoleAPICalled" and event["params"].get("type") in ("error", "warning"):
            self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in event["params"]["args"]))
        elif m == "Runtime.exceptionThrown":
            d = event["params"]["exceptionDetails"]
            self.console.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))
        elif m == "Log.entryAdded":
            e = event["params"]["entry"]
            if e.get("level") in ("error", "warning"):
                self.console.append("%s: %s" % (e.get("source"), e.get("text")))

    def read(self, deadline):
        import select
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("Chromium did not answer in time")
            ready, _, _ = select.select([self.from_chrome], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its pipe (exited %s)" % self.proc.poll())
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def open(self, url, width, height):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.send(domain)
        self.resize(width, height)
        self.send("Page.navigate", {"url": url})

    def resize(self, width, height):
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def evaluate(self, js):
        r = self.send("Runtime.evaluate", {"expression": js, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError("evaluating %r: %s" % (js, r["exceptionDetails"].get("exception", {}).get(
                "description", r["exceptionDetails"].get("text"))))
        return r.get("result", {}).get("value")

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chromium", default="chromium")
    ap.add_argument("--user-data-dir", required=True)
    ap.add_argument("--log", help="Chromium's own output goes here (default: discarded)")
    ap.add_argument("url")
    ap.add_argument("steps", nargs="*")
    a = ap.parse_args()
    log = open(a.log, "ab") if a.log else subprocess.DEVNULL
    b = Browser(a.chromium, a.user_data_dir, log)
    width, height = 1280, 900
    step = "open"
    try:
        for s in a.steps:
            if s.startswith("size:"):
                width, height = (int(x) for x in s[5:].split("x"))
        b.open(a.url, width, height)
        for step in a.steps:
            kind, _, arg = step.partition(":")
            if kind == "wait":
                seconds, _, js = arg.partition(":")
                js = "!!(" + js + ")"  # a DOM node comes back as {}, which Python finds false
                deadline = time.monotonic() + float(seconds)
                while True:
                    try:
                        if b.evaluate(js):
                            break
                    except RuntimeError:
                        pass  # the page may not have its script yet
                    if time.monotonic() > deadline:
                        raise RuntimeError("still false after %s s: %s" % (seconds, js))
                    time.sleep(0.1)
            elif kind == "eval":
                value = b.evaluate(arg)
                if value is not None:
                    print(value if isinstance(value, str) else json.dumps(value))
            elif kind == "dom":
                with open(arg, "w") as f:
                    f.write(b.evaluate("document.documentElement.outerHTML"))
            elif kind == "text":
                with open(arg, "w") as f:
                    f.write(b.evaluate("document.body.innerText"))
            elif kind == "shot":
                png = b.send("Page.captureScreenshot", {"format": "png"})["data"]
                with open(arg, "wb") as f:
                    f.write(base64.b64decode(png))
            elif kind == "sh":
                subprocess.run(["sh", "-c", arg], check=True)
            elif kind == "size":
                width, height = (int(x) for x in arg.split("x"))
                b.resize(width, height)
            else:
                raise RuntimeError("unknown step " + step)
    except Exception as e:  # noqa: BLE001 - every failure is reported the same way
        print("browser.py: step %r: %s" % (step, e), file=sys.stderr)
        for line in b.console:
            print("browser.py: page said: " + line, file=sys.stderr)
        b.close()
        return 1
    for line in b.console:
        print("browser.py: page said: " + line, file=sys.stderr)
    b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
