//! How an error reads in a log field, a terminal or the history: one line.

/// An error and its causes on one line: "record the build: database or disk is full".
///
/// A cause whose text the line already ends with is left out: wrappers such as sqlx's
/// "error returned from database: (code: 13) database or disk is full" print their
/// source themselves, and saying it twice only makes the line harder to read.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("record the build")]
        Wrapped(#[source] Middle),
    }

    #[derive(Debug, thiserror::Error)]
    enum Middle {
        #[error("error returned from database: {0}")]
        Database(#[source] Leaf),
    }

    #[derive(Debug, thiserror::Error)]
    #[error("(code: 13) database or disk is full")]
    struct Leaf;

    #[test]
    fn every_cause_once() {
        let error = Outer::Wrapped(Middle::Database(Leaf));
        assert_eq!(
            chain(&error),
            "record the build: error returned from database: (code: 13) database or disk is full"
        );
    }

    #[test]
    fn a_lone_error_is_its_message() {
        assert_eq!(chain(&Leaf), "(code: 13) database or disk is full");
    }
}
