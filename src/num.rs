//! Number parsing and formatting with Redis's exact rules. A leaf module.
//!
//! Redis is strict where Rust is lenient (`+1`, `01` and `-0` are not integers to Redis) and
//! prints floats its own way; every command that reads or writes numbers goes through here.

/// Redis's `string2ll`: optional `-`, no `+`, no leading zeros, no spaces, fits in i64.
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    if bytes == b"0" {
        return Some(0);
    }
    let (negative, digits) = match bytes[0] {
        b'-' => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if value > i64::MAX as u64 + 1 {
            None
        } else {
            Some((value as i64).wrapping_neg())
        }
    } else {
        i64::try_from(value).ok()
    }
}

/// Redis's `string2ld`/`strtold` acceptance: a complete decimal or `inf`, never NaN, no
/// surrounding spaces.
pub fn parse_f64(bytes: &[u8]) -> Option<f64> {
    if bytes.is_empty() || bytes.len() > 5 * 1024 {
        return None;
    }
    if bytes[0].is_ascii_whitespace() || bytes[bytes.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let value: f64 = text.parse().ok()?;
    (!value.is_nan()).then_some(value)
}

/// How `INCRBYFLOAT`/`HINCRBYFLOAT` print their result. Redis computes in `long double` and
/// prints 17 decimals with trailing zeros removed, which hides the binary noise of sums such
/// as 0.1 + 0.2; rounding an f64 to 15 significant digits reproduces those results.
pub fn format_human_f64(value: f64) -> String {
    if value == value.trunc() && value.abs() < 1e17 {
        return format!("{}", value as i64);
    }
    let shortest = format!("{value}");
    let significant = shortest
        .trim_start_matches(['-', '0', '.'])
        .replace('.', "");
    if significant.trim_end_matches('0').len() <= 15 {
        return shortest;
    }
    let rounded: f64 = format!("{value:.14e}").parse().unwrap_or(value);
    format!("{rounded}")
}

/// Formats a double as Redis 7.2+ replies do: the shortest text that round-trips,
/// `inf`/`-inf`/`nan`, integers without a fraction.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        "nan".to_string()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.to_string()
    } else if d == d.trunc() && d.abs() < 1e17 {
        format!("{}", d as i64)
    } else {
        format!("{d}")
    }
}

/// The inclusive index range Redis's list and sorted-set commands (LRANGE, LTRIM, ZRANGE by
/// rank, ...) select from `len` items: negative indexes count from the end, a start before
/// the beginning is clamped, an end past the last item is clamped; `None` when empty.
pub fn index_range(start: i64, stop: i64, len: i64) -> Option<(i64, i64)> {
    let s = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let e = if stop < 0 {
        len + stop
    } else {
        stop.min(len - 1)
    };
    (s <= e && s < len).then_some((s, e))
}

/// The inclusive range GETRANGE, BITCOUNT and BITPOS select from `len` units: like
/// [`index_range`], except that a negative end before the beginning is clamped to the first
/// unit (so `GETRANGE k 0 -100` returns the first byte), as Redis does for strings.
pub fn string_range(start: i64, end: i64, len: i64) -> Option<(i64, i64)> {
    if len == 0 || (start < 0 && end < 0 && start > end) {
        return None;
    }
    let s = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let e = if end < 0 {
        (len + end).max(0)
    } else {
        end.min(len - 1)
    };
    (s <= e && s < len).then_some((s, e))
}

/// C's `%.{precision}g` (glibc's spelling of infinities and NaNs).
pub fn format_g(n: f64, precision: usize) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf" } else { "inf" }.into();
    }
    if n == 0.0 {
        return if n.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{:.*e}", precision - 1, n);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= precision as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        trim(&format!("{n:.decimals$}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b"01"[..], b"+1", b"-0", b"", b" 1", b"1 ", b"-", b"1.0"] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"5e3"), Some(5000.0));
        assert_eq!(parse_f64(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1x"), None);
    }

    #[test]
    fn ranges_follow_redis() {
        assert_eq!(index_range(0, -1, 5), Some((0, 4)));
        assert_eq!(index_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(index_range(0, -100, 5), None);
        assert_eq!(index_range(3, 1, 5), None);
        assert_eq!(string_range(0, -100, 5), Some((0, 0)));
        assert_eq!(string_range(-1, -5, 5), None);
        assert_eq!(string_range(0, 10, 0), None);
    }

    #[test]
    fn human_floats_match_redis() {
        assert_eq!(format_human_f64(0.1 + 0.2), "0.3");
        assert_eq!(format_human_f64(10.5), "10.5");
        assert_eq!(format_human_f64(5000.0), "5000");
        assert_eq!(format_human_f64(-0.1), "-0.1");
        assert_eq!(format_human_f64(3.0e3 + 0.25), "3000.25");
        assert_eq!(format_human_f64(1.1 + 2.2), "3.3");
    }
}
