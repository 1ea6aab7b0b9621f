#!/usr/bin/env python3
"""Clients of the INT benchmarks (standard library only), run by bench/integration/run.sh.

bulk BASE TOKEN N BATCH      POST /companies/bulk-upsert of N companies with 1C GUIDs in batches
                             of BATCH, one request after the other: items/s; then the same
                             batches again (all unchanged).
feed-read BASE TOKEN LIMIT   GET /events from the start, LIMIT per page, to the end: events/s.
receive PORT N TIMEOUT       a webhook receiver on 127.0.0.1:PORT (HTTP/1.1 keep-alive, 204 to
                             every POST) until N distinct webhook-ids arrived or TIMEOUT s
                             passed: deliveries/s from the first arrival to the last.
feed-lag BASE TOKEN SECONDS  follows the feed (after=<head>, limit 1000, no pause between polls)
                             for SECONDS and prints, per event seen, now - event timestamp
                             (the event's timestamp is taken in its transaction, before the
                             commit, so this is an upper bound of commit -> visible).
Output: one JSON object on stdout.
"""
import http.client
import json
import sys
import time
import uuid
from datetime import datetime
from urllib.parse import urlparse


def conn(base):
    u = urlparse(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=120)


def call(c, method, path, token, body=None):
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=headers)
    r = c.getresponse()
    raw = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {path} answered {r.status}: {raw[:500]!r}")
    return json.loads(raw)


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def bulk(base, token, n, batch, passes=2):
    c = conn(base)
    run_id = uuid.uuid4().hex[:8]
    out = {}
    for label in ("first", "again")[:passes]:
        counts = {"created": 0, "updated": 0, "unchanged": 0, "errors": 0}
        lat = []
        t0 = time.monotonic()
        for start in range(0, n, batch):
            items = [
                {"external_id": {"source": "1c", "id": f"{run_id}-{i:08d}"},
                 "name": f"ТСЖ №{i}", "types": ["client"]}
                for i in range(start, min(n, start + batch))
            ]
            t = time.monotonic()
            r = call(c, "POST", "/api/v1/companies/bulk-upsert", token, {"items": items})
            lat.append((time.monotonic() - t) * 1000)
            for k in counts:
                counts[k] += r[k]
        secs = time.monotonic() - t0
        out[label] = {"items": n, "batch": batch, "seconds": round(secs, 2),
                      "items_per_s": round(n / secs, 1),
                      "batch_ms_p50": round(pct(lat, 50), 1), "batch_ms_p99": round(pct(lat, 99), 1),
                      **counts}
    return out


def feed_read(base, token, limit):
    c = conn(base)
    n, pages, cursor = 0, 0, None
    t0 = time.monotonic()
    while True:
        path = f"/api/v1/events?limit={limit}" + (f"&after={cursor}" if cursor else "")
        r = call(c, "GET", path, token)
        n += len(r["items"])
        pages += 1
        cursor = r["next_cursor"]
        if not r["has_more"]:
            break
    secs = time.monotonic() - t0
    return {"events": n, "pages": pages, "limit": limit, "seconds": round(secs, 2),
            "events_per_s": round(n / secs, 1)}


def feed_lag(base, token, seconds):
    c = conn(base)
    cursor = call(c, "GET", "/api/v1/events/head", token)["cursor"]
    lags, polls = [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r = call(c, "GET", f"/api/v1/events?limit=1000&after={cursor}", token)
        now = time.time()
        polls += 1
        for e in r["items"]:
            ts = datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp()
            lags.append((now - ts) * 1000)
        cursor = r["next_cursor"]
    return {"events": len(lags), "polls": polls, "seconds": seconds,
            "lag_ms_p50": round(pct(lags, 50) or 0, 1), "lag_ms_p99": round(pct(lags, 99) or 0, 1),
            "lag_ms_max": round(max(lags) if lags else 0, 1)}


def receive(port, n, timeout):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    lock = threading.Lock()
    seen, times = set(), []
    total = [0]
    done = threading.Event()

    class Hook(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            wid = self.headers.get("webhook-id")
            with lock:
                total[0] += 1
                if wid not in seen:
                    seen.add(wid)
                    times.append(time.monotonic())
                if len(seen) >= n:
                    done.set()
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", port), Hook)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print(json.dumps({"listening": port}), file=sys.stderr, flush=True)
    done.wait(timeout)
    srv.shutdown()
    with lock:
        span = (times[-1] - times[0]) if len(times) > 1 else 0
        return {"wanted": n, "unique": len(seen), "requests": total[0],
                "first_to_last_s": round(span, 2),
                "deliveries_per_s": round((len(times) - 1) / span, 1) if span else None}


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "receive":
        print(json.dumps(receive(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))))
        sys.exit(0)
    base, token = sys.argv[2], sys.argv[3]
    if mode == "bulk":
        passes = int(sys.argv[6]) if len(sys.argv) > 6 else 2
        res = bulk(base, token, int(sys.argv[4]), int(sys.argv[5]), passes)
    elif mode == "feed-read":
        res = feed_read(base, token, int(sys.argv[4]))
    elif mode == "feed-lag":
        res = feed_lag(base, token, int(sys.argv[4]))
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(res))
