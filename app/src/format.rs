//! Labels and numbers as pages write them: everything of `flashbulb_types::format`, and the
//! moments shown in the viewer's own time zone.

pub use flashbulb_types::format::*;

use crate::zone::ViewerZone;

/// `3 November 2026, 15:05` in the viewer's zone; `3 November 2026, 14:05 UTC` until the
/// browser has named it. The time and `UTC` are held together (a no-break space), so a narrow
/// column breaks the line after the comma.
pub fn moment_label(unix_seconds: i64, zone: &ViewerZone) -> String {
    match zone.offset_seconds(unix_seconds) {
        Some(offset) => clock_label(unix_seconds + i64::from(offset)),
        None => format!("{}\u{a0}UTC", clock_label(unix_seconds)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_in_utc_until_the_zone_is_known() {
        assert_eq!(
            moment_label(1_793_491_200 + 3_600 * 14 + 300, &ViewerZone::default()),
            "1 November 2026, 14:05\u{a0}UTC"
        );
    }
}
