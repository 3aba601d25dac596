//! A small RESP load generator for the side-by-side harness (`benches/harness.py`): a GET/SET
//! mix over zipfian-distributed keys, which `redis-benchmark` cannot produce. It speaks to any
//! Redis-protocol server, so Strata and redis-server are driven by the same code.
//!
//! `loadgen --port P [--keys N] [--value-size B] [--clients C] [--pipeline K]
//!          [--requests R] [--get-ratio F] [--zipf-s S] [--preload]`
//! prints one JSON line: `{"ops": .., "seconds": .., "rps": .., "p50_ms": .., "p99_ms": ..}`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rand::{Rng, SeedableRng};

struct Args {
    port: u16,
    keys: u64,
    value_size: usize,
    clients: usize,
    pipeline: usize,
    requests: u64,
    get_ratio: f64,
    zipf_s: f64,
    preload: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        port: 6379,
        keys: 100_000,
        value_size: 1024,
        clients: 50,
        pipeline: 1,
        requests: 200_000,
        get_ratio: 0.8,
        zipf_s: 0.99,
        preload: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        let mut consumed = 2;
        match argv[i].as_str() {
            "--port" => a.port = value.parse().expect("--port"),
            "--keys" => a.keys = value.parse().expect("--keys"),
            "--value-size" => a.value_size = value.parse().expect("--value-size"),
            "--clients" => a.clients = value.parse().expect("--clients"),
            "--pipeline" => a.pipeline = value.parse().expect("--pipeline"),
            "--requests" => a.requests = value.parse().expect("--requests"),
            "--get-ratio" => a.get_ratio = value.parse().expect("--get-ratio"),
            "--zipf-s" => a.zipf_s = value.parse().expect("--zipf-s"),
            "--preload" => {
                a.preload = true;
                consumed = 1;
            }
            other => panic!("unknown argument {other}"),
        }
        i += consumed;
    }
    a
}

/// Zipf(s) over ranks 1..=n by inverting a precomputed CDF (n is at most a few million).
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: u64, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n as usize);
        let mut total = 0.0;
        for rank in 1..=n {
            total += 1.0 / (rank as f64).powf(s);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut impl Rng) -> u64 {
        let u: f64 = rng.random();
        self.cdf.partition_point(|&c| c < u) as u64
    }
}

fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Reads one reply and discards it; panics on an error reply (a benchmark must not count
/// failures as throughput).
fn skip_reply(r: &mut BufReader<TcpStream>) {
    let mut line = String::new();
    r.read_line(&mut line).expect("read reply");
    match line.as_bytes().first() {
        Some(b'$') => {
            let n: i64 = line[1..].trim().parse().expect("bulk length");
            if n >= 0 {
                let mut buf = vec![0; n as usize + 2];
                r.read_exact(&mut buf).expect("bulk body");
            }
        }
        Some(b'+') | Some(b':') => {}
        Some(b'-') => panic!("server error: {line}"),
        _ => panic!("unexpected reply: {line:?}"),
    }
}

fn key_name(rank: u64) -> Vec<u8> {
    // Ranks are scattered over the key space so the hot keys are not neighbours on disk.
    let scattered = rank.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
    format!("key:{scattered:016x}").into_bytes()
}

fn preload(args: &Args) {
    let mut conn = TcpStream::connect(("127.0.0.1", args.port)).expect("connect");
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let value = vec![b'v'; args.value_size];
    let mut rank = 0;
    while rank < args.keys {
        let end = (rank + 1000).min(args.keys);
        let mut out = Vec::new();
        for r in rank..end {
            encode(&mut out, &[b"SET", &key_name(r), &value]);
        }
        conn.write_all(&out).expect("write");
        for _ in rank..end {
            skip_reply(&mut reader);
        }
        rank = end;
    }
}

fn main() {
    let args = parse_args();
    if args.preload {
        preload(&args);
    }
    let zipf = Arc::new(Zipf::new(args.keys, args.zipf_s));
    let per_client = args.requests / args.clients as u64;
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let threads: Vec<_> = (0..args.clients)
        .map(|c| {
            let (zipf, latencies) = (zipf.clone(), latencies.clone());
            let (port, pipeline, get_ratio, size) =
                (args.port, args.pipeline, args.get_ratio, args.value_size);
            std::thread::spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(c as u64);
                let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                conn.set_nodelay(true).ok();
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                let value = vec![b'w'; size];
                let mut mine = Vec::new();
                let mut done = 0u64;
                let mut out = Vec::new();
                while done < per_client {
                    out.clear();
                    let batch = (pipeline as u64).min(per_client - done);
                    for _ in 0..batch {
                        let key = key_name(zipf.sample(&mut rng));
                        if rng.random::<f64>() < get_ratio {
                            encode(&mut out, &[b"GET", &key]);
                        } else {
                            encode(&mut out, &[b"SET", &key, &value]);
                        }
                    }
                    let sent = Instant::now();
                    conn.write_all(&out).expect("write");
                    for _ in 0..batch {
                        skip_reply(&mut reader);
                    }
                    mine.push(sent.elapsed().as_secs_f64() * 1000.0);
                    done += batch;
                }
                latencies.lock().expect("latencies").extend(mine);
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let seconds = started.elapsed().as_secs_f64();
    let ops = per_client * args.clients as u64;
    let mut lat = latencies.lock().expect("latencies").clone();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "{{\"ops\": {ops}, \"seconds\": {seconds:.3}, \"rps\": {:.0}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}}}",
        ops as f64 / seconds,
        pct(0.50),
        pct(0.99)
    );
}
