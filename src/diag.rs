//! Diagnostics for everything the user writes (rules, topology, key logs): file, line,
//! column, field, and what to do.

use std::fmt;

// ---------------------------------------------------------------------------
// Diagnostics
// ---------------------------------------------------------------------------

/// One problem in a rules or topology file, located and with advice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// File name as given (embedded files use their name under `rules/`).
    pub file: String,
    /// 1-based line; 0 when the problem is not inside the text (unreadable file).
    pub line: usize,
    /// 1-based column (characters); 0 when unknown.
    pub column: usize,
    /// The field concerned, e.g. `severity` or `roles.mailbox`.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub help: String,
}

impl Diagnostic {
    /// A diagnostic at byte `offset` of `text`.
    pub(crate) fn at(
        file: &str,
        text: &str,
        offset: usize,
        field: Option<&str>,
        message: String,
        help: String,
    ) -> Diagnostic {
        let (line, column) = line_col(text, offset);
        Diagnostic {
            file: file.to_string(),
            line,
            column,
            field: field.map(str::to_string),
            message,
            help,
        }
    }

    /// Turns a TOML syntax or shape error into a diagnostic; the field is taken from the
    /// message (unknown/missing field) or from the key the error points at.
    pub(crate) fn from_toml(file: &str, text: &str, err: &toml::de::Error) -> Diagnostic {
        let message = err.message().trim().to_string();
        let offset = err.span().map(|s| s.start).unwrap_or(0);
        let field = field_in_message(&message).or_else(|| key_at(text, offset));
        let help = if message.contains("unknown field") {
            "remove or correct the field; the schema is in rules/README.md".to_string()
        } else if message.contains("missing field") {
            "add the field; the schema is in rules/README.md".to_string()
        } else {
            "fix the value or the TOML syntax at this position; see rules/README.md".to_string()
        };
        let (line, column) = if err.span().is_some() {
            line_col(text, offset)
        } else {
            (0, 0)
        };
        Diagnostic {
            file: file.to_string(),
            line,
            column,
            field,
            message,
            help,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if !self.help.is_empty() {
            write!(f, "\n  help: {}", self.help)?;
        }
        Ok(())
    }
}

/// Every problem found while loading; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadError {
    /// An error with one diagnostic.
    pub fn single(d: Diagnostic) -> LoadError {
        LoadError { diagnostics: vec![d] }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before.get(line_start..).map(|s| s.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

fn field_in_message(message: &str) -> Option<String> {
    let rest = message.split("field `").nth(1)?;
    let name = rest.split('`').next()?;
    (!name.is_empty()).then(|| name.to_string())
}

/// The key whose value (or which key itself) starts at `offset`.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let prefix = text.get(line_start..offset)?;
    let clean = |k: &str| {
        let k = k.trim().trim_matches('"').trim();
        (!k.is_empty() && !k.starts_with('[')).then(|| k.to_string())
    };
    if let Some(eq) = prefix.rfind('=') {
        let lhs = prefix.get(..eq)?;
        let start = lhs.rfind(['{', ',']).map(|i| i + 1).unwrap_or(0);
        return clean(lhs.get(start..)?);
    }
    let line_end = text.get(offset..)?.find('\n').map(|i| i + offset);
    let rest = text.get(offset..line_end.unwrap_or(text.len()))?;
    clean(rest.split('=').next()?)
}
