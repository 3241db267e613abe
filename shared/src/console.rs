//! The web console's files, served by the `console` function at `/console`. They are built from
//! `console/src` (scripts/console-build, pinned npm packages bundled by esbuild) into `console/dist`,
//! committed, and compiled into the binary: one artifact carries code and console together, so a
//! deploy can never pair a console with routes of another version, and nothing needs a bucket or a
//! CDN. The whole console is some 130 KB (50 KB gzipped).
//!
//! The console calls only the public routes, with the key the user pastes; this function reads no
//! table and holds no secret. Its Content-Security-Policy (an HTTP header, so it also covers
//! `frame-ancestors`) lets the page connect to its own origin, where the API is, and to the bodies
//! bucket, where presigned `$ref` URLs point; nothing else.

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

/// The Content-Security-Policy of every console response: everything from the console's own
/// origin (the API's: both are routes of one HTTP API), no inline script or style, and fetches only
/// to that origin and `bodies_origin`.
pub fn content_security_policy(bodies_origin: Option<&str>) -> String {
    let connect = match bodies_origin {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_string(),
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
         connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The origin presigned body URLs have, as the store's S3 client builds them: the endpoint the
/// environment sets (`AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`; a local emulator), else the
/// bucket's regional AWS endpoint. `None` when neither is known: the page then fetches no body.
pub fn bodies_origin_from_env() -> Option<String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let bucket = var("BUCKET_NAME").unwrap_or_else(|| "runledger-bodies".into());
    let endpoint = var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL"));
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"));
    let path_style = var("S3_FORCE_PATH_STYLE").is_some_and(|v| v == "true");
    bodies_origin(&bucket, region.as_deref(), endpoint.as_deref(), path_style)
}

/// `scheme://host[:port]` of the bucket's objects, by the S3 endpoint rules: virtual-hosted
/// (`bucket.host`) when the name can be a host name, else path-style (`host/bucket`). Over https a
/// name with dots is path-style (its certificate would not match).
pub fn bodies_origin(bucket: &str, region: Option<&str>, endpoint: Option<&str>, path_style: bool) -> Option<String> {
    let (scheme, host, port) = match endpoint {
        Some(e) => {
            let url = url::Url::parse(e.trim()).ok()?;
            let host = url.host_str()?.to_string();
            (url.scheme().to_string(), host, url.port())
        }
        None => {
            let region = region?;
            if region.is_empty() || !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return None;
            }
            let suffix = if region.starts_with("cn-") {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            ("https".to_string(), format!("s3.{region}.{suffix}"), None)
        }
    };
    if !matches!(scheme.as_str(), "http" | "https") {
        return None;
    }
    let ip = host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[');
    let host = if !path_style && !ip && virtual_hostable(bucket, scheme == "http") {
        format!("{bucket}.{host}")
    } else {
        host
    };
    Some(match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    })
}

/// A bucket name that can be a host name: 3-63 lowercase letters, digits and hyphens with a letter
/// or digit at each end; when `dots` are allowed (plain http), several such parts joined by dots.
fn virtual_hostable(bucket: &str, dots: bool) -> bool {
    let part = |p: &str| {
        let b = p.as_bytes();
        let end = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        (3..=63).contains(&b.len()) && end(&b[0]) && end(&b[b.len() - 1]) && b.iter().all(|c| end(c) || *c == b'-')
    };
    if dots {
        bucket.split('.').all(part)
    } else {
        part(bucket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_lets_the_page_fetch_from_its_origin_and_the_bodies_bucket_only() {
        let origin = bodies_origin("runledger-bodies", Some("eu-west-1"), None, false).unwrap();
        assert_eq!(origin, "https://runledger-bodies.s3.eu-west-1.amazonaws.com");
        let csp = content_security_policy(Some(&origin));
        assert_eq!(
            csp,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
             connect-src 'self' https://runledger-bodies.s3.eu-west-1.amazonaws.com; object-src 'none'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        );
        assert!(
            lambda_http::http::HeaderValue::from_str(&csp).is_ok(),
            "a valid header value"
        );
        assert!(!csp.contains('*') && !csp.contains("unsafe"), "{csp}");
        assert!(content_security_policy(None).contains("connect-src 'self';"));
        // The emulator the local stacks run, path-style; a virtual-hosted custom endpoint.
        assert_eq!(
            bodies_origin(
                "runledger-bodies",
                Some("us-east-1"),
                Some("http://127.0.0.1:4577"),
                true
            )
            .as_deref(),
            Some("http://127.0.0.1:4577")
        );
        assert_eq!(
            bodies_origin("b-1", None, Some("https://s3.example.com/"), false).as_deref(),
            Some("https://b-1.s3.example.com")
        );
        // Names that cannot be a host name over https are path-style; China has its own suffix.
        assert_eq!(
            bodies_origin("my.bodies", Some("us-east-1"), None, false).as_deref(),
            Some("https://s3.us-east-1.amazonaws.com")
        );
        assert_eq!(
            bodies_origin("bodies", Some("cn-north-1"), None, false).as_deref(),
            Some("https://bodies.s3.cn-north-1.amazonaws.com.cn")
        );
        assert_eq!(bodies_origin("bodies", None, None, false), None);
        assert_eq!(bodies_origin("bodies", Some("x; script-src *"), None, false), None);
        assert_eq!(bodies_origin("bodies", None, Some("javascript:alert(1)"), false), None);
    }

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
        // The policy is a header (`content_security_policy`); a meta tag could not forbid framing.
        assert!(!page.to_ascii_lowercase().contains("content-security-policy"));
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
