//! Catalog problems: what went wrong, where, and what to do about it.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

/// One thing wrong with a catalog file, located by line and column (both 1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
    /// Byte range in the source, for diagnostics that show the offending text.
    pub span: Range<usize>,
}

impl Diagnostic for Problem {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.hint
            .as_ref()
            .map(|hint| Box::new(hint) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let label = LabeledSpan::new_primary_with_span(Some("here".into()), self.span.clone());
        Some(Box::new(std::iter::once(label)))
    }
}

/// Why a catalog could not be loaded.
///
/// `Display` is the plain form for logs and CI: one `file:line:col: message` line per
/// problem, each followed by an indented `hint:` line. For a terminal, [`Self::into_report`]
/// gives a miette report with a one-line summary and a source snippet per problem.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read catalog {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid catalog; every problem found is listed.
    #[error("{}", .0.plain())]
    Invalid(InvalidCatalog),
}

impl CatalogError {
    /// Every problem found, in file order; empty for I/O errors.
    pub fn problems(&self) -> &[Problem] {
        match self {
            CatalogError::Io { .. } => &[],
            CatalogError::Invalid(invalid) => &invalid.problems,
        }
    }

    /// A report for people at a terminal: the summary as the headline, then one snippet with
    /// a label and a hint per problem (rendering `CatalogError` itself would repeat the plain
    /// list above the snippets).
    pub fn into_report(self) -> miette::Report {
        match self {
            CatalogError::Invalid(invalid) => miette::Report::new(invalid),
            io => miette::Report::new(io),
        }
    }
}

/// A catalog with at least one problem.
///
/// The source kept for diagnostics has secret-looking values blanked out, so that rendering
/// a snippet never prints a secret someone pasted into the file.
pub struct InvalidCatalog {
    source: NamedSource<String>,
    problems: Vec<Problem>,
}

impl InvalidCatalog {
    pub(super) fn new(
        file_name: &str,
        redacted_source: String,
        mut problems: Vec<Problem>,
    ) -> Self {
        problems.sort_by_key(|p| (p.span.start, p.span.end));
        problems.dedup();
        InvalidCatalog {
            source: NamedSource::new(file_name, redacted_source),
            problems,
        }
    }
}

impl fmt::Debug for InvalidCatalog {
    // The source text is deliberately left out: it can be large and is only for rendering.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvalidCatalog")
            .field("file", &self.source.name())
            .field("problems", &self.problems)
            .finish()
    }
}

impl InvalidCatalog {
    /// Every problem, in file order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The plain rendering: one `file:line:col: message` line per problem plus an indented hint.
    pub fn plain(&self) -> impl fmt::Display + '_ {
        PlainProblems(self)
    }
}

struct PlainProblems<'a>(&'a InvalidCatalog);

impl fmt::Display for PlainProblems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let invalid = self.0;
        for (i, problem) in invalid.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}:{}: {}",
                invalid.source.name(),
                problem.line,
                problem.column,
                problem.message
            )?;
            if let Some(hint) = &problem.hint {
                write!(f, "\n  hint: {hint}")?;
            }
        }
        Ok(())
    }
}

/// The one-line summary used as the headline of a fancy report.
impl fmt::Display for InvalidCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "catalog {} has {count} {noun}", self.source.name())
    }
}

impl std::error::Error for InvalidCatalog {}

/// The source file once, and one related diagnostic (label + help) per problem.
impl Diagnostic for InvalidCatalog {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("catalog::invalid"))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.problems.iter().map(|p| p as &dyn Diagnostic)))
    }
}

impl Diagnostic for CatalogError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self {
            CatalogError::Io { .. } => Some(Box::new("catalog::io")),
            CatalogError::Invalid(invalid) => invalid.code(),
        }
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        match self {
            CatalogError::Io { .. } => None,
            CatalogError::Invalid(invalid) => invalid.source_code(),
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        match self {
            CatalogError::Io { .. } => None,
            CatalogError::Invalid(invalid) => invalid.related(),
        }
    }
}

/// Collects problems while the catalog is checked, so that all of them are reported at once.
pub(super) struct Problems<'s> {
    source: &'s str,
    list: Vec<Problem>,
    /// Values never shown in a snippet (one that failed a GUID check may be a
    /// secret pasted into the wrong key).
    hidden: Vec<Range<usize>>,
}

impl<'s> Problems<'s> {
    pub(super) fn new(source: &'s str) -> Self {
        Problems {
            source,
            list: Vec::new(),
            hidden: Vec::new(),
        }
    }

    /// Keeps the value at `span` out of every rendered snippet.
    pub(super) fn hide(&mut self, span: Range<usize>) {
        self.hidden.push(span);
    }

    /// The catalog's text, as written.
    pub(super) fn source(&self) -> &'s str {
        self.source
    }

    pub(super) fn hidden(&self) -> &[Range<usize>] {
        &self.hidden
    }

    pub(super) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.push(span, message.into(), None);
    }

    pub(super) fn hint(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.push(span, message.into(), Some(hint.into()));
    }

    pub(super) fn push(&mut self, span: Range<usize>, message: String, hint: Option<String>) {
        let (line, column) = line_column(self.source, span.start);
        self.list.push(Problem {
            line,
            column,
            message,
            hint,
            span,
        });
    }

    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    /// The 1-based line of a byte offset, for hints that point at another place in the file.
    pub(super) fn line_of(&self, offset: usize) -> usize {
        line_column(self.source, offset).0
    }

    pub(super) fn into_vec(self) -> Vec<Problem> {
        self.list
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(source: &str, mut offset: usize) -> usize {
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let source = "a = 1\nžluť = 2\n";
        assert_eq!(line_column(source, 0), (1, 1));
        assert_eq!(line_column(source, 6), (2, 1));
        // "žluť" is 6 bytes but 4 characters.
        let after_key = source.find(" = 2").unwrap();
        assert_eq!(line_column(source, after_key), (2, 5));
        assert_eq!(line_column(source, source.len()), (3, 1));
    }
}
