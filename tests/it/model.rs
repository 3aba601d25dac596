//! Model-based property test: random command sequences over strings, hashes, lists, sets
//! and sorted sets run against Strata and against an in-memory model of Redis's semantics;
//! every reply must match. Seeds are fixed, so a failure reproduces exactly.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::harness::{Server, V};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Hash(BTreeMap<String, String>),
    List(VecDeque<String>),
    Set(BTreeSet<String>),
    ZSet(HashMap<String, i64>),
}

#[derive(Default)]
struct Model {
    keys: HashMap<String, Value>,
}

fn bulk(s: &str) -> V {
    V::bulk(s)
}

fn err() -> V {
    V::Error(WRONGTYPE.into())
}

fn sorted_bulks(mut items: Vec<String>) -> V {
    items.sort();
    V::Array(items.iter().map(|s| bulk(s)).collect())
}

impl Model {
    /// Applies one command and returns Redis's reply. Empty collections disappear.
    fn apply(&mut self, cmd: &[String]) -> V {
        let key = cmd[1].clone();
        let reply = self.apply_inner(cmd, &key);
        let empty = match self.keys.get(&key) {
            Some(Value::Hash(h)) => h.is_empty(),
            Some(Value::List(l)) => l.is_empty(),
            Some(Value::Set(s)) => s.is_empty(),
            Some(Value::ZSet(z)) => z.is_empty(),
            _ => false,
        };
        if empty {
            self.keys.remove(&key);
        }
        reply
    }

    fn apply_inner(&mut self, cmd: &[String], key: &str) -> V {
        let entry = self.keys.get(key).cloned();
        macro_rules! typed {
            ($variant:ident, $default:expr) => {
                match entry {
                    None => $default,
                    Some(Value::$variant(v)) => v,
                    Some(_) => return err(),
                }
            };
        }
        match cmd[0].as_str() {
            "SET" => {
                self.keys.insert(key.into(), Value::Str(cmd[2].clone()));
                V::Status("OK".into())
            }
            "GET" => match entry {
                None => V::Nil,
                Some(Value::Str(s)) => bulk(&s),
                Some(_) => err(),
            },
            "DEL" => V::Int(i64::from(self.keys.remove(key).is_some())),
            "TYPE" => V::Status(
                match entry {
                    None => "none",
                    Some(Value::Str(_)) => "string",
                    Some(Value::Hash(_)) => "hash",
                    Some(Value::List(_)) => "list",
                    Some(Value::Set(_)) => "set",
                    Some(Value::ZSet(_)) => "zset",
                }
                .into(),
            ),
            "HSET" => {
                let mut h = typed!(Hash, BTreeMap::new());
                let added = h.insert(cmd[2].clone(), cmd[3].clone()).is_none();
                self.keys.insert(key.into(), Value::Hash(h));
                V::Int(i64::from(added))
            }
            "HDEL" => {
                let mut h = typed!(Hash, BTreeMap::new());
                let removed = h.remove(&cmd[2]).is_some();
                self.keys.insert(key.into(), Value::Hash(h));
                V::Int(i64::from(removed))
            }
            "HGET" => typed!(Hash, BTreeMap::new())
                .get(&cmd[2])
                .map_or(V::Nil, |v| bulk(v)),
            "HLEN" => V::Int(typed!(Hash, BTreeMap::new()).len() as i64),
            "HGETALL" => V::Array(
                typed!(Hash, BTreeMap::new())
                    .iter()
                    .flat_map(|(f, v)| [bulk(f), bulk(v)])
                    .collect(),
            ),
            "LPUSH" | "RPUSH" => {
                let mut l = typed!(List, VecDeque::new());
                if cmd[0] == "LPUSH" {
                    l.push_front(cmd[2].clone());
                } else {
                    l.push_back(cmd[2].clone());
                }
                let n = l.len();
                self.keys.insert(key.into(), Value::List(l));
                V::Int(n as i64)
            }
            "LPOP" | "RPOP" => {
                let mut l = typed!(List, VecDeque::new());
                let v = if cmd[0] == "LPOP" {
                    l.pop_front()
                } else {
                    l.pop_back()
                };
                self.keys.insert(key.into(), Value::List(l));
                v.map_or(V::Nil, |s| bulk(&s))
            }
            "LLEN" => V::Int(typed!(List, VecDeque::new()).len() as i64),
            "LRANGE" => V::Array(
                typed!(List, VecDeque::new())
                    .iter()
                    .map(|s| bulk(s))
                    .collect(),
            ),
            "LINDEX" => {
                let l = typed!(List, VecDeque::new());
                let i: i64 = cmd[2].parse().unwrap();
                let idx = if i < 0 { l.len() as i64 + i } else { i };
                if idx < 0 {
                    V::Nil
                } else {
                    l.get(idx as usize).map_or(V::Nil, |s| bulk(s))
                }
            }
            "LREM" => {
                let mut l = typed!(List, VecDeque::new());
                let before = l.len();
                l.retain(|e| *e != cmd[3]);
                let n = before - l.len();
                self.keys.insert(key.into(), Value::List(l));
                V::Int(n as i64)
            }
            "SADD" => {
                let mut s = typed!(Set, BTreeSet::new());
                let added = s.insert(cmd[2].clone());
                self.keys.insert(key.into(), Value::Set(s));
                V::Int(i64::from(added))
            }
            "SREM" => {
                let mut s = typed!(Set, BTreeSet::new());
                let removed = s.remove(&cmd[2]);
                self.keys.insert(key.into(), Value::Set(s));
                V::Int(i64::from(removed))
            }
            "SISMEMBER" => V::Int(i64::from(typed!(Set, BTreeSet::new()).contains(&cmd[2]))),
            "SCARD" => V::Int(typed!(Set, BTreeSet::new()).len() as i64),
            "SMEMBERS" => sorted_bulks(typed!(Set, BTreeSet::new()).into_iter().collect()),
            "ZADD" => {
                let mut z = typed!(ZSet, HashMap::new());
                let added = z.insert(cmd[3].clone(), cmd[2].parse().unwrap()).is_none();
                self.keys.insert(key.into(), Value::ZSet(z));
                V::Int(i64::from(added))
            }
            "ZREM" => {
                let mut z = typed!(ZSet, HashMap::new());
                let removed = z.remove(&cmd[2]).is_some();
                self.keys.insert(key.into(), Value::ZSet(z));
                V::Int(i64::from(removed))
            }
            "ZINCRBY" => {
                let mut z = typed!(ZSet, HashMap::new());
                let delta: i64 = cmd[2].parse().unwrap();
                let score = z.get(&cmd[3]).copied().unwrap_or(0) + delta;
                z.insert(cmd[3].clone(), score);
                self.keys.insert(key.into(), Value::ZSet(z));
                bulk(&score.to_string())
            }
            "ZSCORE" => typed!(ZSet, HashMap::new())
                .get(&cmd[2])
                .map_or(V::Nil, |s| bulk(&s.to_string())),
            "ZCARD" => V::Int(typed!(ZSet, HashMap::new()).len() as i64),
            "ZRANGE" => {
                let z = typed!(ZSet, HashMap::new());
                let mut items: Vec<(i64, String)> = z.into_iter().map(|(m, s)| (s, m)).collect();
                items.sort();
                V::Array(
                    items
                        .iter()
                        .flat_map(|(s, m)| [bulk(m), bulk(&s.to_string())])
                        .collect(),
                )
            }
            "ZRANK" => {
                let z = typed!(ZSet, HashMap::new());
                let mut items: Vec<(i64, String)> = z.into_iter().map(|(m, s)| (s, m)).collect();
                items.sort();
                items
                    .iter()
                    .position(|(_, m)| *m == cmd[2])
                    .map_or(V::Nil, |p| V::Int(p as i64))
            }
            other => panic!("model does not know {other}"),
        }
    }
}

fn random_command(rng: &mut StdRng) -> Vec<String> {
    let key = format!("k{}", rng.random_range(0..6));
    let member = format!("m{}", rng.random_range(0..8));
    let value = format!("v{}", rng.random_range(0..100));
    let score = rng.random_range(-5..5).to_string();
    let idx = rng.random_range(-4..4).to_string();
    let parts: Vec<&str> = match rng.random_range(0..33) {
        0 => vec!["SET", &key, &value],
        1 => vec!["GET", &key],
        2 => vec!["DEL", &key],
        3 => vec!["TYPE", &key],
        4 | 5 => vec!["HSET", &key, &member, &value],
        6 => vec!["HDEL", &key, &member],
        7 => vec!["HGET", &key, &member],
        8 => vec!["HLEN", &key],
        9 => vec!["HGETALL", &key],
        10 | 11 => vec!["LPUSH", &key, &value],
        12 | 13 => vec!["RPUSH", &key, &member],
        14 => vec!["LPOP", &key],
        15 => vec!["RPOP", &key],
        16 => vec!["LLEN", &key],
        17 => vec!["LRANGE", &key, "0", "-1"],
        18 => vec!["LINDEX", &key, &idx],
        19 => vec!["LREM", &key, "0", &member],
        20 | 21 => vec!["SADD", &key, &member],
        22 => vec!["SREM", &key, &member],
        23 => vec!["SISMEMBER", &key, &member],
        24 => vec!["SCARD", &key],
        25 => vec!["SMEMBERS", &key],
        26 | 27 => vec!["ZADD", &key, &score, &member],
        28 => vec!["ZREM", &key, &member],
        29 => vec!["ZINCRBY", &key, &score, &member],
        30 => vec!["ZSCORE", &key, &member],
        31 => vec!["ZRANGE", &key, "0", "-1", "WITHSCORES"],
        _ => vec!["ZRANK", &key, &member],
    };
    parts.into_iter().map(String::from).collect()
}

fn normalize(cmd: &[String], v: V) -> V {
    match (cmd[0].as_str(), v) {
        ("SMEMBERS", V::Array(items)) => sorted_bulks(items.iter().map(V::text).collect()),
        (_, other) => other,
    }
}

#[test]
fn random_sequences_match_the_model() {
    let s = Server::start();
    let mut r = s.raw();
    for seed in 0..8u64 {
        r.cmd(&["FLUSHALL"]);
        let mut model = Model::default();
        let mut rng = StdRng::seed_from_u64(seed);
        for step in 0..1500 {
            let cmd = random_command(&mut rng);
            let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
            let got = normalize(&cmd, r.cmd(&refs));
            let expected = model.apply(&cmd);
            assert_eq!(got, expected, "seed {seed} step {step}: {cmd:?}");
        }
        // The keyspace agrees too.
        assert_eq!(
            r.cmd(&["DBSIZE"]),
            V::Int(model.keys.len() as i64),
            "seed {seed}"
        );
    }
}
