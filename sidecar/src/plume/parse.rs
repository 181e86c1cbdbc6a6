//! Lenient field reading for Plume's JSON (issue 15 item 3, field notes finding 7).
//!
//! Plume's swagger types many fields loosely (`health: object`, `wifiConfig: [x-any]`, alerts
//! an object in one response and a list in another), so a strict `Deserialize` that rejects a
//! whole pod for one odd field would turn a unit red ("No pods found") over a field we do not
//! even need. Here every field is read on its own: a field of an unexpected type is left out
//! and named in `skipped` (`nodes[1].backhaulType (object)`); the pod or device stays.
//!
//! Conversions that lose nothing are not "skipped": a number where a string was expected
//! (`"model": 403`) becomes its text, a numeric string where a number was expected
//! (`"connectedDeviceCount": "3"`) its number.

use serde_json::{Map, Value};

/// Collects what could not be read, as `path (kind)`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Skipped(pub Vec<String>);

impl Skipped {
    pub fn push(&mut self, path: &str, field: &str, v: &Value) {
        self.0.push(format!("{path}.{field} ({})", kind(v)));
    }

    pub fn push_item(&mut self, path: &str, v: &Value) {
        self.0.push(format!("{path} ({})", kind(v)));
    }
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// A field read from one JSON object, recording type mismatches under `path`.
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    path: &'a str,
    skipped: &'a mut Skipped,
}

impl<'a> Fields<'a> {
    pub fn new(obj: &'a Map<String, Value>, path: &'a str, skipped: &'a mut Skipped) -> Self {
        Self { obj, path, skipped }
    }

    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }

    /// A string; numbers become their text; anything else is skipped.
    pub fn string(&mut self, key: &str) -> Option<String> {
        match self.raw(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            other => {
                self.skipped.push(self.path, key, other);
                None
            }
        }
    }

    /// A number; numeric strings are read; anything else is skipped.
    pub fn number(&mut self, key: &str) -> Option<f64> {
        match self.raw(key)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) if s.trim().parse::<f64>().is_ok_and(f64::is_finite) => {
                s.trim().parse().ok()
            }
            other => {
                self.skipped.push(self.path, key, other);
                None
            }
        }
    }

    /// A boolean; "true"/"false" strings are read; anything else is skipped.
    pub fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.raw(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
            other => {
                self.skipped.push(self.path, key, other);
                None
            }
        }
    }

    /// A nested object (or a bare string, returned as `Err(text)`); anything else is skipped.
    pub fn object_or_text(&mut self, key: &str) -> Option<Result<&'a Map<String, Value>, String>> {
        match self.raw(key)? {
            Value::Object(o) => Some(Ok(o)),
            Value::String(s) => Some(Err(s.clone())),
            other => {
                self.skipped.push(self.path, key, other);
                None
            }
        }
    }

    pub fn skip(&mut self, key: &str, v: &Value) {
        self.skipped.push(self.path, key, v);
    }

    pub fn skipped(&mut self) -> &mut Skipped {
        self.skipped
    }

    pub fn path(&self) -> &str {
        self.path
    }
}

/// `status` of a `{ "status": … }` object or a bare string (`networkStatus`, `serviceLevel`).
pub fn status_of(f: &mut Fields<'_>, key: &str) -> Option<String> {
    match f.object_or_text(key)? {
        Ok(o) => {
            let path = format!("{}.{key}", f.path());
            let mut inner = Fields::new(o, &path, f.skipped());
            inner.string("status")
        }
        Err(text) => Some(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plume_parse_reads_what_it_can_and_names_the_rest() {
        let v = json!({"a": "x", "n": 3, "s": "4.5", "b": "TRUE", "o": {"status": "online"},
                       "bad": [1], "badn": "many", "badb": 2, "nul": null, "t": "offline"});
        let obj = v.as_object().unwrap();
        let mut sk = Skipped::default();
        let mut f = Fields::new(obj, "nodes[0]", &mut sk);
        assert_eq!(f.string("a").as_deref(), Some("x"));
        assert_eq!(f.string("n").as_deref(), Some("3"));
        assert_eq!(f.number("s"), Some(4.5));
        assert_eq!(f.number("n"), Some(3.0));
        assert_eq!(f.boolean("b"), Some(true));
        assert_eq!(status_of(&mut f, "o").as_deref(), Some("online"));
        assert_eq!(status_of(&mut f, "t").as_deref(), Some("offline"));
        assert_eq!(f.string("bad"), None);
        assert_eq!(f.number("badn"), None);
        assert_eq!(f.boolean("badb"), None);
        assert_eq!(f.string("nul"), None);
        assert_eq!(f.string("missing"), None);
        assert_eq!(
            sk.0,
            vec![
                "nodes[0].bad (list)",
                "nodes[0].badn (string)",
                "nodes[0].badb (number)"
            ]
        );
    }
}
