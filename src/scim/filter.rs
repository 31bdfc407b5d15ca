//! SCIM filter expressions (RFC 7644 §3.4.2.2): the `filter` query parameter grammar,
//! its AST, and a canonical text form that parses back to the same AST.
//! The recursive-descent [`Parser`] here is also the tokenizer behind PATCH paths
//! (RFC 7644 §3.5.2, see `super::path`), so both grammars report errors the same way.
//! Matching attribute names against a schema is the caller's job: names keep their case.

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
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    let mut p = Parser::new(input, "filter")?;
    p.skip_ws();
    if p.at_end() {
        return Err(p.error(p.pos, ATTR_START, Some("the filter is empty")));
    }
    let filter = p.parse_or()?;
    p.expect_close(Close::End)?;
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
    in_brackets: bool,
    /// "filter" or "path", for messages about the whole input.
    what: &'static str,
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
            in_brackets: false,
            what,
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
            if i - at == SNIPPET_MAX {
                out.push('…');
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

    pub(crate) fn parse_or(&mut self) -> Result<Filter, FilterError> {
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
        let hint = format!(
            "string values must be wrapped in double quotes, e.g. {}",
            json_quote(bare)
        );
        Err(self.error_found(start, VALUE, Some(token), Some(&hint)))
    }

    fn parse_number(&self, token: &str, start: usize) -> Result<serde_json::Number, FilterError> {
        const EXPECTED: &str = "a JSON number (e.g. 42, -1.5 or 2e10)";
        if !is_json_number(token) {
            return Err(self.error_found(start, EXPECTED, Some(token.to_string()), None));
        }
        token.parse::<serde_json::Number>().map_err(|_| {
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
    pub(crate) fn parse_name(&mut self, expected: &str) -> Result<String, FilterError> {
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
