//! The Content-Security-Policy of pages: which scripts may run. A page rendered for one
//! response names a fresh nonce that its inline scripts carry. A page kept in the page cache
//! is sent to many responses, so it must not name a nonce at all (one nonce seen twice would
//! let an injected script reuse it): when stored, its scripts lose the nonce and its policy
//! names the SHA-256 of each inline script instead, which admits exactly those scripts and
//! stays true for as long as the stored bytes do.

use axum::http::HeaderValue;
use base64::Engine;
use sha2::Digest;

/// What the policy admits besides the site's own script files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InlineScripts<'a> {
    /// Inline scripts carrying this nonce: one response's rendering.
    Nonce(&'a str),
    /// Exactly the inline scripts of these digests (`sha256-…`, base64): a stored page.
    Hashes(&'a [String]),
}

/// Scripts run only from this site and only inline with the page's nonce or digest; WebAssembly
/// may compile; no plugins, no framing, no foreign forms. Styles allow inline attributes: the
/// grid positions its cells with them, and styles run no code.
pub fn policy(inline: InlineScripts<'_>) -> String {
    let mut sources = String::new();
    match inline {
        InlineScripts::Nonce(nonce) => sources.push_str(&format!(" 'nonce-{nonce}'")),
        InlineScripts::Hashes(hashes) => {
            for hash in hashes {
                sources.push_str(&format!(" '{hash}'"));
            }
        }
    }
    format!(
        "default-src 'self'; script-src 'self'{sources} 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

/// The nonce a policy names, if it names one.
pub fn nonce_of(policy: &str) -> Option<&str> {
    let start = policy.find("'nonce-")? + "'nonce-".len();
    let length = policy[start..].find('\'')?;
    Some(&policy[start..start + length])
}

/// A rendered page made fit for many responses: every `nonce="…"` of its rendering removed,
/// and a policy naming the digests of its inline scripts in place of the nonce. `None` when
/// the policy names no nonce or the page is not UTF-8 (left as it is: nothing to share).
pub fn pin_to_digests(page: &[u8], policy: &HeaderValue) -> Option<(Vec<u8>, HeaderValue)> {
    let nonce = nonce_of(policy.to_str().ok()?)?;
    let page = std::str::from_utf8(page).ok()?;
    let page = page.replace(&format!(" nonce=\"{nonce}\""), "");
    let hashes = inline_script_digests(&page);
    let pinned = HeaderValue::from_str(&self::policy(InlineScripts::Hashes(&hashes))).ok()?;
    Some((page.into_bytes(), pinned))
}

/// `sha256-…` of each distinct inline script of `page`, in order of first appearance: the
/// text between a `<script …>` without `src` and its `</script>`, as the browser hashes it
/// (HTML never decodes a script's text).
pub fn inline_script_digests(page: &str) -> Vec<String> {
    let mut digests: Vec<String> = Vec::new();
    let mut rest = page;
    while let Some(open) = rest.find("<script") {
        let after_name = &rest[open + "<script".len()..];
        // `<scripts>` or `<script-x>` are other elements.
        if !after_name.starts_with(|c: char| c == '>' || c.is_ascii_whitespace()) {
            rest = after_name;
            continue;
        }
        let Some(tag_end) = after_name.find('>') else {
            break;
        };
        let attributes = &after_name[..tag_end];
        let body = &after_name[tag_end + 1..];
        let Some(close) = body.find("</script") else {
            break;
        };
        if !has_src(attributes) {
            let digest = sha2::Sha256::digest(&body.as_bytes()[..close]);
            let digest = format!(
                "sha256-{}",
                base64::engine::general_purpose::STANDARD.encode(digest)
            );
            if !digests.contains(&digest) {
                digests.push(digest);
            }
        }
        rest = &body[close..];
    }
    digests
}

/// Whether a script tag's attributes include `src`, which makes it a file, not inline.
fn has_src(attributes: &str) -> bool {
    attributes
        .split_ascii_whitespace()
        .any(|attribute| attribute == "src" || attribute.starts_with("src="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendering_names_its_nonce() {
        let text = policy(InlineScripts::Nonce("abc123"));
        assert!(text.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"));
        assert_eq!(nonce_of(&text), Some("abc123"));
        let scripts = text.split(';').find(|d| d.trim().starts_with("script-src"));
        assert!(!scripts.expect("script-src").contains("unsafe-inline"));
    }

    #[test]
    fn inline_scripts_are_hashed_as_the_browser_hashes_them() {
        let page = "<head><script src=\"/pkg/a.js\" async></script>\
                    <script type=\"module\">import('/pkg/x.js')</script>\
                    <scripts>not one</scripts><script>let a = 1 < 2;</script>\
                    <script>let a = 1 < 2;</script><script></script></head>";
        let digests = inline_script_digests(page);
        let expected = |text: &str| {
            format!(
                "sha256-{}",
                base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text))
            )
        };
        assert_eq!(
            digests,
            vec![
                expected("import('/pkg/x.js')"),
                expected("let a = 1 < 2;"),
                expected(""),
            ]
        );
        // The digest of an empty script, as browsers publish it in their CSP reports.
        assert_eq!(
            expected(""),
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn a_stored_page_loses_its_nonce_for_digests() {
        let nonce = "Zm9vYmFyYmF6cXV4";
        let page = format!(
            "<script nonce=\"{nonce}\" src=\"/pkg/v.js\"></script>\
             <script type=\"module\" nonce=\"{nonce}\">hydrate()</script>\
             <p>nonce=\"{nonce}\" in text is left</p>"
        );
        let header = HeaderValue::from_str(&policy(InlineScripts::Nonce(nonce))).expect("ascii");
        let (pinned, pinned_policy) = pin_to_digests(page.as_bytes(), &header).expect("pinned");
        let pinned = String::from_utf8(pinned).expect("utf-8");
        assert_eq!(pinned.matches(nonce).count(), 1, "{pinned}");
        assert!(pinned.contains("<script type=\"module\">hydrate()</script>"));
        let pinned_policy = pinned_policy.to_str().expect("ascii");
        assert_eq!(nonce_of(pinned_policy), None);
        let digests = inline_script_digests(&pinned);
        assert_eq!(digests.len(), 1);
        assert!(pinned_policy.contains(&format!("script-src 'self' '{}'", digests[0])));
        // Nothing to pin: no nonce, or bytes that are no page.
        let plain = HeaderValue::from_static("default-src 'self'");
        assert_eq!(pin_to_digests(page.as_bytes(), &plain), None);
        assert_eq!(pin_to_digests(&[0xff, 0xfe], &header), None);
    }

    #[test]
    fn unfinished_scripts_end_the_scan() {
        assert_eq!(
            inline_script_digests("<script>never closed"),
            Vec::<String>::new()
        );
        assert_eq!(inline_script_digests("<script"), Vec::<String>::new());
        assert_eq!(inline_script_digests("<script x"), Vec::<String>::new());
    }
}
