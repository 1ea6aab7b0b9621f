//! bench/loadgen — a small HTTP/1.1 load generator for the Sdelka benchmark (std only).
//!
//! Why it exists: wrk (used for the peak runs) is closed-loop and cannot hold a fixed request
//! rate, and oha can hold a rate but can only send one static body (or bodies picked at random
//! from a file), while every create needs a unique `code` (organizations.code is UNIQUE).
//! This tool does open-loop, fixed-rate load with a fresh body per request:
//!
//! * request i is *scheduled* at `start + i / rate`; a pool of `--connections` keep-alive
//!   connections takes requests in schedule order and sleeps until each one is due;
//! * latency is measured from the *scheduled* time to the end of the response, so when the
//!   server falls behind, the queueing delay is counted (no "coordinated omission", the same
//!   correction wrk2 and `oha --latency-correction` apply); the plain service time (send →
//!   response) is reported too;
//! * every `{n}` in the body template becomes a unique decimal number (`--seq-start` + i).
//!
//! `--rate 0` turns it into a closed-loop generator (each connection sends as fast as it can).
//! Output: one JSON object on stdout. Bounded in time: nothing is scheduled after `--duration`,
//! and the run stops at `duration + timeout + 5 s` whatever happens.
//!
//! Build: `rustc --edition 2021 -C opt-level=3 -o target/bench/loadgen bench/loadgen/main.rs`
//! (bench/run.sh does this). Plain `http://` only; meant for 127.0.0.1 targets.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::exit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

struct Opts {
    host: String,
    port: u16,
    path: String,
    method: String,
    headers: Vec<String>,
    body: Option<String>,
    seq_start: u64,
    rate: f64,
    connections: usize,
    duration: f64,
    timeout: f64,
    label: String,
}

fn usage(msg: &str) -> ! {
    eprintln!("loadgen: {msg}");
    eprintln!(
        "usage: loadgen --url http://HOST:PORT/PATH [--method M] [--header 'K: V']... \
         [--body-file FILE] [--seq-start N] [--rate RPS|0] [--connections C] \
         [--duration SECS] [--timeout SECS] [--label NAME]"
    );
    exit(2)
}

fn parse_args() -> Opts {
    let mut url = None;
    let mut o = Opts {
        host: String::new(),
        port: 80,
        path: "/".into(),
        method: "GET".into(),
        headers: Vec::new(),
        body: None,
        seq_start: 0,
        rate: 0.0,
        connections: 32,
        duration: 15.0,
        timeout: 10.0,
        label: "run".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--url" => url = Some(val()),
            "--method" => o.method = val().to_uppercase(),
            "--header" => o.headers.push(val()),
            "--body-file" => {
                let p = val();
                let text = std::fs::read_to_string(&p)
                    .unwrap_or_else(|e| usage(&format!("cannot read {p}: {e}")));
                o.body = Some(text.trim_end().to_string());
            }
            "--seq-start" => {
                o.seq_start = val().parse().unwrap_or_else(|_| usage("bad --seq-start"))
            }
            "--rate" => o.rate = val().parse().unwrap_or_else(|_| usage("bad --rate")),
            "--connections" => {
                o.connections = val().parse().unwrap_or_else(|_| usage("bad --connections"))
            }
            "--duration" => o.duration = val().parse().unwrap_or_else(|_| usage("bad --duration")),
            "--timeout" => o.timeout = val().parse().unwrap_or_else(|_| usage("bad --timeout")),
            "--label" => o.label = val(),
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let url = url.unwrap_or_else(|| usage("--url is required"));
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| usage("only http:// URLs are supported"));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().unwrap_or_else(|_| usage("bad port in --url"))),
        None => (authority, 80),
    };
    o.host = host.to_string();
    o.port = port;
    o.path = path.to_string();
    if o.connections == 0 || o.duration <= 0.0 || o.rate < 0.0 || o.timeout <= 0.0 {
        usage("--connections, --duration and --timeout must be > 0, --rate >= 0");
    }
    o
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(o: &Opts) -> io::Result<Conn> {
        let s = TcpStream::connect((o.host.as_str(), o.port))?;
        s.set_nodelay(true)?;
        let t = Some(Duration::from_secs_f64(o.timeout));
        s.set_read_timeout(t)?;
        s.set_write_timeout(t)?;
        Ok(Conn {
            reader: BufReader::with_capacity(64 * 1024, s.try_clone()?),
            writer: s,
        })
    }

    /// Sends one request and reads the whole response. Returns (status, keep_alive).
    fn exchange(&mut self, req: &[u8]) -> io::Result<(u16, bool)> {
        self.writer.write_all(req)?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
        let http10 = line.starts_with("HTTP/1.0");
        let mut content_length: Option<u64> = None;
        let mut chunked = false;
        let mut keep_alive = !http10;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "eof in headers",
                ));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                let v = v.trim().to_ascii_lowercase();
                match k.as_str() {
                    "content-length" => content_length = v.parse().ok(),
                    "transfer-encoding" => chunked = v.contains("chunked"),
                    "connection" => {
                        if v.contains("close") {
                            keep_alive = false
                        } else if v.contains("keep-alive") {
                            keep_alive = true
                        }
                    }
                    _ => {}
                }
            }
        }
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let size_hex = line.trim().split(';').next().unwrap_or("");
                let size = u64::from_str_radix(size_hex, 16)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
                if size == 0 {
                    // trailers, then an empty line
                    loop {
                        line.clear();
                        if self.reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                discard(&mut self.reader, size)?;
                line.clear();
                self.reader.read_line(&mut line)?; // CRLF after the chunk
            }
        } else if let Some(n) = content_length {
            discard(&mut self.reader, n)?;
        } else if status >= 200 && status != 204 && status != 304 {
            // no length: body runs to the end of the connection
            io::copy(&mut self.reader, &mut io::sink())?;
            keep_alive = false;
        }
        Ok((status, keep_alive))
    }
}

fn discard(r: &mut impl Read, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.take(n), &mut io::sink())?;
    if copied != n {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short body"));
    }
    Ok(())
}

#[derive(Default)]
struct Stats {
    latency_us: Vec<u64>,
    service_us: Vec<u64>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    error_kinds: BTreeMap<String, u64>,
    last_done: Option<Instant>,
}

fn build_request(o: &Opts, n: u64) -> Vec<u8> {
    let mut r = format!(
        "{} {} HTTP/1.1\r\nHost: {}:{}\r\n",
        o.method, o.path, o.host, o.port
    );
    for h in &o.headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    match &o.body {
        Some(t) => {
            let body = t.replace("{n}", &n.to_string());
            r.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            r.push_str(&body);
        }
        None => r.push_str("\r\n"),
    }
    r.into_bytes()
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() {
    let o = Arc::new(parse_args());
    let fixed = o.rate > 0.0;
    let window = Duration::from_secs_f64(o.duration);
    let total: u64 = if fixed {
        (o.rate * o.duration).floor() as u64
    } else {
        u64::MAX
    };
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let max_lag_us = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(50);
    let hard_end = start + window + Duration::from_secs_f64(o.timeout + 5.0);

    let mut handles = Vec::new();
    for _ in 0..o.connections {
        let (o, next, stop, max_lag_us) =
            (o.clone(), next.clone(), stop.clone(), max_lag_us.clone());
        handles.push(thread::spawn(move || {
            let mut st = Stats::default();
            let mut conn: Option<Conn> = None;
            loop {
                if stop.load(Ordering::Relaxed) || Instant::now() >= hard_end {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let due = if fixed {
                    start + Duration::from_secs_f64(i as f64 / o.rate)
                } else {
                    let now = Instant::now();
                    if now >= start + window {
                        break;
                    }
                    now.max(start)
                };
                let now = Instant::now();
                if due > now {
                    thread::sleep(due - now);
                }
                let req = build_request(&o, o.seq_start + i);
                let sent = Instant::now();
                if fixed {
                    let lag = sent.saturating_duration_since(due).as_micros() as u64;
                    max_lag_us.fetch_max(lag, Ordering::Relaxed);
                }
                if conn.is_none() {
                    match Conn::open(&o) {
                        Ok(c) => conn = Some(c),
                        Err(e) => {
                            st.errors += 1;
                            *st.error_kinds.entry(format!("connect: {e}")).or_default() += 1;
                            thread::sleep(Duration::from_millis(50));
                            continue;
                        }
                    }
                }
                let result = match conn.as_mut() {
                    Some(c) => c.exchange(&req),
                    None => continue,
                };
                let done = Instant::now();
                match result {
                    Ok((status, keep_alive)) => {
                        st.latency_us
                            .push(done.duration_since(due).as_micros() as u64);
                        st.service_us
                            .push(done.duration_since(sent).as_micros() as u64);
                        *st.statuses.entry(status).or_default() += 1;
                        st.last_done = Some(done);
                        if !keep_alive {
                            conn = None;
                        }
                    }
                    Err(e) => {
                        st.errors += 1;
                        *st.error_kinds.entry(format!("{:?}", e.kind())).or_default() += 1;
                        conn = None;
                    }
                }
            }
            st
        }));
    }

    let mut all = Stats::default();
    for h in handles {
        match h.join() {
            Ok(st) => {
                all.latency_us.extend(st.latency_us);
                all.service_us.extend(st.service_us);
                for (k, v) in st.statuses {
                    *all.statuses.entry(k).or_default() += v;
                }
                for (k, v) in st.error_kinds {
                    *all.error_kinds.entry(k).or_default() += v;
                }
                all.errors += st.errors;
                all.last_done = all.last_done.max(st.last_done);
            }
            Err(_) => {
                stop.store(true, Ordering::Relaxed);
                all.errors += 1;
                *all.error_kinds.entry("worker panicked".into()).or_default() += 1;
            }
        }
    }
    let completed: u64 = all.statuses.values().sum();
    let ok: u64 = all
        .statuses
        .iter()
        .filter(|(s, _)| (200..300).contains(*s))
        .map(|(_, n)| n)
        .sum();
    let elapsed = match all.last_done {
        Some(t) => t
            .saturating_duration_since(start)
            .as_secs_f64()
            .max(o.duration),
        None => o.duration,
    };
    let not_sent = if fixed {
        total.saturating_sub(completed + all.errors)
    } else {
        0
    };
    all.latency_us.sort_unstable();
    all.service_us.sort_unstable();
    let statuses = all
        .statuses
        .iter()
        .map(|(k, v)| format!("\"{k}\": {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let error_kinds = all
        .error_kinds
        .iter()
        .map(|(k, v)| format!("{}: {v}", json_str(k)))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "{{\"label\": {}, \"mode\": \"{}\", \"target_rate\": {:.1}, \"connections\": {}, \
         \"duration_s\": {:.3}, \"scheduled\": {}, \"completed\": {}, \"ok_2xx\": {}, \
         \"non_2xx\": {}, \"errors\": {}, \"not_sent\": {}, \"rps\": {:.1}, \"ok_rps\": {:.1}, \
         \"max_start_lag_ms\": {:.3}, \
         \"latency_ms\": {{\"p50\": {:.3}, \"p90\": {:.3}, \"p99\": {:.3}, \"max\": {:.3}}}, \
         \"service_ms\": {{\"p50\": {:.3}, \"p99\": {:.3}}}, \
         \"statuses\": {{{}}}, \"error_kinds\": {{{}}}}}",
        json_str(&o.label),
        if fixed { "fixed-rate" } else { "closed-loop" },
        o.rate,
        o.connections,
        elapsed,
        if fixed { total } else { completed + all.errors },
        completed,
        ok,
        completed - ok,
        all.errors,
        not_sent,
        completed as f64 / elapsed,
        ok as f64 / elapsed,
        max_lag_us.load(Ordering::Relaxed) as f64 / 1000.0,
        percentile(&all.latency_us, 50.0),
        percentile(&all.latency_us, 90.0),
        percentile(&all.latency_us, 99.0),
        all.latency_us.last().copied().unwrap_or(0) as f64 / 1000.0,
        percentile(&all.service_us, 50.0),
        percentile(&all.service_us, 99.0),
        statuses,
        error_kinds,
    );
}
