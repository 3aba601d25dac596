//! Geo sets: sorted sets whose scores are Redis's 52-bit interleaved geohashes, so a geo set
//! written by Strata reads the same in Redis and back (`GEOADD` is `ZADD` of those scores).
//!
//! Coordinates are encoded at 26 bits per axis over longitude [-180, 180] and latitude
//! [-85.05112878, 85.05112878] (the Web Mercator limits), longitude bits in the odd positions.
//! A search covers the centre cell and its eight neighbours at a step chosen from the radius
//! (Redis's algorithm, so results and their unsorted order match), reads each cell as one
//! score range of the sorted set, and keeps the points whose exact distance qualifies.

use crate::error::StoreResult;
use crate::storage::types::zset::{ScoreBound, ZRange};
use crate::storage::Storage;

pub const LON_MIN: f64 = -180.0;
pub const LON_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.051_128_78;
pub const LAT_MAX: f64 = 85.051_128_78;
const STEP_MAX: u8 = 26;
const EARTH_RADIUS_M: f64 = 6_372_797.560_856;
const MERCATOR_MAX: f64 = 20_037_726.37;
const DEG_TO_RAD: f64 = std::f64::consts::PI / 180.0;

/// A geohash of `step` bits per axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hash {
    bits: u64,
    step: u8,
}

/// Spreads the low 32 bits of `v` over the even bit positions.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bit positions of `v` into 32 bits.
fn gather(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Encodes within the given ranges; `None` outside them (or outside the Mercator limits).
fn encode_in(
    lon: f64,
    lat: f64,
    lon_range: (f64, f64),
    lat_range: (f64, f64),
    step: u8,
) -> Option<Hash> {
    if !(LON_MIN..=LON_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if !(lon_range.0..=lon_range.1).contains(&lon) || !(lat_range.0..=lat_range.1).contains(&lat) {
        return None;
    }
    let cells = (1u64 << step) as f64;
    let lat_offset = (lat - lat_range.0) / (lat_range.1 - lat_range.0) * cells;
    let lon_offset = (lon - lon_range.0) / (lon_range.1 - lon_range.0) * cells;
    Some(Hash {
        bits: spread(lat_offset as u32) | (spread(lon_offset as u32) << 1),
        step,
    })
}

fn encode(lon: f64, lat: f64, step: u8) -> Option<Hash> {
    encode_in(lon, lat, (LON_MIN, LON_MAX), (LAT_MIN, LAT_MAX), step)
}

/// The bounds of a cell: (lon min, lon max, lat min, lat max).
#[derive(Debug, Clone, Copy)]
struct Area {
    lon: (f64, f64),
    lat: (f64, f64),
}

fn decode(hash: Hash) -> Area {
    let lat_cell = gather(hash.bits);
    let lon_cell = gather(hash.bits >> 1);
    let cells = (1u64 << hash.step) as f64;
    let lat_scale = LAT_MAX - LAT_MIN;
    let lon_scale = LON_MAX - LON_MIN;
    Area {
        lat: (
            LAT_MIN + (f64::from(lat_cell) / cells) * lat_scale,
            LAT_MIN + ((f64::from(lat_cell) + 1.0) / cells) * lat_scale,
        ),
        lon: (
            LON_MIN + (f64::from(lon_cell) / cells) * lon_scale,
            LON_MIN + ((f64::from(lon_cell) + 1.0) / cells) * lon_scale,
        ),
    }
}

/// The score `GEOADD` stores for a coordinate; `None` if it is out of range.
pub fn score_of(lon: f64, lat: f64) -> Option<f64> {
    encode(lon, lat, STEP_MAX).map(|h| h.bits as f64)
}

pub fn valid_coordinates(lon: f64, lat: f64) -> bool {
    (LON_MIN..=LON_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

/// The centre of the cell a score names, as (longitude, latitude).
pub fn position_of(score: f64) -> (f64, f64) {
    let area = decode(Hash {
        bits: score as u64,
        step: STEP_MAX,
    });
    let lon = ((area.lon.0 + area.lon.1) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((area.lat.0 + area.lat.1) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The standard 11-character geohash (`GEOHASH`): the position re-encoded over the full
/// [-90, 90] latitude range; the 11th character has no bits left and is always '0'.
pub fn geohash_string(score: f64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = position_of(score);
    let bits = encode_in(lon, lat, (-180.0, 180.0), (-90.0, 90.0), STEP_MAX).map_or(0, |h| h.bits);
    (0..11)
        .map(|i| {
            let index = if i == 10 {
                0
            } else {
                ((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize
            };
            ALPHABET[index] as char
        })
        .collect()
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (lat2 * DEG_TO_RAD - lat1 * DEG_TO_RAD).abs()
}

/// Great-circle distance in metres (haversine on Redis's earth radius).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((lon2 * DEG_TO_RAD - lon1 * DEG_TO_RAD) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (lat1 * DEG_TO_RAD, lat2 * DEG_TO_RAD);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// A search area around a centre, sizes in metres.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// A point found by a search.
#[derive(Debug, Clone)]
pub struct Found {
    pub member: Vec<u8>,
    pub score: f64,
    pub lon: f64,
    pub lat: f64,
    /// Metres from the centre.
    pub dist: f64,
}

impl Shape {
    /// The distance from the centre if `(lon, lat)` is inside the shape.
    fn admits(&self, center: (f64, f64), lon: f64, lat: f64) -> Option<f64> {
        match *self {
            Shape::Radius(r) => {
                let d = distance(center.0, center.1, lon, lat);
                (d <= r).then_some(d)
            }
            Shape::Box { width, height } => {
                if lat_distance(lat, center.1) > height / 2.0 {
                    return None;
                }
                if distance(lon, lat, center.0, lat) > width / 2.0 {
                    return None;
                }
                Some(distance(center.0, center.1, lon, lat))
            }
        }
    }

    fn half_sizes(&self) -> (f64, f64) {
        match *self {
            Shape::Radius(r) => (r, r),
            Shape::Box { width, height } => (width / 2.0, height / 2.0),
        }
    }

    fn covering_radius(&self) -> f64 {
        match *self {
            Shape::Radius(r) => r,
            Shape::Box { width, height } => ((width / 2.0).powi(2) + (height / 2.0).powi(2)).sqrt(),
        }
    }
}

fn steps_for_radius(mut range: f64, lat: f64) -> u8 {
    if range == 0.0 {
        return STEP_MAX;
    }
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, i32::from(STEP_MAX)) as u8
}

fn move_x(h: Hash, d: i8) -> Hash {
    if d == 0 {
        return h;
    }
    let mut x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> (64 - u32::from(h.step) * 2);
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaa_aaaa_aaaa_aaaau64 >> (64 - u32::from(h.step) * 2);
    Hash { bits: x | y, ..h }
}

fn move_y(h: Hash, d: i8) -> Hash {
    if d == 0 {
        return h;
    }
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let mut y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> (64 - u32::from(h.step) * 2);
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555_5555_5555_5555u64 >> (64 - u32::from(h.step) * 2);
    Hash { bits: x | y, ..h }
}

/// The cells to read, in Redis's order: centre, N, S, E, W, NE, NW, SE, SW, minus those
/// wholly outside the shape's bounding box.
fn cells(center: (f64, f64), shape: &Shape) -> Vec<Hash> {
    let (lon, lat) = center;
    let (half_w, half_h) = shape.half_sizes();
    let lat_delta = (half_h / EARTH_RADIUS_M) / DEG_TO_RAD;
    let lon_delta_top =
        (half_w / EARTH_RADIUS_M / ((lat + lat_delta) * DEG_TO_RAD).cos()) / DEG_TO_RAD;
    let lon_delta_bottom =
        (half_w / EARTH_RADIUS_M / ((lat - lat_delta) * DEG_TO_RAD).cos()) / DEG_TO_RAD;
    let lon_delta = if lat < 0.0 {
        lon_delta_bottom
    } else {
        lon_delta_top
    };
    let (min_lon, max_lon) = (lon - lon_delta, lon + lon_delta);
    let (min_lat, max_lat) = (lat - lat_delta, lat + lat_delta);

    let mut step = steps_for_radius(shape.covering_radius(), lat);
    let neighbours = |h: Hash| {
        [
            (0, 1),
            (0, -1),
            (1, 0),
            (-1, 0),
            (1, 1),
            (-1, 1),
            (1, -1),
            (-1, -1),
        ]
        .map(|(dx, dy)| move_y(move_x(h, dx), dy))
    };
    let Some(mut hash) = encode(lon, lat, step) else {
        return Vec::new();
    };
    let mut around = neighbours(hash);
    let [north, south, east, west, ..] = around.map(decode);
    let too_small = north.lat.1 < max_lat
        || south.lat.0 > min_lat
        || east.lon.1 < max_lon
        || west.lon.0 > min_lon;
    if step > 1 && too_small {
        step -= 1;
        let Some(h) = encode(lon, lat, step) else {
            return Vec::new();
        };
        hash = h;
        around = neighbours(hash);
    }
    let area = decode(hash);
    // Index in `around`: 0 N, 1 S, 2 E, 3 W, 4 NE, 5 NW, 6 SE, 7 SW.
    let mut skip = [false; 8];
    if step >= 2 {
        if area.lat.0 < min_lat {
            for i in [1, 7, 6] {
                skip[i] = true;
            }
        }
        if area.lat.1 > max_lat {
            for i in [0, 4, 5] {
                skip[i] = true;
            }
        }
        if area.lon.0 < min_lon {
            for i in [3, 7, 5] {
                skip[i] = true;
            }
        }
        if area.lon.1 > max_lon {
            for i in [2, 6, 4] {
                skip[i] = true;
            }
        }
    }
    let mut out = vec![hash];
    for (i, h) in around.into_iter().enumerate() {
        if skip[i] {
            continue;
        }
        // Huge radii make neighbours coincide; read each cell once.
        if out.last() == Some(&h) && out.len() > 1 {
            continue;
        }
        out.push(h);
    }
    out
}

/// `[min, max)` scores of the 52-bit hashes inside a cell.
fn score_range(h: Hash) -> (f64, f64) {
    let shift = 52 - u32::from(h.step) * 2;
    ((h.bits << shift) as f64, ((h.bits + 1) << shift) as f64)
}

impl Storage {
    /// Members of the geo set at `key` inside `shape` around `center`, in Redis's unsorted
    /// order. With `any`, stops once that many were found.
    pub fn geo_search(
        &self,
        db: usize,
        key: &[u8],
        center: (f64, f64),
        shape: Shape,
        any: Option<usize>,
    ) -> StoreResult<Vec<Found>> {
        let mut found = Vec::new();
        for cell in cells(center, &shape) {
            if any.is_some_and(|n| found.len() >= n) {
                break;
            }
            let (min, max) = score_range(cell);
            let range = ZRange::Score(
                ScoreBound {
                    value: min,
                    exclusive: false,
                },
                ScoreBound {
                    value: max,
                    exclusive: true,
                },
            );
            for (member, score) in self.zrange(db, key, &range, false, 0, -1)? {
                let (lon, lat) = position_of(score);
                if let Some(dist) = shape.admits(center, lon, lat) {
                    found.push(Found {
                        member,
                        score,
                        lon,
                        lat,
                        dist,
                    });
                    if any.is_some_and(|n| found.len() >= n) {
                        break;
                    }
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palermo_scores_like_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" stores this score in Redis.
        assert_eq!(
            score_of(13.361389, 38.115556),
            Some(3_479_099_956_230_698.0)
        );
        let (lon, lat) = position_of(3_479_099_956_230_698.0);
        assert!((lon - 13.361_389).abs() < 1e-5 && (lat - 38.115_556).abs() < 1e-5);
        assert_eq!(geohash_string(3_479_099_956_230_698.0), "sqc8b49rny0");
    }

    #[test]
    fn palermo_catania_distance() {
        let p = position_of(score_of(13.361389, 38.115556).unwrap());
        let c = position_of(score_of(15.087269, 37.502669).unwrap());
        assert_eq!(
            format!("{:.4}", distance(p.0, p.1, c.0, c.1)),
            "166274.1516"
        );
    }

    #[test]
    fn out_of_range_is_refused() {
        assert_eq!(score_of(181.0, 0.0), None);
        assert_eq!(score_of(0.0, 86.0), None);
    }

    #[test]
    fn interleave_round_trips() {
        for v in [0u32, 1, 0x3ff_ffff, 0x155_5555, 12345] {
            assert_eq!(gather(spread(v)), v);
            assert_eq!(gather((spread(v) << 1) >> 1), v);
        }
    }
}
