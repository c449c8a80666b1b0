//! Durations on the command line (`--retention 7d`, `--time-limit 1h`): a number and a unit,
//! parsed once for every flag that takes one.

/// Parses `90s`, `30m`, `12h`, `7d`. The unit is required: a bare `7` could mean 7 seconds or
/// 7 days, and guessing wrong deletes results early.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let Some(i) = t.find(|c: char| c.is_ascii_alphabetic()) else {
        return Err(format!(
            "{text:?} has no unit: write a number with s, m, h or d (e.g. 90s, 30m, 12h, 7d)"
        ));
    };
    let (num, unit) = (&t[..i], &t[i..]);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 30m, 12h or 7d"))?;
    let scale = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}: use s, m, h or d"
            ))
        }
    };
    if !(n.is_finite() && n >= 0.0) {
        return Err(format!("{text:?} must be a non-negative duration"));
    }
    Ok(std::time::Duration::from_secs_f64(n * scale))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        let e = parse_duration("7").unwrap_err();
        assert!(e.contains("no unit") && e.contains("s, m, h or d"), "{e}");
        assert!(parse_duration("7y").is_err());
    }
}
