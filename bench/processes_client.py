#!/usr/bin/env python3
"""Clients of the process benchmark (bench/processes.sh), standard library only.

  deals BASE TOKEN N THREADS          create N deals (each starts the default process)
  complete BASE TOKEN TITLE THREADS   complete every open process task titled TITLE ("done")
  start BASE TOKEN TEMPLATE_ID        a deal and a manual instance of TEMPLATE_ID; completes
                                      its first 10 tasks; prints the instance id

Each prints one JSON line: counts, seconds, per second, p50/p99 latency in ms.
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse


def conn(base):
    u = urllib.parse.urlparse(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def call(c, method, path, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=headers)
    r = c.getresponse()
    text = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {path}: {r.status} {text[:300]!r}")
    return json.loads(text) if text else None


def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


def in_threads(base, token, jobs, threads, work):
    """Runs work(conn, token, job) for every job on `threads` connections; answers
    (seconds, latencies in ms)."""
    lock = threading.Lock()
    todo = list(jobs)
    lat = []

    def run():
        c = conn(base)
        while True:
            with lock:
                if not todo:
                    return
                job = todo.pop()
            t = time.monotonic()
            work(c, token, job)
            with lock:
                lat.append((time.monotonic() - t) * 1000)

    t0 = time.monotonic()
    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.monotonic() - t0, lat


def summary(label, n, secs, lat):
    return {"what": label, "count": n, "seconds": round(secs, 2),
            "per_s": round(n / secs, 1) if secs else None,
            "ms_p50": round(pct(lat, 50), 2) if lat else None,
            "ms_p99": round(pct(lat, 99), 2) if lat else None}


def deals(base, token, n, threads):
    secs, lat = in_threads(base, token, range(n), threads,
                           lambda c, t, i: call(c, "POST", "/api/v1/deals", t,
                                                {"title": f"Процесс {i}"}))
    return summary("deals created, each starting its process", n, secs, lat)


def open_tasks(base, token, title):
    c = conn(base)
    ids, cursor = [], None
    while True:
        q = "/api/v1/tasks?kind=process&state=open&limit=200"
        if cursor:
            q += "&cursor=" + urllib.parse.quote(cursor)
        page = call(c, "GET", q, token)
        ids += [t["id"] for t in page["items"] if t["title"] == title]
        cursor = page.get("next_cursor")
        if not cursor:
            return ids


def complete(base, token, title, threads):
    ids = open_tasks(base, token, title)
    secs, lat = in_threads(base, token, ids, threads,
                           lambda c, t, i: call(c, "POST", f"/api/v1/tasks/{i}/complete", t,
                                                {"outcome": "done"}))
    return summary(f"tasks «{title}» completed (one process input each)", len(ids), secs, lat)


def start(base, token, template_id):
    c = conn(base)
    deal = call(c, "POST", "/api/v1/deals", token, {"title": "Тридцать шагов"})
    inst = call(c, "POST", "/api/v1/process-instances", token,
                {"template_id": template_id, "entity_id": deal["id"]})
    for k in range(1, 11):
        tasks = call(c, "GET", f"/api/v1/tasks?kind=process&state=open&subject_type=deal"
                               f"&subject_id={deal['id']}", token)["items"]
        mine = [t for t in tasks if t["title"] == f"Шаг {k}"]
        if not mine:
            raise SystemExit(f"no open task «Шаг {k}»: {tasks}")
        call(c, "POST", f"/api/v1/tasks/{mine[0]['id']}/complete", token, {"outcome": "done"})
    return inst["id"]


if __name__ == "__main__":
    cmd, base, token = sys.argv[1], sys.argv[2], sys.argv[3]
    if cmd == "deals":
        print(json.dumps(deals(base, token, int(sys.argv[4]), int(sys.argv[5]))))
    elif cmd == "complete":
        print(json.dumps(complete(base, token, sys.argv[4], int(sys.argv[5])), ensure_ascii=False))
    elif cmd == "start":
        print(start(base, token, sys.argv[4]))
    else:
        raise SystemExit(__doc__)
