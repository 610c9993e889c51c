#!/usr/bin/env python3
"""Latency of every GET endpoint of the dashboard API on two coordinators side
by side (large, small), interleaved endpoint by endpoint so that both see the
same machine; then the campaign page's six calls issued at once as app.js
does; then N open SSE streams and the coordinator's thread count.

measure.py --large HOST:PORT:PID --small HOST:PORT:PID --token-file F
           [--requests 200] [--concurrency 4] [--sse 500] [--json OUT]
"""
import argparse, concurrent.futures as cf, http.client, json, os, socket, statistics, threading, time

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]

class Client:
    def __init__(self, host, port, token):
        self.host, self.port, self.token = host, port, token
        self.local = threading.local()
    def get(self, path):
        c = getattr(self.local, "c", None)
        if c is None:
            c = self.local.c = http.client.HTTPConnection(self.host, self.port, timeout=30)
        t = time.perf_counter()
        c.request("GET", "/api/v1/" + path, headers={"Authorization": "Bearer " + self.token})
        r = c.getresponse(); body = r.read()
        ms = (time.perf_counter() - t) * 1000
        if r.status != 200:
            raise RuntimeError(f"{path}: HTTP {r.status}: {body[:200]!r}")
        return ms, body

def endpoints(cl):
    _, b = cl.get("campaigns?limit=100")
    cid = json.loads(b)["items"][0]["campaign_id"]
    _, b = cl.get(f"campaigns/{cid}/jobs?limit=50&state=succeeded")
    jobs = [j["job_id"] for j in json.loads(b)["items"]]
    _, b = cl.get(f"campaigns/{cid}/jobs?limit=500")
    mid = json.loads(b)["next_cursor"]
    _, b = cl.get("workers?limit=50")
    wc = json.loads(b)["next_cursor"]
    return [
        ("campaigns", ["campaigns?limit=100"]),
        ("campaign", [f"campaigns/{cid}"]),
        ("leaderboard", [f"campaigns/{cid}/leaderboard?top=20"]),
        ("families", [f"campaigns/{cid}/families"]),
        ("pairs", [f"campaigns/{cid}/pairs?limit=50"]),
        ("coverage", [f"campaigns/{cid}/coverage"]),
        ("curves", [f"campaigns/{cid}/curves?top=5"]),
        ("events (campaign)", [f"campaigns/{cid}/events?limit=15"]),
        ("jobs, first page", [f"campaigns/{cid}/jobs?limit=50"]),
        ("jobs, later page", [f"campaigns/{cid}/jobs?limit=50&cursor={mid}"]),
        ("jobs, running", [f"campaigns/{cid}/jobs?limit=50&state=running"]),
        ("job", [f"jobs/{j}" for j in jobs]),
        # The small fleet (10 workers) has no second page.
        ("workers, page of 50", ["workers?limit=50"] + ([f"workers?limit=50&cursor={wc}"] if wc else [])),
        ("workers?limit=500 (UI)", ["workers?limit=500"]),
    ], cid

def run(cl, paths, n, conc):
    with cf.ThreadPoolExecutor(conc) as ex:
        return list(ex.map(lambda i: cl.get(paths[i % len(paths)])[0], range(n)))

def page(cl, cid, reps):
    calls = [f"campaigns/{cid}", f"campaigns/{cid}/leaderboard?top=20", f"campaigns/{cid}/families",
             f"campaigns/{cid}/curves?top=5", f"campaigns/{cid}/coverage", f"campaigns/{cid}/events?limit=15"]
    out = []
    with cf.ThreadPoolExecutor(6) as ex:  # a browser opens up to 6 connections per host
        for _ in range(reps):
            t = time.perf_counter(); list(ex.map(cl.get, calls)); out.append((time.perf_counter() - t) * 1000)
    return out

def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))

def sse(host, port, pid, token, n):
    before = threads(pid); socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                  "Accept: text/event-stream\r\n\r\n".encode())
        socks.append(s)
    ok = 0
    for s in socks:
        if b"200" in s.recv(4096).split(b"\r\n", 1)[0]: ok += 1
    time.sleep(1)
    during = threads(pid)
    for s in socks: s.close()
    return {"streams": n, "answered_200": ok, "threads_before": before, "threads_with_streams": during}

def main():
    a = argparse.ArgumentParser()
    a.add_argument("--large", required=True); a.add_argument("--small", required=True)
    a.add_argument("--token-file", required=True); a.add_argument("--requests", type=int, default=200)
    a.add_argument("--concurrency", type=int, default=4); a.add_argument("--sse", type=int, default=500)
    a.add_argument("--json")
    o = a.parse_args()
    token = open(o.token_file).read().strip()
    def parse(s):
        h, p, pid = s.split(":"); return h, int(p), int(pid)
    L, S = parse(o.large), parse(o.small)
    cl, cs = Client(L[0], L[1], token), Client(S[0], S[1], token)
    el, cidl = endpoints(cl); es, cids = endpoints(cs)
    # The first visitor's load: nothing of the campaign is cached yet
    # (endpoints() read only the campaign list, jobs and workers).
    cold = {"large": page(cl, cidl, 1)[0], "small": page(cs, cids, 1)[0]}
    print(f"campaign page, first load (nothing cached): large {cold['large']:.0f} ms, small {cold['small']:.0f} ms",
          flush=True)
    rows = []
    for (name, pl), (_, ps) in zip(el, es):
        run(cl, pl, 8, 2); run(cs, ps, 8, 2)  # warm up
        tl = run(cl, pl, o.requests, o.concurrency); ts = run(cs, ps, o.requests, o.concurrency)
        r = {"endpoint": name, "path": pl[0], "large_p50": pct(tl, 50), "large_p99": pct(tl, 99), "large_max": max(tl),
             "small_p50": pct(ts, 50), "small_p99": pct(ts, 99)}
        r["ratio_p99"] = r["large_p99"] / r["small_p99"]
        rows.append(r)
        print(f"{name:24} large p50 {r['large_p50']:7.1f} p99 {r['large_p99']:7.1f} max {r['large_max']:7.1f} | "
              f"small p50 {r['small_p50']:6.1f} p99 {r['small_p99']:6.1f} | x{r['ratio_p99']:.1f}", flush=True)
    pl_, ps_ = page(cl, cidl, 20), page(cs, cids, 20)
    pg = {"large_p50": pct(pl_, 50), "large_max": max(pl_), "small_p50": pct(ps_, 50), "small_max": max(ps_),
          "large_first_load": cold["large"], "small_first_load": cold["small"]}
    print(f"campaign page, cached (6 calls at once, 20 loads): large p50 {pg['large_p50']:.1f} max {pg['large_max']:.1f} ms; "
          f"small p50 {pg['small_p50']:.1f} max {pg['small_max']:.1f} ms", flush=True)
    ev = sse(L[0], L[1], L[2], token, o.sse)
    print(f"SSE: {ev}", flush=True)
    if o.json:
        json.dump({"endpoints": rows, "campaign_page": pg, "sse": ev, "requests": o.requests,
                   "concurrency": o.concurrency}, open(o.json, "w"), indent=1)

if __name__ == "__main__":
    main()
