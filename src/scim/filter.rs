//! SCIM filter expressions (RFC 7644 §3.4.2.2): the `filter` query parameter grammar,
//! its AST, and a canonical text form that parses back to the same AST.
//! The recursive-descent `Parser` here is also the tokenizer behind PATCH paths
//! (RFC 7644 §3.5.2, see `super::path`), so both grammars report errors the same way.
//! Matching attribute names against a schema is the caller's job: names keep their case.

use super::quirks::{Quirk, Quirks};
use std::fmt;

/// An attribute reference as written: optional schema URN, attribute name, optional sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// Schema URN prefix as written, without the trailing `:`
    /// (e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`).
    pub urn: Option<String>,
    /// Attribute name, case preserved as written (e.g. `emails`).
    pub name: String,
    /// Sub-attribute after the `.`, case preserved (e.g. `value`).
    pub sub_attr: Option<String>,
}

/// Comparison operators of RFC 7644 §3.4.2.2 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains.
    Co,
    /// `sw`: starts with.
    Sw,
    /// `ew`: ends with.
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

/// The literal on the right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// A JSON string, escapes already decoded.
    String(String),
    /// A JSON number, kept as serde_json parsed it (integers stay exact).
    Number(serde_json::Number),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr op value`.
    Compare {
        /// Left-hand attribute.
        attr: AttrPath,
        /// Operator.
        op: CompareOp,
        /// Right-hand literal.
        value: CompValue,
    },
    /// `attr pr`.
    Present(AttrPath),
    /// `emails[type eq "work" and value co "@x"]`: `attr` has no sub_attr and no urn-less ambiguity;
    /// paths inside `filter` are relative to one element of the multi-valued attribute.
    ValuePath {
        /// The multi-valued attribute.
        attr: AttrPath,
        /// Filter applied to each element.
        filter: Box<Filter>,
    },
    /// `left and right`.
    And(Box<Filter>, Box<Filter>),
    /// `left or right`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (inner)`.
    Not(Box<Filter>),
}

/// A filter that could not be parsed: where, what was expected, what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    /// 1-based character (not byte) column of the problem; `len + 1` means end of input.
    pub position: usize,
    /// What the parser wanted at `position`.
    pub expected: String,
    /// What it saw instead: the offending token, or `end of input`.
    pub found: String,
    /// Full sentence suitable for an HTTP error `detail`.
    pub message: String,
}

impl CompareOp {
    /// The operator keyword as RFC 7644 spells it, lower case (`"eq"`, `"ne"`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    fn from_keyword(word: &str) -> Option<Self> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter()
            .find(|op| word.eq_ignore_ascii_case(op.as_str()))
    }
}

/// Parses a `filter` query parameter (RFC 7644 §3.4.2.2) into a [`Filter`].
///
/// Beyond the RFC grammar this accepts what real clients send: keywords in any case,
/// no space between an operator and a quoted/numeric value (`value eq"x"`, as printed in
/// RFC 7644 §3.5.2.2), `not(`, and Entra ID's `emails[type eq "work"].value eq "x"`, which
/// is desugared to `emails[type eq "work" and value eq "x"]`.
///
/// Whitespace is space, tab, CR or LF, in any amount. It is required between an attribute
/// path and its operator, and around `and`/`or`, except next to a token that closes
/// itself: `"a"and b pr` and `(a pr)or(b pr)` are accepted, `a pr andb pr` is not.
/// Strings are strict JSON (raw control characters must be escaped). Inputs over
/// 10,000 characters or nesting `(`, `not (` and `[` more than 64 deep are rejected.
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    parse_filter_noting(input, &mut Quirks::default())
}

/// [`parse_filter`], noting in `quirks` the IdP dialect it read (Entra's
/// `emails[type eq "work"].value eq "x"`).
pub fn parse_filter_noting(input: &str, quirks: &mut Quirks) -> Result<Filter, FilterError> {
    let mut p = Parser::new(input, "filter")?;
    p.skip_ws();
    if p.at_end() {
        return Err(p.error(p.pos, ATTR_START, Some("the filter is empty")));
    }
    let filter = p.parse_or()?;
    p.expect_close(Close::End)?;
    if p.folded_value_path {
        quirks.note(Quirk::ValuePathComparison);
    }
    Ok(filter)
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Canonical form: lower-case keywords, single spaces, JSON-escaped strings, and
/// parentheses only where precedence or right-nesting needs them. For any AST that
/// [`parse_filter`] can produce, parsing this text gives back an equal AST.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { attr, op, value } => {
                write!(f, "{attr} {} ", op.as_str())?;
                write_value(f, value)
            }
            Filter::Present(attr) => write!(f, "{attr} pr"),
            Filter::ValuePath { attr, filter } => write!(f, "{attr}[{filter}]"),
            Filter::And(left, right) => {
                // `and` chains are left-associative, so only a right-hand `and` needs
                // parentheses to keep its shape; `or` always does because it binds looser.
                write_operand(f, left, matches!(**left, Filter::Or(..)))?;
                f.write_str(" and ")?;
                write_operand(
                    f,
                    right,
                    matches!(**right, Filter::Or(..) | Filter::And(..)),
                )
            }
            Filter::Or(left, right) => {
                write!(f, "{left} or ")?;
                write_operand(f, right, matches!(**right, Filter::Or(..)))
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
        }
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, filter: &Filter, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({filter})")
    } else {
        write!(f, "{filter}")
    }
}

fn write_value(out: &mut impl fmt::Write, value: &CompValue) -> fmt::Result {
    match value {
        CompValue::String(s) => write_json_string(out, s),
        CompValue::Number(n) => write!(out, "{n}"),
        CompValue::Bool(b) => write!(out, "{b}"),
        CompValue::Null => out.write_str("null"),
    }
}

fn write_json_string(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            '\u{8}' => out.write_str("\\b")?,
            '\u{c}' => out.write_str("\\f")?,
            c if (c as u32) < 0x20 || c == '\u{7f}' => write!(out, "\\u{:04x}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

fn json_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    // Writing into a String cannot fail.
    let _ = write_json_string(&mut out, s);
    out
}

/// Longest accepted filter or path, in characters; bounds parse time and AST size.
pub(crate) const MAX_LEN: usize = 10_000;
/// Deepest accepted nesting of `(`, `not (` and `[`; keeps recursion far from the stack limit.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most comparisons (`attr op value`, `attr pr`, the terms inside `[…]` included) one filter
/// or path may hold. `and`/`or` nest one level per term, and the SQL a list filter becomes
/// must stay under SQLite's fixed expression depth of 1,000 (beyond it the query fails and
/// the client would get a 500): 200 terms plus 64 levels of nesting stay far below it. It
/// is a fixed protocol bound like `MAX_LEN`, not a setting: raising it could only bring the
/// failure back, and 200 already admits any filter of 36-character ids that fits `MAX_LEN`.
pub const MAX_TERMS: usize = 200;

const OPERATORS: &str = "a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le) or pr";
const ATTR_START: &str = "an attribute path, \"not\" or \"(\"";
const VALUE: &str = "a value (a double-quoted string, a number, true, false or null)";
/// Longest token quoted back in an error, so a huge input cannot blow up the message.
const SNIPPET_MAX: usize = 32;

/// What must come after a parenthesised/bracketed/top-level expression.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Close {
    End,
    /// Position (0-based) of the opening `(`.
    Paren(usize),
    /// Position (0-based) of the opening `[`.
    Bracket(usize),
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Characters that always end a bare token: they are grammar punctuation.
fn is_delim(c: char) -> bool {
    matches!(c, '(' | ')' | '[' | ']' | '"')
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Recursive-descent parser over the input's chars. Working on `char`s (not bytes)
/// makes positions character columns and rules out slicing inside a UTF-8 sequence.
pub(crate) struct Parser {
    chars: Vec<char>,
    pub(crate) pos: usize,
    depth: usize,
    /// Comparisons seen so far, bounded by [`MAX_TERMS`].
    terms: usize,
    in_brackets: bool,
    /// "filter" or "path", for messages about the whole input.
    what: &'static str,
    /// Entra's `attr[filter].sub op value` was folded into one value filter.
    folded_value_path: bool,
}

impl Parser {
    /// Rejects over-long input up front so later stages never see it.
    pub(crate) fn new(input: &str, what: &'static str) -> Result<Self, FilterError> {
        let len = input.chars().count();
        if len > MAX_LEN {
            let expected = format!("at most {MAX_LEN} characters");
            let found = format!("{len} characters");
            return Err(FilterError {
                position: MAX_LEN + 1,
                message: format!(
                    "at position {}: the {what} is too long ({found}; the limit is {MAX_LEN})",
                    MAX_LEN + 1
                ),
                expected,
                found,
            });
        }
        Ok(Parser {
            chars: input.chars().collect(),
            pos: 0,
            depth: 0,
            terms: 0,
            in_brackets: false,
            what,
            folded_value_path: false,
        })
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, at: usize) -> Option<char> {
        self.chars.get(at).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    pub(crate) fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    /// The token at `at` as shown to the user: one punctuation char, or a run up to
    /// whitespace/punctuation. `None` at end of input.
    fn snippet(&self, at: usize) -> Option<String> {
        let first = self.peek_at(at)?;
        if is_delim(first) {
            return Some(first.to_string());
        }
        let mut out = String::new();
        let mut i = at;
        while let Some(c) = self.peek_at(i) {
            if is_ws(c) || is_delim(c) {
                break;
            }
            if i - at > SNIPPET_MAX {
                break;
            }
            out.push(c);
            i += 1;
        }
        Some(out)
    }

    /// Builds an error at 0-based `at`, quoting the token found there.
    pub(crate) fn error(&self, at: usize, expected: &str, hint: Option<&str>) -> FilterError {
        let found = self.snippet(at);
        self.error_found(at, expected, found, hint)
    }

    fn error_found(
        &self,
        at: usize,
        expected: &str,
        found: Option<String>,
        hint: Option<&str>,
    ) -> FilterError {
        let position = at.min(self.chars.len()) + 1;
        let found = found.map(|token| truncate(&token));
        let shown = match &found {
            Some(token) => json_quote(token),
            None => "end of input".to_string(),
        };
        let mut message = format!("at position {position}: expected {expected}, found {shown}");
        if let Some(hint) = hint {
            message.push_str("; ");
            message.push_str(hint);
        }
        FilterError {
            position,
            expected: expected.to_string(),
            found: found.unwrap_or_else(|| "end of input".to_string()),
            message,
        }
    }

    /// Case-insensitive match of an ASCII keyword at the cursor (no boundary check).
    fn word_at(&self, at: usize, word: &str) -> bool {
        word.chars().enumerate().all(|(i, w)| {
            self.peek_at(at + i)
                .is_some_and(|c| c.eq_ignore_ascii_case(&w))
        })
    }

    fn enter(&mut self, at: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let expected =
                format!("at most {MAX_DEPTH} levels of nested parentheses, \"not\" and brackets");
            let hint = format!("the {} nests too deeply", self.what);
            return Err(self.error(at, &expected, Some(&hint)));
        }
        Ok(())
    }

    /// Counts one comparison starting at the cursor; past [`MAX_TERMS`] the input is refused
    /// before its AST (and the SQL made from it) can grow further.
    fn count_term(&mut self) -> Result<(), FilterError> {
        self.terms += 1;
        if self.terms <= MAX_TERMS {
            return Ok(());
        }
        let at = self.pos;
        let expected = format!("at most {MAX_TERMS} comparisons joined by \"and\"/\"or\"");
        let hint = format!(
            "the {} has more than {MAX_TERMS} comparisons (the fixed limit on filter terms); split it into several requests of at most {MAX_TERMS} comparisons each",
            self.what
        );
        Err(self.error(at, &expected, Some(&hint)))
    }

    /// Consumes a logical keyword (`and`/`or`) if one follows. It must be preceded by
    /// whitespace unless the previous token closed itself (`"`, `)`, `]`), and followed by
    /// whitespace, `(` or end of input, so `prand` or `ordering` never split into keywords.
    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let start = self.pos;
        let prev = start.checked_sub(1).and_then(|i| self.peek_at(i));
        self.skip_ws();
        let separated = self.pos > start || matches!(prev, Some('"' | ')' | ']'));
        let after = self.pos + keyword.len();
        if separated
            && self.word_at(self.pos, keyword)
            && self.peek_at(after).is_none_or(|c| is_ws(c) || c == '(')
        {
            self.pos = after;
            return true;
        }
        self.pos = start;
        false
    }

    fn parse_or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_and()?;
        while self.eat_keyword("or") {
            let right = self.parse_and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary()?;
        while self.eat_keyword("and") {
            let right = self.parse_unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Filter, FilterError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some('(') => {
                self.enter(start)?;
                self.pos += 1;
                let inner = self.parse_or()?;
                self.expect_close(Close::Paren(start))?;
                self.depth -= 1;
                Ok(inner)
            }
            Some(c) if c.is_ascii_alphabetic() || c == '$' => {
                if self.word_at(start, "not") {
                    // `not` is only an operator when `(` follows; otherwise it is an
                    // attribute that happens to be called "not".
                    self.pos += 3;
                    self.skip_ws();
                    if self.peek() == Some('(') {
                        let open = self.pos;
                        self.enter(start)?;
                        self.pos += 1;
                        let inner = self.parse_or()?;
                        self.expect_close(Close::Paren(open))?;
                        self.depth -= 1;
                        return Ok(Filter::Not(Box::new(inner)));
                    }
                    self.pos = start;
                }
                self.parse_attr_expr()
            }
            _ => Err(self.error(start, ATTR_START, None)),
        }
    }

    /// After a complete expression: end of input, or the matching `)` / `]`.
    fn expect_close(&mut self, close: Close) -> Result<(), FilterError> {
        self.skip_ws();
        let at = self.pos;
        let (want, expected) = match close {
            Close::End => (None, "\"and\", \"or\" or end of input".to_string()),
            Close::Paren(open) => (
                Some(')'),
                format!(
                    "\"and\", \"or\" or \")\" to close the \"(\" at position {}",
                    open + 1
                ),
            ),
            Close::Bracket(open) => (
                Some(']'),
                format!(
                    "\"and\", \"or\" or \"]\" to close the \"[\" at position {}",
                    open + 1
                ),
            ),
        };
        if self.peek() == want {
            if want.is_some() {
                self.pos += 1;
            }
            return Ok(());
        }
        Err(self.error(at, &expected, None))
    }

    fn parse_attr_expr(&mut self) -> Result<Filter, FilterError> {
        self.count_term()?;
        let attr = self.parse_attr_path()?;
        if self.peek() != Some('[') {
            return self.parse_operator_tail(attr);
        }
        let inner = self.parse_value_filter(&attr)?;
        if self.peek() == Some('.') {
            // Entra ID sends `emails[type eq "work"].value eq "x"`; fold the trailing
            // comparison into the element filter so callers see one RFC shape.
            let sub = self.parse_dot_sub_attr()?;
            let sub = AttrPath {
                urn: None,
                name: sub,
                sub_attr: None,
            };
            let tail = self.parse_operator_tail(sub)?;
            self.folded_value_path = true;
            return Ok(Filter::ValuePath {
                attr,
                filter: Box::new(Filter::And(Box::new(inner), Box::new(tail))),
            });
        }
        Ok(Filter::ValuePath {
            attr,
            filter: Box::new(inner),
        })
    }

    /// Parses `[filter]` at the cursor for the multi-valued attribute `attr`.
    pub(crate) fn parse_value_filter(&mut self, attr: &AttrPath) -> Result<Filter, FilterError> {
        let open = self.pos;
        if self.in_brackets {
            return Err(self.error(
                open,
                OPERATORS,
                Some("value filters \"[…]\" cannot be nested inside another value filter"),
            ));
        }
        if attr.sub_attr.is_some() {
            return Err(self.error(
                open,
                OPERATORS,
                Some("a value filter \"[…]\" must follow a multi-valued attribute name, not a sub-attribute"),
            ));
        }
        self.enter(open)?;
        self.pos += 1;
        self.in_brackets = true;
        let inner = self.parse_or()?;
        self.expect_close(Close::Bracket(open))?;
        self.in_brackets = false;
        self.depth -= 1;
        Ok(inner)
    }

    /// Parses `.name` at the cursor (the cursor is on the `.`).
    pub(crate) fn parse_dot_sub_attr(&mut self) -> Result<String, FilterError> {
        self.pos += 1;
        self.parse_name("a sub-attribute name")
    }

    /// `pr`, or a comparison operator and its value, after an attribute path.
    fn parse_operator_tail(&mut self, attr: AttrPath) -> Result<Filter, FilterError> {
        let before = self.pos;
        self.skip_ws();
        if self.pos == before {
            let expected = format!("a space and then {OPERATORS}");
            return Err(self.error(self.pos, &expected, None));
        }
        let op_start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        let word: String = self.chars[op_start..self.pos].iter().collect();
        if word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(attr));
        }
        let Some(op) = CompareOp::from_keyword(&word) else {
            return Err(self.error(op_start, OPERATORS, None));
        };
        // No space required here: RFC 7644 §3.5.2.2 itself prints `value eq"2819c223…"`.
        self.skip_ws();
        let value = self.parse_value()?;
        Ok(Filter::Compare { attr, op, value })
    }

    fn parse_value(&mut self) -> Result<CompValue, FilterError> {
        let start = self.pos;
        if self.peek() == Some('"') {
            return self.parse_string().map(CompValue::String);
        }
        while self.peek().is_some_and(|c| !is_ws(c) && !is_delim(c)) {
            self.pos += 1;
        }
        let token: String = self.chars[start..self.pos].iter().collect();
        if token.is_empty() {
            return Err(self.error(start, VALUE, None));
        }
        if token.eq_ignore_ascii_case("true") {
            return Ok(CompValue::Bool(true));
        }
        if token.eq_ignore_ascii_case("false") {
            return Ok(CompValue::Bool(false));
        }
        if token.eq_ignore_ascii_case("null") {
            return Ok(CompValue::Null);
        }
        if token.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            return self.parse_number(&token, start).map(CompValue::Number);
        }
        // Clients often forget the quotes or use single quotes; say exactly what to send.
        let bare = token
            .strip_prefix('\'')
            .and_then(|t| t.strip_suffix('\''))
            .unwrap_or(&token);
        let mut hint = "string values must be wrapped in double quotes".to_string();
        if bare.chars().count() <= SNIPPET_MAX {
            hint = format!("{hint}, e.g. {}", json_quote(bare));
        }
        Err(self.error_found(start, VALUE, Some(token), Some(&hint)))
    }

    /// Integers that fit stay exact (`u64`/`i64`, as serde_json would keep them); the rest
    /// go through `str::parse::<f64>`, which rounds correctly, unlike serde_json's default
    /// float parser, so the canonical text always reads back to the same value.
    fn parse_number(&self, token: &str, start: usize) -> Result<serde_json::Number, FilterError> {
        const EXPECTED: &str = "a JSON number (e.g. 42, -1.5 or 2e10)";
        if !is_json_number(token) {
            return Err(self.error_found(start, EXPECTED, Some(token.to_string()), None));
        }
        if !token.contains(['.', 'e', 'E']) {
            if let Ok(n) = token.parse::<u64>() {
                return Ok(n.into());
            }
            if let Ok(n) = token.parse::<i64>() {
                return Ok(n.into());
            }
        }
        token
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .ok_or_else(|| {
                self.error_found(
                    start,
                    EXPECTED,
                    Some(token.to_string()),
                    Some("the number is out of range"),
                )
            })
    }

    /// Parses a JSON string literal; the cursor is on the opening quote.
    fn parse_string(&mut self) -> Result<String, FilterError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let at = self.pos;
            let Some(c) = self.peek() else {
                let expected = format!(
                    "a closing '\"' for the string that starts at position {}",
                    open + 1
                );
                return Err(self.error_found(at, &expected, None, None));
            };
            self.pos += 1;
            match c {
                '"' => return Ok(out),
                '\\' => out.push(self.parse_escape(at)?),
                c if (c as u32) < 0x20 => {
                    return Err(self.error_found(
                        at,
                        "a string character",
                        Some(format!("U+{:04X}", c as u32)),
                        Some("control characters in strings must be escaped, e.g. \\n or \\u0009"),
                    ));
                }
                c => out.push(c),
            }
        }
    }

    /// Decodes one escape; `at` is the backslash, the cursor is just after it.
    fn parse_escape(&mut self, at: usize) -> Result<char, FilterError> {
        const EXPECTED: &str =
            "a JSON escape (\\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX)";
        let bad = |p: &Parser, end: usize| {
            let end = end.min(p.chars.len());
            let found: String = p.chars[at..end].iter().collect();
            p.error_found(at, EXPECTED, Some(found), None)
        };
        let Some(c) = self.peek() else {
            return Err(bad(self, self.pos));
        };
        self.pos += 1;
        let decoded = match c {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let Some(high) = self.hex4() else {
                    return Err(bad(self, self.pos + 4));
                };
                let code = match high {
                    0xD800..=0xDBFF => {
                        // A high surrogate is only meaningful with the low half right after it.
                        let low = if self.word_at(self.pos, "\\u") {
                            self.pos += 2;
                            self.hex4()
                        } else {
                            None
                        };
                        match low {
                            Some(low @ 0xDC00..=0xDFFF) => {
                                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                            }
                            _ => {
                                return Err(self.error_found(
                                    at,
                                    "a \\uXXXX low surrogate after a high surrogate",
                                    Some(format!("\\u{high:04X}")),
                                    Some("surrogate pairs must be complete"),
                                ));
                            }
                        }
                    }
                    0xDC00..=0xDFFF => {
                        return Err(self.error_found(
                            at,
                            "a \\uXXXX high surrogate before a low surrogate",
                            Some(format!("\\u{high:04X}")),
                            Some("surrogate pairs must be complete"),
                        ));
                    }
                    code => code,
                };
                match char::from_u32(code) {
                    Some(c) => c,
                    None => return Err(bad(self, self.pos)),
                }
            }
            _ => return Err(bad(self, self.pos)),
        };
        Ok(decoded)
    }

    /// Reads exactly four hex digits; leaves the cursor untouched on failure.
    fn hex4(&mut self) -> Option<u32> {
        let mut code = 0;
        for i in 0..4 {
            code = code * 16 + self.peek_at(self.pos + i)?.to_digit(16)?;
        }
        self.pos += 4;
        Some(code)
    }

    /// Parses `[urn:…:]name[.sub]` at the cursor.
    pub(crate) fn parse_attr_path(&mut self) -> Result<AttrPath, FilterError> {
        let start = self.pos;
        let mut urn = None;
        if self.word_at(start, "urn:") {
            // The URN itself may contain '.' (`…:2.0:User`), so the attribute is whatever
            // follows the last ':' of the token.
            let mut end = start;
            while self.peek_at(end).is_some_and(|c| !is_ws(c) && !is_delim(c)) {
                end += 1;
            }
            let colon = (start..end)
                .rev()
                .find(|&i| self.chars[i] == ':')
                .unwrap_or(start + 3);
            if colon <= start + 4 {
                return Err(self.error(
                    start,
                    "a schema URN followed by ':' and an attribute name",
                    None,
                ));
            }
            urn = Some(self.chars[start..colon].iter().collect());
            self.pos = colon + 1;
        }
        let name = self.parse_name("an attribute name")?;
        let sub_attr = if self.peek() == Some('.') {
            Some(self.parse_dot_sub_attr()?)
        } else {
            None
        };
        Ok(AttrPath {
            urn,
            name,
            sub_attr,
        })
    }

    /// `ATTRNAME = ALPHA *(nameChar)` or `$ref`, case preserved.
    fn parse_name(&mut self, expected: &str) -> Result<String, FilterError> {
        let start = self.pos;
        match self.peek() {
            Some('$')
                if self.word_at(start + 1, "ref")
                    && !self.peek_at(start + 4).is_some_and(is_name_char) =>
            {
                self.pos += 4;
            }
            Some(c) if c.is_ascii_alphabetic() => {
                while self.peek().is_some_and(is_name_char) {
                    self.pos += 1;
                }
            }
            _ => return Err(self.error(start, expected, None)),
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }
}

/// Keeps quoted tokens short so a huge input cannot blow up an error message.
fn truncate(token: &str) -> String {
    match token.char_indices().nth(SNIPPET_MAX) {
        Some((byte, _)) => format!("{}…", &token[..byte]),
        None => token.to_string(),
    }
}

/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` per RFC 8259 §6.
fn is_json_number(token: &str) -> bool {
    let b = token.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let from = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - from
    };
    if b.first() == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
/// `pub(crate)` so `path`'s tests reuse the same AST strategies.
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn ap(name: &str) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.into(),
            sub_attr: None,
        }
    }
    fn sub(name: &str, sub: &str) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.into(),
            sub_attr: Some(sub.into()),
        }
    }
    fn urn(urn: &str, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: Some(urn.into()),
            name: name.into(),
            sub_attr: sub.map(Into::into),
        }
    }
    fn s(v: &str) -> CompValue {
        CompValue::String(v.into())
    }
    fn num(text: &str) -> CompValue {
        let n = if text.contains(['.', 'e', 'E']) {
            serde_json::Number::from_f64(text.parse().expect("test float")).expect("finite")
        } else if text.starts_with('-') {
            text.parse::<i64>().expect("test i64").into()
        } else {
            text.parse::<u64>().expect("test u64").into()
        };
        CompValue::Number(n)
    }
    fn cmp(attr: AttrPath, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare { attr, op, value }
    }
    fn eq(attr: AttrPath, v: &str) -> Filter {
        cmp(attr, CompareOp::Eq, s(v))
    }
    fn co(attr: AttrPath, v: &str) -> Filter {
        cmp(attr, CompareOp::Co, s(v))
    }
    fn pr(name: &str) -> Filter {
        Filter::Present(ap(name))
    }
    fn and(l: Filter, r: Filter) -> Filter {
        Filter::And(Box::new(l), Box::new(r))
    }
    fn or(l: Filter, r: Filter) -> Filter {
        Filter::Or(Box::new(l), Box::new(r))
    }
    fn not(f: Filter) -> Filter {
        Filter::Not(Box::new(f))
    }
    fn vp(attr: AttrPath, f: Filter) -> Filter {
        Filter::ValuePath {
            attr,
            filter: Box::new(f),
        }
    }

    /// Parses, checks the expected AST, and checks the canonical form round-trips.
    fn check(input: &str, want: Filter) {
        let got = parse_filter(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(got, want, "input {input:?}");
        let text = got.to_string();
        assert_eq!(
            parse_filter(&text).as_ref(),
            Ok(&want),
            "canonical {text:?}"
        );
    }

    fn err(input: &str) -> FilterError {
        match parse_filter(input) {
            Ok(f) => panic!("{input:?} parsed as {f:?}"),
            Err(e) => e,
        }
    }

    /// Every example filter from RFC 7644 §3.4.2.2.
    pub(crate) const RFC_EXAMPLES: &[&str] = &[
        r#"userName eq "bjensen""#,
        r#"name.familyName co "O'Malley""#,
        r#"userName sw "J""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        r#"title pr"#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
        r#"title pr and userType eq "Employee""#,
        r#"title pr or userType eq "Intern""#,
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType eq "Employee" and (emails.type eq "work")"#,
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
        r#"emails[type eq "work"].value eq "x@example.com""#,
    ];

    #[test]
    fn rfc_examples() {
        let ts = "2011-05-13T04:42:34Z";
        let rfc = |i: usize| RFC_EXAMPLES[i];
        check(rfc(0), eq(ap("userName"), "bjensen"));
        check(rfc(1), co(sub("name", "familyName"), "O'Malley"));
        check(rfc(2), cmp(ap("userName"), CompareOp::Sw, s("J")));
        check(
            rfc(3),
            cmp(urn(CORE_USER, "userName", None), CompareOp::Sw, s("J")),
        );
        check(rfc(4), pr("title"));
        check(
            rfc(5),
            cmp(sub("meta", "lastModified"), CompareOp::Gt, s(ts)),
        );
        check(
            rfc(6),
            cmp(sub("meta", "lastModified"), CompareOp::Ge, s(ts)),
        );
        check(
            rfc(7),
            cmp(sub("meta", "lastModified"), CompareOp::Lt, s(ts)),
        );
        check(
            rfc(8),
            cmp(sub("meta", "lastModified"), CompareOp::Le, s(ts)),
        );
        check(rfc(9), and(pr("title"), eq(ap("userType"), "Employee")));
        check(rfc(10), or(pr("title"), eq(ap("userType"), "Intern")));
        check(rfc(11), eq(ap("schemas"), ENTERPRISE));
        check(
            rfc(12),
            and(
                eq(ap("userType"), "Employee"),
                or(
                    co(ap("emails"), "example.com"),
                    co(sub("emails", "value"), "example.org"),
                ),
            ),
        );
        check(
            rfc(13),
            and(
                cmp(ap("userType"), CompareOp::Ne, s("Employee")),
                not(or(
                    co(ap("emails"), "example.com"),
                    co(sub("emails", "value"), "example.org"),
                )),
            ),
        );
        check(
            rfc(14),
            and(
                eq(ap("userType"), "Employee"),
                eq(sub("emails", "type"), "work"),
            ),
        );
        check(
            rfc(15),
            and(
                eq(ap("userType"), "Employee"),
                vp(
                    ap("emails"),
                    and(eq(ap("type"), "work"), co(ap("value"), "@example.com")),
                ),
            ),
        );
        check(
            rfc(16),
            or(
                vp(
                    ap("emails"),
                    and(eq(ap("type"), "work"), co(ap("value"), "@example.com")),
                ),
                vp(
                    ap("ims"),
                    and(eq(ap("type"), "xmpp"), co(ap("value"), "@foo.com")),
                ),
            ),
        );
        check(
            rfc(17),
            vp(
                ap("members"),
                eq(ap("value"), "2819c223-7f76-453a-919d-413861904646"),
            ),
        );
        check(
            rfc(18),
            eq(
                urn(ENTERPRISE, "manager", Some("value")),
                "26118915-6090-4610-87e4-49d8ca9f808d",
            ),
        );
        check(
            rfc(19),
            vp(
                ap("emails"),
                and(eq(ap("type"), "work"), eq(ap("value"), "x@example.com")),
            ),
        );
    }

    #[test]
    fn attribute_paths() {
        check(r#"$ref eq "x""#, eq(ap("$ref"), "x"));
        check(
            r#"members.$ref pr"#,
            Filter::Present(sub("members", "$ref")),
        );
        check(r#"x-y_z9 pr"#, pr("x-y_z9"));
        check(r#"UserName eq "a""#, eq(ap("UserName"), "a"));
        check(
            &format!("{ENTERPRISE}:manager pr"),
            Filter::Present(urn(ENTERPRISE, "manager", None)),
        );
        // A bare schema URN parses as its last segment; callers resolve it.
        check(
            &format!("{ENTERPRISE} pr"),
            Filter::Present(urn(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0",
                "User",
                None,
            )),
        );
        check(
            "URN:ietf:params:scim:schemas:core:2.0:User:name.givenName pr",
            Filter::Present(urn(
                "URN:ietf:params:scim:schemas:core:2.0:User",
                "name",
                Some("givenName"),
            )),
        );
        check(
            &format!("{ENTERPRISE}:emails[type eq \"work\"]"),
            vp(urn(ENTERPRISE, "emails", None), eq(ap("type"), "work")),
        );
        // Keywords are fine as attribute names where an attribute is expected.
        check("not pr", pr("not"));
        check(
            "and pr and or pr or pr pr",
            or(and(pr("and"), pr("or")), pr("pr")),
        );
        check("not[a pr]", vp(ap("not"), pr("a")));
        check("urn pr", pr("urn"));
    }

    #[test]
    fn precedence_and_grouping() {
        check("a pr or b pr and c pr", or(pr("a"), and(pr("b"), pr("c"))));
        check("a pr and b pr or c pr", or(and(pr("a"), pr("b")), pr("c")));
        check(
            "a pr and b pr and c pr",
            and(and(pr("a"), pr("b")), pr("c")),
        );
        check("a pr or b pr or c pr", or(or(pr("a"), pr("b")), pr("c")));
        check(
            "a pr and (b pr and c pr)",
            and(pr("a"), and(pr("b"), pr("c"))),
        );
        check(
            "(a pr or b pr) and c pr",
            and(or(pr("a"), pr("b")), pr("c")),
        );
        check("((a pr))", pr("a"));
        check("not(a pr)", not(pr("a")));
        check("NOT  ( a pr )", not(pr("a")));
        check("not (not (a pr))", not(not(pr("a"))));
        check(
            "a pr and not (b pr) or c pr",
            or(and(pr("a"), not(pr("b"))), pr("c")),
        );
        check("emails[not (type pr)]", vp(ap("emails"), not(pr("type"))));
        check(
            "emails[type pr or (value pr and primary eq true)]",
            vp(
                ap("emails"),
                or(
                    pr("type"),
                    and(
                        pr("value"),
                        cmp(ap("primary"), CompareOp::Eq, CompValue::Bool(true)),
                    ),
                ),
            ),
        );
    }

    #[test]
    fn canonical_text() {
        let cases = [
            ("a pr OR b pr AND c pr", "a pr or b pr and c pr"),
            ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
            ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
            ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
            ("not(a pr)", "not (a pr)"),
            ("  x  Eq\t\"\\u00e9\\n\"  ", "x eq \"é\\n\""),
            (
                "emails[type eq \"work\"].value pr",
                "emails[type eq \"work\" and value pr]",
            ),
            (
                "emails[a pr or b pr].value eq \"x\"",
                "emails[(a pr or b pr) and value eq \"x\"]",
            ),
            ("n eq 1E3", "n eq 1000.0"),
            ("n eq -0", "n eq 0"),
            ("n eq -0.0", "n eq -0.0"),
            ("b eq TRUE", "b eq true"),
        ];
        for (input, want) in cases {
            let f = parse_filter(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(f.to_string(), want, "input {input:?}");
            assert_eq!(parse_filter(want).as_ref(), Ok(&f));
        }
        assert_eq!(
            urn(ENTERPRISE, "manager", Some("value")).to_string(),
            format!("{ENTERPRISE}:manager.value")
        );
    }

    #[test]
    fn operators_are_case_insensitive() {
        let ops = [
            ("eq", CompareOp::Eq),
            ("NE", CompareOp::Ne),
            ("Co", CompareOp::Co),
            ("sW", CompareOp::Sw),
            ("EW", CompareOp::Ew),
            ("gT", CompareOp::Gt),
            ("Ge", CompareOp::Ge),
            ("LT", CompareOp::Lt),
            ("le", CompareOp::Le),
        ];
        for (word, op) in ops {
            check(&format!("a {word} \"v\""), cmp(ap("a"), op, s("v")));
            assert_eq!(op.as_str(), word.to_ascii_lowercase());
        }
        check("a PR", pr("a"));
        check("a pr AND b Pr Or c pR", or(and(pr("a"), pr("b")), pr("c")));
        check("Not (a pr)", not(pr("a")));
    }

    #[test]
    fn entra_comparison_after_brackets_is_noted() {
        let mut q = Quirks::default();
        let folded =
            parse_filter_noting("emails[type eq \"work\"].value eq \"x\"", &mut q).expect("parses");
        assert!(q.contains(Quirk::ValuePathComparison));
        let mut plain = Quirks::default();
        let rfc = parse_filter_noting("emails[type eq \"work\" and value eq \"x\"]", &mut plain)
            .expect("parses");
        assert!(plain.is_empty());
        assert_eq!(folded, rfc, "one shape for callers");
    }

    #[test]
    fn whitespace_tolerance() {
        // RFC 7644 §3.5.2.2 prints `value eq"2819c223…"`.
        check(
            r#"members[value eq"2819c223"]"#,
            vp(ap("members"), eq(ap("value"), "2819c223")),
        );
        check("\t a \t eq \t \"v\" \t", eq(ap("a"), "v"));
        check("a eq 5", cmp(ap("a"), CompareOp::Eq, num("5")));
        check("a gt5", cmp(ap("a"), CompareOp::Gt, num("5")));
        check("a eq-5", cmp(ap("a"), CompareOp::Eq, num("-5")));
        check("( a pr )", pr("a"));
        check("emails[ type pr ]", vp(ap("emails"), pr("type")));
        check("a\teq\t\"v\"\tand\tb\tpr", and(eq(ap("a"), "v"), pr("b")));
        // A self-delimiting token before `and`/`or` needs no space; `(` after it needs none.
        check(r#"a eq "x"and b pr"#, and(eq(ap("a"), "x"), pr("b")));
        check("(a pr)or(b pr)", or(pr("a"), pr("b")));
        check(
            "x[a pr]and not(b pr)",
            and(vp(ap("x"), pr("a")), not(pr("b"))),
        );
    }

    #[test]
    fn literals() {
        let cases: &[(&str, CompValue)] = &[
            (r#""""#, s("")),
            (r#""a\"b""#, s("a\"b")),
            (r#""a\\b""#, s("a\\b")),
            (r#""a\/b""#, s("a/b")),
            (r#""\b\f\n\r\t""#, s("\u{8}\u{c}\n\r\t")),
            (r#""\u00E9\u00e9""#, s("éé")),
            (r#""\ud83d\ude00""#, s("😀")),
            (r#""日本語 😀""#, s("日本語 😀")),
            (r#""(a) [b] and or""#, s("(a) [b] and or")),
            ("true", CompValue::Bool(true)),
            ("False", CompValue::Bool(false)),
            ("NULL", CompValue::Null),
            ("0", num("0")),
            ("-0", num("0")),
            ("-0.0", num("-0.0")),
            ("42", num("42")),
            ("-42", num("-42")),
            ("18446744073709551615", num("18446744073709551615")),
            ("-9223372036854775808", num("-9223372036854775808")),
            ("1.5", num("1.5")),
            ("-0.25", num("-0.25")),
            ("1e10", num("1e10")),
            ("1E+2", num("100.0")),
            ("2.5e-3", num("0.0025")),
            (
                "123456789012345678901234567890",
                num("1.2345678901234568e29"),
            ),
        ];
        for (text, value) in cases {
            check(
                &format!("a eq {text}"),
                cmp(ap("a"), CompareOp::Eq, value.clone()),
            );
            check(
                &format!("x[a eq {text}]"),
                vp(ap("x"), cmp(ap("a"), CompareOp::Eq, value.clone())),
            );
        }
        assert!(matches!(
            parse_filter("a eq 7"),
            Ok(Filter::Compare { value: CompValue::Number(n), .. }) if n.as_u64() == Some(7)
        ));
    }

    /// (input, 1-based position, substring of the message)
    const ERRORS: &[(&str, usize, &str)] = &[
        ("", 1, "the filter is empty"),
        ("   \t", 5, "the filter is empty"),
        (
            r#"userName equals "x""#,
            10,
            r#"at position 10: expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le) or pr, found "equals""#,
        ),
        ("userName", 9, "found end of input"),
        ("userName ", 10, "expected a comparison operator"),
        (
            r#"userName="x""#,
            9,
            "expected a space and then a comparison operator",
        ),
        (
            "externalId eq jyoung",
            15,
            r#"found "jyoung"; string values must be wrapped in double quotes, e.g. "jyoung""#,
        ),
        (
            "externalId eq 'jyoung'",
            15,
            r#"double quotes, e.g. "jyoung""#,
        ),
        ("a eq", 5, "expected a value"),
        ("a eq )", 6, "expected a value"),
        (
            r#"a eq "x" b"#,
            10,
            r#"expected "and", "or" or end of input, found "b""#,
        ),
        (r#"a eq "x")"#, 9, r#"found ")""#),
        ("a pr and", 9, "expected an attribute path"),
        ("a pr andb pr", 6, r#"found "andb""#),
        ("a prand b pr", 3, r#"found "prand""#),
        ("a pr and or", 12, "found end of input"),
        ("5 eq 1", 1, "expected an attribute path"),
        (
            "(a pr",
            6,
            r#"or ")" to close the "(" at position 1, found end of input"#,
        ),
        ("not (a pr", 10, r#"to close the "(" at position 5"#),
        ("(a pr))", 7, r#"found ")""#),
        ("()", 2, "expected an attribute path"),
        (
            "emails[type pr",
            15,
            r#"or "]" to close the "[" at position 7"#,
        ),
        ("emails[type eq \"x\"))", 19, r#"or "]""#),
        ("emails[]", 8, "expected an attribute path"),
        ("emails[a[b pr]]", 9, "cannot be nested"),
        ("emails[(a[b pr])]", 10, "cannot be nested"),
        ("name.familyName[a pr]", 16, "not a sub-attribute"),
        ("emails[a pr].", 14, "expected a sub-attribute name"),
        (
            "emails[a pr].value",
            19,
            "expected a space and then a comparison operator",
        ),
        ("emails[a pr]value pr", 13, r#"found "value""#),
        ("a.b.c pr", 4, r#"found ".c""#),
        ("a. pr", 3, "expected a sub-attribute name"),
        ("$foo pr", 1, "expected an attribute name"),
        (
            "urn:x pr",
            1,
            "a schema URN followed by ':' and an attribute name",
        ),
        ("urn:a:b: pr", 9, "expected an attribute name"),
        ("urn:a:b:2x pr", 9, "expected an attribute name"),
        (
            "a eq \"abc",
            10,
            r#"expected a closing '"' for the string that starts at position 6"#,
        ),
        (r#"a eq "\x""#, 7, r#"a JSON escape"#),
        (r#"a eq "\u12""#, 7, r#"found "\\u12\"""#),
        (r#"a eq "\ud83d""#, 7, "low surrogate"),
        (r#"a eq "\ud83d\u0041""#, 7, "low surrogate"),
        (r#"a eq "\ude00""#, 7, "high surrogate"),
        (
            "a eq \"\u{1}\"",
            7,
            "control characters in strings must be escaped",
        ),
        ("a eq 01", 6, "expected a JSON number"),
        ("a eq 1.", 6, "expected a JSON number"),
        ("a eq .5", 6, "double quotes"),
        ("a eq 1e", 6, "expected a JSON number"),
        ("a eq -", 6, "expected a JSON number"),
        ("a eq 5x", 6, r#"found "5x""#),
        ("a eq 1e400", 6, "out of range"),
        ("a eq truex", 6, "double quotes"),
        ("é eq \"x\"", 1, r#"found "é""#),
        ("a eq \"é\" ü", 10, r#"found "ü""#),
        ("not (a pr) b", 12, "end of input"),
        ("not", 4, "expected a space and then a comparison operator"),
    ];

    #[test]
    fn error_classes_and_positions() {
        for &(input, position, needle) in ERRORS {
            let e = err(input);
            assert_eq!(e.position, position, "{input:?}: {}", e.message);
            assert!(
                e.message.contains(needle),
                "{input:?}: {:?} lacks {needle:?}",
                e.message
            );
            assert!(
                e.message.starts_with(&format!("at position {position}: ")),
                "{}",
                e.message
            );
            assert_eq!(e.to_string(), e.message);
        }
    }

    #[test]
    fn error_fields() {
        let e = err(r#"userName equals "x""#);
        assert_eq!(e.expected, OPERATORS);
        assert_eq!(e.found, "equals");
        let e = err("a pr and");
        assert_eq!(e.found, "end of input");
        let e = err(&format!("a eq {}", "x".repeat(100)));
        assert_eq!(
            e.found.chars().count(),
            SNIPPET_MAX + 1,
            "snippets are truncated"
        );
    }

    #[test]
    fn depth_limit() {
        let nest = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
        assert!(parse_filter(&nest(MAX_DEPTH)).is_ok());
        let e = err(&nest(MAX_DEPTH + 1));
        assert_eq!(e.position, MAX_DEPTH + 1);
        assert!(e.message.contains("nests too deeply"), "{}", e.message);

        let nots = |n: usize| format!("{}a pr{}", "not (".repeat(n), ")".repeat(n));
        assert!(parse_filter(&nots(MAX_DEPTH)).is_ok());
        assert!(
            err(&nots(MAX_DEPTH + 1))
                .message
                .contains("nests too deeply")
        );

        // 63 parens plus one bracket is exactly the limit.
        let mixed = format!(
            "{}x[a pr]{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(parse_filter(&mixed).is_ok());
        let mixed = format!("{}x[a pr]{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(err(&mixed).message.contains("nests too deeply"));

        // Unbalanced and huge: must fail fast without recursing per character.
        assert!(
            err(&"(".repeat(MAX_LEN))
                .message
                .contains("nests too deeply")
        );
        assert!(
            err(&"not(".repeat(MAX_LEN / 4))
                .message
                .contains("nests too deeply")
        );
    }

    #[test]
    fn length_limit() {
        // Terms long enough that a chain of MAX_LEN characters stays under MAX_TERMS.
        let term = format!("a eq \"{}\"", "x".repeat(40));
        let long_chain = |len: usize| {
            let mut s = term.clone();
            while s.len() + 4 + term.len() <= len {
                s.push_str(" or ");
                s.push_str(&term);
            }
            s.push_str(&" ".repeat(len - s.len()));
            s
        };
        let ok = long_chain(MAX_LEN);
        assert_eq!(ok.chars().count(), MAX_LEN);
        let f = parse_filter(&ok).expect("filter at the limit");
        assert_eq!(parse_filter(&f.to_string()), Ok(f));
        let e = err(&long_chain(MAX_LEN + 1));
        assert_eq!(e.position, MAX_LEN + 1);
        assert!(e.message.contains("too long"), "{}", e.message);
        // The limit counts characters, not bytes.
        let wide = format!("a eq \"{}\"", "é".repeat(MAX_LEN - 7));
        assert!(parse_filter(&wide).is_ok());
    }

    #[test]
    fn term_limit() {
        let chain = |n: usize, op: &str| vec!["id pr"; n].join(&format!(" {op} "));
        for op in ["or", "and"] {
            assert!(parse_filter(&chain(MAX_TERMS, op)).is_ok(), "{op}");
            let e = err(&chain(MAX_TERMS + 1, op));
            assert!(
                e.message.contains("more than 200 comparisons"),
                "{}",
                e.message
            );
            assert!(e.message.contains("limit on filter terms"), "{}", e.message);
            // The position is that of the first term over the limit.
            assert_eq!(e.position, MAX_TERMS * (6 + op.len() + 1) + 1, "{op}");
        }
        // Terms inside a value filter count too (the value path itself is one), as do those
        // of a PATCH path.
        let inner = chain(MAX_TERMS - 1, "or");
        assert!(parse_filter(&format!("emails[{inner}]")).is_ok());
        assert!(parse_filter(&format!("emails[{inner}] or id pr")).is_err());
        let inner = chain(MAX_TERMS, "or");
        assert!(crate::scim::path::parse_path(&format!("emails[{inner}]")).is_ok());
        let over = chain(MAX_TERMS + 1, "or");
        assert!(crate::scim::path::parse_path(&format!("emails[{over}]")).is_err());
        // The 1,100-term filter of the review fits the length limit but not this one.
        let review = chain(1_100, "or");
        assert!(review.chars().count() <= MAX_LEN);
        assert!(err(&review).message.contains("limit on filter terms"));
    }

    // ---- property tests ----

    fn attr_name() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
            1 => Just("$ref".to_string()),
            1 => prop::sample::select(vec!["and", "or", "not", "pr", "eq", "true", "null", "urn", "AND"])
                .prop_map(String::from),
        ]
    }

    fn schema_urn() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(ENTERPRISE.to_string()),
            Just(CORE_USER.to_string()),
            "[uU][rR][nN]:[a-z0-9]{1,5}(:[a-zA-Z0-9.$_-]{0,6}){0,4}",
        ]
    }

    pub(crate) fn attr_path(with_sub: bool) -> impl Strategy<Value = AttrPath> {
        let sub = if with_sub {
            prop::option::of(attr_name()).boxed()
        } else {
            Just(None).boxed()
        };
        (prop::option::weighted(0.2, schema_urn()), attr_name(), sub).prop_map(
            |(urn, name, sub_attr)| AttrPath {
                urn,
                name,
                sub_attr,
            },
        )
    }

    fn comp_value() -> impl Strategy<Value = CompValue> {
        prop_oneof![
            any::<String>().prop_map(CompValue::String),
            "[ -~]{0,12}".prop_map(CompValue::String),
            any::<i64>().prop_map(|n| CompValue::Number(n.into())),
            any::<u64>().prop_map(|n| CompValue::Number(n.into())),
            any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
                .map(CompValue::Number)),
            any::<bool>().prop_map(CompValue::Bool),
            Just(CompValue::Null),
        ]
    }

    fn compare_op() -> impl Strategy<Value = CompareOp> {
        prop::sample::select(vec![
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ])
    }

    fn logical(leaf: BoxedStrategy<Filter>, depth: u32) -> BoxedStrategy<Filter> {
        leaf.prop_recursive(depth, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(l, r)| and(l, r)),
                (inner.clone(), inner.clone()).prop_map(|(l, r)| or(l, r)),
                inner.prop_map(not),
            ]
        })
        .boxed()
    }

    /// Filters without value paths: what may appear inside `[…]`.
    pub(crate) fn element_filter() -> BoxedStrategy<Filter> {
        let leaf = prop_oneof![
            (attr_path(true), compare_op(), comp_value())
                .prop_map(|(attr, op, value)| Filter::Compare { attr, op, value }),
            attr_path(true).prop_map(Filter::Present),
        ]
        .boxed();
        logical(leaf, 3)
    }

    pub(crate) fn any_filter() -> BoxedStrategy<Filter> {
        let leaf = prop_oneof![
            3 => (attr_path(true), compare_op(), comp_value())
                .prop_map(|(attr, op, value)| Filter::Compare { attr, op, value }),
            2 => attr_path(true).prop_map(Filter::Present),
            1 => (attr_path(false), element_filter()).prop_map(|(attr, f)| vp(attr, f)),
        ]
        .boxed();
        logical(leaf, 5)
    }

    fn interesting_char() -> impl Strategy<Value = char> {
        prop_oneof![
            any::<char>(),
            prop::sample::select(vec![
                '(', ')', '[', ']', '"', '\\', ' ', '\t', '.', ':', '$', '-', '0', '9', 'e', 'q',
                'a', 'n', 'd', 'o', 'r', 'p', 't', 'u', 'é', '\u{0}', '😀',
            ]),
        ]
    }

    /// Every parse outcome must be well-formed: errors point inside the input (or just
    /// past it) and successes round-trip through the canonical text.
    fn assert_sane(input: &str) {
        let started = Instant::now();
        let result = parse_filter(input);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "slow parse of {input:?}"
        );
        match result {
            Ok(f) => assert_eq!(parse_filter(&f.to_string()), Ok(f), "input {input:?}"),
            Err(e) => {
                assert!(
                    e.position >= 1 && e.position <= input.chars().count() + 1,
                    "{input:?}: {e:?}"
                );
                assert!(e.message.starts_with("at position "), "{e:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(input in any::<String>()) {
            assert_sane(&input);
        }

        #[test]
        fn filter_like_strings_never_panic(input in r#"[a-z()\[\]" .:$\\0-9-]{0,80}"#) {
            assert_sane(&input);
        }

        #[test]
        fn mutated_examples_never_panic(
            example in prop::sample::select(RFC_EXAMPLES.to_vec()),
            edits in prop::collection::vec((any::<usize>(), 0u8..3, interesting_char()), 1..8),
        ) {
            let mut chars: Vec<char> = example.chars().collect();
            for (at, kind, c) in edits {
                let at = at % (chars.len() + 1);
                match kind {
                    0 => chars.insert(at, c),
                    1 if at < chars.len() => { chars.remove(at); }
                    _ if at < chars.len() => chars[at] = c,
                    _ => chars.push(c),
                }
            }
            let input: String = chars.into_iter().collect();
            assert_sane(&input);
        }

        #[test]
        fn display_round_trips(f in any_filter()) {
            let text = f.to_string();
            prop_assert_eq!(parse_filter(&text), Ok(f), "text {:?}", text);
        }

        #[test]
        fn attr_path_display_round_trips(attr in attr_path(true)) {
            let text = format!("{attr} pr");
            prop_assert_eq!(parse_filter(&text), Ok(Filter::Present(attr)));
        }
    }
}
