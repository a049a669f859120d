#!/usr/bin/python3
"""hostile.py - bounded hostile traffic against churn-serve, with a probe

    hostile.py URL PROBE.json PHASE [ARGS...]

PHASE is one of
    slow N SECONDS INTERVAL [all-closed]
        N connections from 127.0.0.2-127.0.0.9, each sending a /predict
        request one byte every INTERVAL seconds (half of them the headers,
        half the body after whole headers) for SECONDS; with 'all-closed'
        every one of them must have been closed by the server by then
    nonutf8
        requests with bytes that are not UTF-8 in the path, query, method
        and Content-Type: each must get an answer below 500 whose JSON
        body, if any, is valid
    blackhole N
        N GET /models and N GET /drift/reports at once: each must be
        answered (200 or 503) within 3 s
    replay BODY SIGNATURE N
        N concurrent deliveries of one signed GitHub push
    oversized N BYTES
        N /predict requests of the probe's row with a junk key of BYTES
        bytes, four at a time

While the phase runs a probe POSTs PROBE.json to /predict from 127.0.0.1
every 100 ms, each on a new connection; every probe must be answered 200
within the 1 s hang bound (the latencies are printed, not asserted
otherwise).  Exit 0 when the probe and the phase's own checks held, 1
otherwise.  Loopback only; bounded in connections and in time (an alarm
ends it after 50 s).  Standard library only.
"""
import asyncio
import http.client
import json
import signal
import socket
import sys
import threading
import time
import urllib.parse

HANG = 1.0          # the probe's hang bound, seconds
WAIT = 3.0          # how long a probe waits to measure a late answer
PERIOD = 0.1
SOURCES = ["127.0.0.%d" % i for i in range(2, 10)]

failures = []


def bad(msg):
    failures.append(msg)
    print("  FAIL: " + msg, flush=True)


def connect(host, port, timeout, source="127.0.0.1"):
    return http.client.HTTPConnection(host, port, timeout=timeout,
                                      source_address=(source, 0))


class Probe(threading.Thread):
    """POST /predict every PERIOD seconds until stopped."""

    def __init__(self, host, port, body):
        super().__init__(daemon=True)
        self.host, self.port, self.body = host, port, body
        self.stop = threading.Event()
        self.results = []       # (offset s, latency s, status or error)
        self.t0 = time.monotonic()

    def run(self):
        nxt = time.monotonic()
        while not self.stop.is_set():
            t = time.monotonic()
            try:
                c = connect(self.host, self.port, WAIT)
                c.request("POST", "/predict", self.body,
                          {"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                what = r.status
                c.close()
            except (OSError, http.client.HTTPException) as e:
                what = type(e).__name__
            self.results.append((t - self.t0, time.monotonic() - t, what))
            # no catching up after a stall: one probe per period at most
            nxt = max(nxt + PERIOD, time.monotonic())
            self.stop.wait(max(0.0, nxt - time.monotonic()))

    def report(self):
        res = self.results
        if not res:
            bad("the probe sent nothing")
            return
        lat = sorted(r[1] for r in res)
        late = [r for r in res if r[2] != 200 or r[1] > HANG]

        def q(p):
            return lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3
        print("  probe: %d sent, %d answered 200 within %.0f s; latency ms "
              "min %.1f median %.1f p99 %.1f max %.1f"
              % (len(res), len(res) - len(late), HANG, lat[0] * 1e3, q(0.5),
                 q(0.99), lat[-1] * 1e3), flush=True)
        if late:
            shown = ", ".join("t=%.1fs %s after %.0f ms" % (o, w, d * 1e3)
                              for o, d, w in late[:8])
            bad("%d of %d probes not answered 200 within %.0f s: %s%s"
                % (len(late), len(res), HANG, shown,
                   " ..." if len(late) > 8 else ""))


# --- slow ---------------------------------------------------------------

async def slow_one(host, port, src, head, body, seconds, interval, st):
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(
            host, port, local_addr=(src, 0)), 3)
    except (OSError, asyncio.TimeoutError) as e:
        st["connect failed"] = st.get("connect failed", 0) + 1
        st.setdefault("errors", set()).add(type(e).__name__)
        return
    st["connected"] += 1
    data = head + body
    pos = len(head) if body and st["connected"] % 2 == 0 else 0
    if pos:
        w.write(head)
    reader = asyncio.ensure_future(r.read(65536))
    closed = []
    reader.add_done_callback(lambda f: closed.append(loop.time() - t0))
    # spread the bytes over the interval so that the server sees a steady
    # trickle rather than bursts
    await asyncio.wait([reader], timeout=interval * (st["connected"] % 97) / 97)
    while loop.time() - t0 < seconds and pos < len(data) - 1:
        if reader.done():
            break
        try:
            w.write(data[pos:pos + 1])
            await w.drain()
        except OSError:
            closed.append(loop.time() - t0)
            break
        pos += 1
        await asyncio.wait([reader], timeout=interval)
    if reader.done() and not closed:    # its callback has not run yet
        closed.append(loop.time() - t0)
    if closed:
        st["closed"].append(closed[0])
    else:
        st["still open"] += 1
    reader.cancel()
    w.close()


async def slow_all(host, port, n, seconds, interval, st):
    head = (b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n")
    body = b"{" + b" " * 3998 + b"}"
    await asyncio.gather(*(slow_one(host, port, SOURCES[i % len(SOURCES)],
                                    head, body, seconds, interval, st)
                           for i in range(n)))


def phase_slow(host, port, args):
    n, seconds, interval = int(args[0]), float(args[1]), float(args[2])
    st = {"connected": 0, "still open": 0, "closed": []}
    asyncio.run(slow_all(host, port, n, seconds, interval, st))
    c = sorted(st["closed"])
    print("  slow: %d connections from %s-%s: %d connected, %d failed to "
          "connect%s; %d closed by the server (%s after connecting, as this "
          "busy client saw it), %d still open after %.0f s"
          % (n, SOURCES[0], SOURCES[-1], st["connected"],
             st.get("connect failed", 0),
             " (%s)" % ",".join(sorted(st["errors"])) if "errors" in st
             else "", len(c),
             "%.1f-%.1f s" % (c[0], c[-1]) if c else "-",
             st["still open"], seconds), flush=True)
    if len(args) > 3 and args[3] == "all-closed" and st["still open"]:
        bad("%d slow connections were still open after %.0f s"
            % (st["still open"], seconds))


# --- nonutf8 ------------------------------------------------------------

NONUTF8 = [
    (b"GET /%ff HTTP/1.1", b"", b""),
    (b"GET /\xff HTTP/1.1", b"", b""),
    (b"GET /static/%ff HTTP/1.1", b"", b""),
    (b"GET /drift/reports?limit=%ff HTTP/1.1", b"", b""),
    (b"GET /predict/schema?x=%ff%fe HTTP/1.1", b"", b""),
    (b"GE\xffT / HTTP/1.1", b"", b""),
    (b"GE\xffT /predict HTTP/1.1", b"", b""),
    (b"POST /predict HTTP/1.1", b"Content-Type: \xff\r\n", b"{}"),
    (b"POST /predict HTTP/1.1", b"Content-Type: application/\xff\xfe\r\n",
     b"{}"),
    (b"POST /hooks/github HTTP/1.1",
     b"Content-Type: \xff\r\nX-GitHub-Event: push\r\n", b"{}"),
    (b"POST /predict HTTP/1.1", b"Content-Type: application/json\r\n",
     b'{"gender":"\xff\xfe","tenure":"1\xc3"}'),
]


def raw(host, port, line, hdrs, body):
    s = socket.create_connection((host, port), timeout=5,
                                 source_address=("127.0.0.1", 0))
    s.sendall(line + b"\r\nHost: 127.0.0.1\r\n" + hdrs +
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
              + body)
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except OSError as e:
        if not data:
            return None, "%s" % type(e).__name__
    finally:
        s.close()
    if not data:
        return None, "closed without an answer"
    head, _, payload = data.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None, "not HTTP: %r" % data[:60]
    if b"application/json" in head.lower():
        try:
            json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            return status, "body is not valid JSON (%s): %r" % (
                e, payload[:80])
    return status, ""


def phase_nonutf8(host, port, args):
    for line, hdrs, body in NONUTF8:
        what = (line + b" " + hdrs.strip()).decode("latin-1")
        t = time.monotonic()
        try:
            status, err = raw(host, port, line, hdrs, body)
        except OSError as e:
            status, err = None, "cannot connect: %s" % e
        print("  %-60r -> %s %s (%.0f ms)" % (what, status, err,
              (time.monotonic() - t) * 1e3), flush=True)
        if status is None or status >= 500 or err:
            bad("%r: %s" % (what, err or "status %d" % status))


# --- blackhole ------------------------------------------------------------

def get(host, port, path, out, i):
    t = time.monotonic()
    try:
        c = connect(host, port, WAIT)
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        out[i] = (path, r.status, time.monotonic() - t)
    except (OSError, http.client.HTTPException) as e:
        out[i] = (path, type(e).__name__, time.monotonic() - t)


def phase_blackhole(host, port, args):
    n = int(args[0])
    paths = ["/models", "/drift/reports"] * n
    out = [None] * len(paths)
    th = [threading.Thread(target=get, args=(host, port, p, out, i))
          for i, p in enumerate(paths)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    for path, status, dt in out:
        print("  GET %s -> %s in %.0f ms" % (path, status, dt * 1e3))
        if status not in (200, 503) or dt > WAIT:
            bad("GET %s: %s after %.0f ms (a registry that never answers "
                "must not hold the answer)" % (path, status, dt * 1e3))


# --- replay -------------------------------------------------------------

def post(host, port, path, body, hdrs, out, i):
    t = time.monotonic()
    try:
        c = connect(host, port, 10)
        c.request("POST", path, body, hdrs)
        r = c.getresponse()
        out[i] = (r.status, r.read()[:200], time.monotonic() - t)
    except (OSError, http.client.HTTPException) as e:
        out[i] = (type(e).__name__, b"", time.monotonic() - t)


def phase_replay(host, port, args):
    body = open(args[0], "rb").read()
    sig, n = args[1], int(args[2])
    hdrs = {"Content-Type": "application/json", "X-GitHub-Event": "push",
            "X-Hub-Signature-256": sig, "X-GitHub-Delivery": "replayed-1"}
    out = [None] * n
    th = [threading.Thread(target=post, args=(host, port, "/hooks/github",
                                              body, hdrs, out, i))
          for i in range(n)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    counts = {}
    for status, _, _ in out:
        counts[status] = counts.get(status, 0) + 1
    print("  %d replays of one delivery: %s" % (n, ", ".join(
        "%s x%d" % kv for kv in sorted(counts.items(), key=str))))
    for status, text, _ in out:
        if not isinstance(status, int) or status >= 500:
            bad("a replay got %s: %r" % (status, text))
            break


# --- oversized ------------------------------------------------------------

def phase_oversized(host, port, args, probe_body):
    n, size = int(args[0]), int(args[1])
    row = json.loads(probe_body)
    row["junk"] = "x" * size
    body = json.dumps(row).encode()
    out = [None] * n
    for k in range(0, n, 4):
        th = [threading.Thread(target=post, args=(
            host, port, "/predict", body,
            {"Content-Type": "application/json"}, out, i))
            for i in range(k, min(n, k + 4))]
        for t in th:
            t.start()
        for t in th:
            t.join()
    counts = {}
    for status, _, _ in out:
        counts[status] = counts.get(status, 0) + 1
    print("  %d /predict of %d bytes: %s" % (n, len(body), ", ".join(
        "%s x%d" % kv for kv in sorted(counts.items(), key=str))))
    for status, text, _ in out:
        if not isinstance(status, int) or status >= 500:
            bad("an oversized row got %s: %r" % (status, text))
            break


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    u = urllib.parse.urlsplit(sys.argv[1])
    host, port = u.hostname, u.port
    if not host.startswith("127."):
        print("hostile.py: loopback only, not %s" % host, file=sys.stderr)
        return 2
    probe_body = open(sys.argv[2], "rb").read()
    phase, args = sys.argv[3], sys.argv[4:]
    signal.alarm(50)
    probe = Probe(host, port, probe_body)
    probe.start()
    time.sleep(0.3)             # a few probes before the traffic
    t = time.monotonic()
    if phase == "slow":
        phase_slow(host, port, args)
    elif phase == "nonutf8":
        phase_nonutf8(host, port, args)
    elif phase == "blackhole":
        phase_blackhole(host, port, args)
    elif phase == "replay":
        phase_replay(host, port, args)
    elif phase == "oversized":
        phase_oversized(host, port, args, probe_body)
    else:
        print("hostile.py: no phase '%s'" % phase, file=sys.stderr)
        return 2
    print("  %s: %.1f s" % (phase, time.monotonic() - t))
    time.sleep(0.3)
    probe.stop.set()
    probe.join()
    probe.report()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
