//! The web console's files, served by the `console` function at `/console`. They are built from
//! `console/src` (scripts/console-build, pinned npm packages bundled by esbuild) into `console/dist`,
//! committed, and compiled into the binary: one artifact carries code and console together, so a
//! deploy can never pair a console with routes of another version, and nothing needs a bucket or a
//! CDN. The whole console is some 130 KB (50 KB gzipped).
//!
//! The console calls only the public routes, with the key the user pastes; this function reads no
//! table and holds no secret.

/// (path below `/console/`, content type, bytes); the empty path is the page itself.
const FILES: [(&str, &str, &[u8]); 4] = [
    (
        "",
        "text/html; charset=utf-8",
        include_bytes!("../../console/dist/index.html"),
    ),
    (
        "assets/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/dist/assets/app.js"),
    ),
    (
        "assets/app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../console/dist/assets/app.css"),
    ),
    (
        "assets/licenses.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../console/dist/assets/licenses.txt"),
    ),
];

/// A console file by request path (`/console`, `/console/`, `/console/assets/app.js`, after any
/// stage prefix): its content type and bytes.
pub fn file(path: &str) -> Option<(&'static str, &'static [u8])> {
    let at = path.find("/console")?;
    let rest = &path[at + "/console".len()..];
    let name = match rest {
        "" | "/" | "/index.html" => "",
        r => r.strip_prefix('/')?,
    };
    FILES.iter().find(|(n, ..)| *n == name).map(|(_, t, b)| (*t, *b))
}

/// Whether a browser may keep a file: the page is checked every time, so a deploy shows at once;
/// assets keep fixed names, so they are kept only briefly.
pub fn cache_control(content_type: &str) -> &'static str {
    if content_type.starts_with("text/html") {
        "no-cache"
    } else {
        "public, max-age=300"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_assets_are_found_and_nothing_else() {
        for p in ["/console", "/console/", "/prod/console/index.html"] {
            let (t, body) = file(p).unwrap();
            assert!(
                t.starts_with("text/html") && body.starts_with(b"<!doctype html>"),
                "{p}"
            );
        }
        let page = std::str::from_utf8(file("/console").unwrap().1).unwrap();
        for asset in ["/console/assets/app.js", "/console/assets/app.css"] {
            assert!(page.contains(asset), "the page loads {asset}");
            assert!(!file(asset).unwrap().1.is_empty());
        }
        assert_eq!(
            file("/console/assets/app.js").unwrap().0,
            "text/javascript; charset=utf-8"
        );
        assert!(file("/console/assets/../../etc/passwd").is_none());
        assert!(file("/console/other.js").is_none());
        assert!(file("/v1/projects/p/stats").is_none());
    }
}
