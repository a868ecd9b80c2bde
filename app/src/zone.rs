//! The viewer's time zone: the browser names it in a cookie, and pages show every instant (an
//! alert, a failure, when a photo went to the trash) in it rather than in UTC.

use serde::{Deserialize, Serialize};

/// An IANA time zone such as `Europe/Berlin`, as the viewer's browser reported it; `None` until
/// it has (the very first page a browser loads) or when it named none this server knows. Then
/// times show in UTC and say so.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewerZone(Option<String>);

impl ViewerZone {
    /// The cookie that carries the zone's name.
    pub const COOKIE: &'static str = "tz";
    /// Longer than any name in the time zone database (the longest has 32 characters).
    const MAX_NAME: usize = 64;

    /// The zone a `Cookie` header names, when it names one this server knows.
    pub fn from_cookie_header(header: &str) -> Self {
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == Self::COOKIE)
            .map(|(_, value)| Self::named(value))
            .unwrap_or_default()
    }

    /// A zone by its IANA name; unknown, malformed or hostile names give UTC.
    pub fn named(name: &str) -> Self {
        let plausible = !name.is_empty()
            && name.len() <= Self::MAX_NAME
            && name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"/_+-".contains(&byte));
        if !plausible {
            return Self(None);
        }
        #[cfg(feature = "ssr")]
        if lookup(name).is_none() {
            return Self(None);
        }
        Self(Some(name.to_string()))
    }

    /// The zone's IANA name; `None` for UTC.
    pub fn name(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// Seconds east of UTC in this zone at `unix_seconds`, summer time included; `None` when
    /// the zone is not known and times are shown in UTC.
    pub fn offset_seconds(&self, unix_seconds: i64) -> Option<i32> {
        let name = self.0.as_deref()?;
        #[cfg(feature = "ssr")]
        {
            let zone = lookup(name)?;
            let at = jiff::Timestamp::from_second(unix_seconds).ok()?;
            Some(zone.to_offset(at).seconds())
        }
        // The browser that set the cookie is the one running this: its own clock knows the
        // zone's rules, and the WebAssembly carries no time zone database.
        #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
        {
            let _ = name;
            let date = js_sys::Date::new_0();
            date.set_time(unix_seconds as f64 * 1000.0);
            Some((-date.get_timezone_offset() * 60.0) as i32)
        }
        #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
        {
            let _ = (name, unix_seconds);
            None
        }
    }

    /// Sets the cookie from the browser's own zone, on every page, whenever it differs: the
    /// next page renders in it. Inline in the head, so it runs before anything is clicked; no
    /// `&` or `<`, which the page's text escaping would change.
    pub const SCRIPT: &'static str = "(function(){try{\
        var zone=Intl.DateTimeFormat().resolvedOptions().timeZone;\
        if(zone){if(document.cookie.split('; ').indexOf('tz='+zone)==-1){\
        document.cookie='tz='+zone+'; path=/; max-age=31536000; samesite=lax'}}\
        }catch(error){}})()";
}

/// The zone's rules from the system's database, else from the bundled one: browsers still
/// report old names (Chromium says `Asia/Calcutta`) that slim systems ship without.
#[cfg(feature = "ssr")]
fn lookup(name: &str) -> Option<jiff::tz::TimeZone> {
    jiff::tz::db()
        .get(name)
        .or_else(|_| {
            static BUNDLED: std::sync::OnceLock<jiff::tz::TimeZoneDatabase> =
                std::sync::OnceLock::new();
            BUNDLED
                .get_or_init(jiff::tz::TimeZoneDatabase::bundled)
                .get(name)
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_names_the_zone_among_other_cookies() {
        let zone = ViewerZone::from_cookie_header("session=abc; tz=Asia/Kolkata; other=1");
        assert_eq!(zone.name(), Some("Asia/Kolkata"));
        assert_eq!(ViewerZone::from_cookie_header("session=abc").name(), None);
        assert_eq!(ViewerZone::from_cookie_header("").name(), None);
    }

    #[test]
    fn hostile_names_give_utc() {
        for name in [
            "",
            "../../etc/passwd",
            "Europe/Berlin\"><script>",
            "Europe Berlin",
            &"A".repeat(65),
            "Zone/With\u{202e}Override",
        ] {
            assert_eq!(ViewerZone::named(name).name(), None, "{name:?}");
        }
    }
}
