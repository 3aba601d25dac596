//! Geo behaviour beyond reply shapes (those are pinned against redis-server in
//! `differential`): searches agree with GEODIST for every member, RESP3 coordinates are
//! doubles, geo sets survive a restart.

use crate::harness::{cmd, Raw, Server, V};

#[test]
fn search_by_radius_returns_exactly_the_members_within_the_radius() {
    let server = Server::start();
    let mut con = server.client();
    // A 60 x 60 grid of shops around Milan, about 1.1 km apart.
    let mut add = redis::cmd("GEOADD");
    add.arg("shops");
    for i in 0..60 {
        for j in 0..60 {
            add.arg(9.0 + f64::from(i) * 0.015)
                .arg(45.3 + f64::from(j) * 0.01)
                .arg(format!("shop:{i}:{j}"));
        }
    }
    let added: i64 = add.query(&mut con).unwrap();
    assert_eq!(added, 3600);
    let _: i64 = cmd(&["GEOADD", "shops", "9.19", "45.4642", "here"])
        .query(&mut con)
        .unwrap();
    for radius_km in [0.5, 2.0, 7.5, 20.0] {
        let found: Vec<String> = redis::cmd("GEOSEARCH")
            .arg("shops")
            .arg("FROMMEMBER")
            .arg("here")
            .arg("BYRADIUS")
            .arg(radius_km)
            .arg("km")
            .query(&mut con)
            .unwrap();
        let mut expected = Vec::new();
        for i in 0..60 {
            for j in 0..60 {
                let name = format!("shop:{i}:{j}");
                let d: f64 = cmd(&["GEODIST", "shops", "here", &name, "km"])
                    .query::<String>(&mut con)
                    .unwrap()
                    .parse()
                    .unwrap();
                if d <= radius_km {
                    expected.push(name);
                }
            }
        }
        let mut found: Vec<String> = found.into_iter().filter(|m| m != "here").collect();
        found.sort();
        expected.sort();
        assert!(!expected.is_empty() || radius_km < 1.0);
        // GEODIST rounds to 4 decimals; a member exactly on the edge could differ by that.
        assert_eq!(found, expected, "radius {radius_km} km");
    }
}

#[test]
fn resp3_coordinates_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path(), &["--appendfsync", "always"]);
    let mut raw = server.raw();
    raw.cmd(&["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo"]);
    raw.cmd(&["HELLO", "3"]);
    let V::Array(pos) = raw.cmd(&["GEOPOS", "Sicily", "Palermo", "nope"]) else {
        panic!("GEOPOS replies with an array");
    };
    assert_eq!(
        pos[0],
        V::Array(vec![
            V::Double("13.36138933897018433".into()),
            V::Double("38.11555639549629859".into())
        ])
    );
    assert_eq!(pos[1], V::Nil);
    server.kill9();
    let server = Server::start_in(dir.path(), &[]);
    let mut raw: Raw = server.raw();
    assert_eq!(
        raw.cmd(&["GEOHASH", "Sicily", "Palermo"]),
        V::Array(vec![V::bulk("sqc8b49rny0")])
    );
    assert_eq!(raw.cmd(&["TYPE", "Sicily"]), V::Status("zset".into()));
}
