//! A small port of Apache commons-cli 1.5.0 (`Options`, `DefaultParser`,
//! `HelpFormatter`), the option library Java mqadmin uses.
//!
//! Why not clap: mqadmin's observable behaviour *is* commons-cli's. Its usage text
//! (`usage: mqadmin topicRoute [-h] [-l] [-n <arg>] -t <arg>` plus the option table
//! wrapped at 110 columns), its error texts (`Missing required option: t`,
//! `Unrecognized option: -x`, `Missing argument for option: n`), multi-letter short
//! options (`-bn`), `-n127.0.0.1:9876`, `--name=...` prefix matching and `-t -x`
//! taking `-x` as a value are all defined by that parser. Reproducing them on top
//! of clap would mean fighting clap at every step; a direct port is ~400 lines and
//! grows with each new sub-command by just declaring its options.

use std::fmt;

/// One option (`org.apache.commons.cli.Option`): `-short`, `--long`, at most one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    pub short: Option<String>,
    pub long: Option<String>,
    pub has_arg: bool,
    pub required: bool,
    pub desc: String,
}

impl Opt {
    /// `new Option(opt, longOpt, hasArg, description)` (not required).
    pub fn new(short: &str, long: &str, has_arg: bool, desc: &str) -> Opt {
        Opt {
            short: (!short.is_empty()).then(|| short.to_string()),
            long: (!long.is_empty()).then(|| long.to_string()),
            has_arg,
            required: false,
            desc: desc.to_string(),
        }
    }

    /// `setRequired(true)`.
    pub fn required(mut self) -> Opt {
        self.required = true;
        self
    }

    /// `getKey()`: the short name, else the long name.
    pub fn key(&self) -> &str {
        self.short.as_deref().or(self.long.as_deref()).unwrap_or_default()
    }
}

/// `OptionGroup`: at most one of its options may be given; a required group needs one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptGroup {
    /// Member keys, in the order they were added.
    pub keys: Vec<String>,
    pub required: bool,
}

/// An entry of `Options.getRequiredOptions()`: an option key or a group.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Required {
    Key(String),
    Group(usize),
}

/// `org.apache.commons.cli.Options`: registration order is kept, a later option
/// with the same key replaces the earlier one in place (a `LinkedHashMap` put).
#[derive(Debug, Clone, Default)]
pub struct Options {
    opts: Vec<Opt>,
    longs: Vec<String>,
    required: Vec<Required>,
    groups: Vec<OptGroup>,
}

impl Options {
    pub fn new() -> Options {
        Options::default()
    }

    pub fn add(&mut self, opt: Opt) -> &mut Options {
        let key = opt.key().to_string();
        if let Some(long) = &opt.long {
            if !self.longs.contains(long) {
                self.longs.push(long.clone());
            }
        }
        if opt.required {
            self.required.retain(|k| *k != Required::Key(key.clone()));
            self.required.push(Required::Key(key.clone()));
        }
        match self.opts.iter_mut().find(|o| o.key() == key) {
            Some(slot) => *slot = opt,
            None => self.opts.push(opt),
        }
        self
    }

    /// `addOptionGroup`: members lose their own `required` flag (the group decides).
    pub fn add_group(&mut self, opts: Vec<Opt>, required: bool) -> &mut Options {
        if required {
            self.required.push(Required::Group(self.groups.len()));
        }
        let keys = opts.iter().map(|o| o.key().to_string()).collect();
        self.groups.push(OptGroup { keys, required });
        for mut o in opts {
            o.required = false;
            self.add(o);
        }
        self
    }

    /// Options in registration order (`helpOptions()`).
    pub fn list(&self) -> &[Opt] {
        &self.opts
    }

    /// The group an option belongs to (`getOptionGroup`).
    pub fn group_of(&self, key: &str) -> Option<(usize, &OptGroup)> {
        self.groups.iter().enumerate().rev().find(|(_, g)| g.keys.iter().any(|k| k == key))
    }

    /// `OptionGroup.toString()`: `[-b desc, -c desc]`.
    fn group_text(&self, idx: usize) -> String {
        let parts: Vec<String> = self.groups[idx]
            .keys
            .iter()
            .filter_map(|k| self.opts.iter().find(|o| o.key() == k))
            .map(|o| match &o.short {
                Some(s) => format!("-{s} {}", o.desc),
                None => format!("--{} {}", o.long.as_deref().unwrap_or_default(), o.desc),
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }

    fn required_text(&self, r: &Required) -> String {
        match r {
            Required::Key(k) => k.clone(),
            Required::Group(i) => self.group_text(*i),
        }
    }

    fn strip(name: &str) -> &str {
        name.strip_prefix("--").or_else(|| name.strip_prefix('-')).unwrap_or(name)
    }

    fn has_short(&self, name: &str) -> bool {
        let name = Self::strip(name);
        self.opts.iter().any(|o| o.key() == name)
    }

    fn has_long(&self, name: &str) -> bool {
        let name = Self::strip(name);
        self.longs.iter().any(|l| l == name)
    }

    /// `getOption`: by key first, then by long name.
    fn get(&self, name: &str) -> Option<&Opt> {
        let name = Self::strip(name);
        self.opts.iter().find(|o| o.key() == name).or_else(|| {
            // The long-name map holds the latest option registered under that name.
            self.opts.iter().rev().find(|o| o.long.as_deref() == Some(name))
        })
    }

    /// `getMatchingOptions`: an exact long name, else every long name it prefixes.
    fn matching_longs(&self, name: &str) -> Vec<String> {
        let name = Self::strip(name);
        if self.has_long(name) {
            return vec![name.to_string()];
        }
        self.longs.iter().filter(|l| l.starts_with(name)).cloned().collect()
    }
}

/// The parsed command line (`CommandLine`): occurrences in order, plus leftover args.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandLine {
    found: Vec<(Opt, Vec<String>)>,
    pub args: Vec<String>,
}

impl CommandLine {
    fn matches(o: &Opt, name: &str) -> bool {
        o.short.as_deref() == Some(name) || o.long.as_deref() == Some(name)
    }

    /// `hasOption(name)` (short or long name).
    pub fn has(&self, name: &str) -> bool {
        self.found.iter().any(|(o, _)| Self::matches(o, name))
    }

    /// `getOptionValue(name)`: the first value over all occurrences.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.found.iter().filter(|(o, _)| Self::matches(o, name)).flat_map(|(_, v)| v.iter()).map(String::as_str).next()
    }
}

/// `ParseException` subclasses, with commons-cli's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    MissingOptions(Vec<String>),
    MissingArgument(String),
    Unrecognized(String),
    Ambiguous(String, Vec<String>),
    /// `AlreadySelectedException`: (option given, option of its group given before).
    AlreadySelected(String, String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::MissingOptions(keys) => {
                let s = if keys.len() == 1 { "" } else { "s" };
                write!(f, "Missing required option{s}: {}", keys.join(", "))
            }
            ParseError::MissingArgument(key) => write!(f, "Missing argument for option: {key}"),
            ParseError::Unrecognized(token) => write!(f, "Unrecognized option: {token}"),
            ParseError::Ambiguous(token, candidates) => {
                let list: Vec<String> = candidates.iter().map(|c| format!("'{c}'")).collect();
                write!(f, "Ambiguous option: '{token}'  (could be: {})", list.join(", "))
            }
            ParseError::AlreadySelected(key, selected) => write!(
                f,
                "The option '{key}' was specified but an option from this group has already been selected: '{selected}'"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// `new DefaultParser().parse(options, args)` (partial long matching on, quotes
/// stripped from separate value tokens only).
pub fn parse(options: &Options, args: &[String]) -> Result<CommandLine, ParseError> {
    let mut p = Parser {
        options,
        cmd: CommandLine::default(),
        current: None,
        skip: false,
        expected: options.required.clone(),
        selected: vec![None; options.groups.len()],
    };
    for token in args {
        p.token(token)?;
    }
    p.check_required_arg()?;
    if !p.expected.is_empty() {
        return Err(ParseError::MissingOptions(p.expected.iter().map(|r| options.required_text(r)).collect()));
    }
    Ok(p.cmd)
}

struct Parser<'a> {
    options: &'a Options,
    cmd: CommandLine,
    /// Index into `cmd.found` of the option waiting for its value.
    current: Option<usize>,
    skip: bool,
    expected: Vec<Required>,
    /// The option chosen in each group so far.
    selected: Vec<Option<String>>,
}

impl Parser<'_> {
    fn accepts_arg(&self) -> bool {
        self.current.is_some_and(|i| {
            let (o, v) = &self.cmd.found[i];
            o.has_arg && v.is_empty()
        })
    }

    fn add_value(&mut self, value: String) {
        if let Some(i) = self.current {
            self.cmd.found[i].1.push(value);
        }
    }

    fn check_required_arg(&self) -> Result<(), ParseError> {
        if self.accepts_arg() {
            let key = self.cmd.found[self.current.expect("accepts_arg implies current")].0.key().to_string();
            return Err(ParseError::MissingArgument(key));
        }
        Ok(())
    }

    fn token(&mut self, token: &str) -> Result<(), ParseError> {
        if self.skip {
            self.cmd.args.push(token.to_string());
        } else if token == "--" {
            self.skip = true;
        } else if self.accepts_arg() && self.is_argument(token) {
            self.add_value(strip_quotes(token));
        } else if token.starts_with("--") {
            self.long_option(token, token)?;
        } else if token.starts_with('-') && token != "-" {
            self.short_and_long_option(token)?;
        } else {
            self.unknown(token)?;
        }
        if self.current.is_some() && !self.accepts_arg() {
            self.current = None;
        }
        Ok(())
    }

    fn handle(&mut self, key: &str) -> Result<(), ParseError> {
        self.check_required_arg()?;
        let opt = self.options.get(key).expect("caller checked the option exists").clone();
        let k = opt.key().to_string();
        if opt.required {
            self.expected.retain(|e| *e != Required::Key(k.clone()));
        }
        if let Some((gi, g)) = self.options.group_of(&k) {
            if g.required {
                self.expected.retain(|e| *e != Required::Group(gi));
            }
            match &self.selected[gi] {
                Some(prev) if *prev != k => return Err(ParseError::AlreadySelected(k, prev.clone())),
                _ => self.selected[gi] = Some(k.clone()),
            }
        }
        let has_arg = opt.has_arg;
        self.cmd.found.push((opt, Vec::new()));
        self.current = has_arg.then(|| self.cmd.found.len() - 1);
        Ok(())
    }

    /// Handles an option and gives it `value` right away (`-Xvalue`, `--x=value`).
    fn handle_with_value(&mut self, key: &str, value: &str) -> Result<(), ParseError> {
        self.handle(key)?;
        self.add_value(value.to_string());
        self.current = None;
        Ok(())
    }

    fn unknown(&mut self, token: &str) -> Result<(), ParseError> {
        if token.starts_with('-') && token.chars().count() > 1 {
            return Err(ParseError::Unrecognized(token.to_string()));
        }
        self.cmd.args.push(token.to_string());
        Ok(())
    }

    /// `handleLongOption`; `whole` is the token as typed (for error messages).
    fn long_option(&mut self, token: &str, whole: &str) -> Result<(), ParseError> {
        let (name, value) = match token.find('=') {
            Some(pos) => (&token[..pos], Some(&token[pos + 1..])),
            None => (token, None),
        };
        let matching = self.options.matching_longs(name);
        if matching.is_empty() {
            return self.unknown(whole);
        }
        if matching.len() > 1 && !self.options.has_long(name) {
            return Err(ParseError::Ambiguous(name.to_string(), matching));
        }
        let key = if self.options.has_long(name) { Options::strip(name).to_string() } else { matching[0].clone() };
        match value {
            None => self.handle(&key),
            Some(v) => {
                if self.options.get(&key).is_some_and(|o| o.has_arg) {
                    self.handle_with_value(&key, v)
                } else {
                    self.unknown(whole)
                }
            }
        }
    }

    fn short_and_long_option(&mut self, token: &str) -> Result<(), ParseError> {
        let t = Options::strip(token);
        let chars: Vec<char> = t.chars().collect();
        match t.find('=') {
            _ if chars.len() == 1 => {
                if self.options.has_short(t) {
                    self.handle(t)
                } else {
                    self.unknown(token)
                }
            }
            None => {
                if self.options.has_short(t) {
                    self.handle(t)
                } else if !self.options.matching_longs(t).is_empty() {
                    self.long_option(token, token)
                } else if let Some(prefix) = self.long_prefix(t) {
                    let value = t[prefix.len()..].to_string();
                    self.handle_with_value(&prefix, &value)
                } else {
                    self.concatenated(token)
                }
            }
            Some(pos) => {
                let (name, value) = (&t[..pos], &t[pos + 1..]);
                if name.chars().count() == 1 {
                    match self.options.get(name) {
                        Some(o) if o.has_arg => self.handle_with_value(name, value),
                        _ => self.unknown(token),
                    }
                } else {
                    self.long_option(token, token)
                }
            }
        }
    }

    /// `getLongPrefix`: the longest long name that is a proper prefix of `t` leaving at
    /// least two characters, usable only if that option takes a value.
    fn long_prefix(&self, t: &str) -> Option<String> {
        let chars: Vec<char> = t.chars().collect();
        let mut i = chars.len() as isize - 2;
        while i > 1 {
            let prefix: String = chars[..i as usize].iter().collect();
            if self.options.has_long(&prefix) {
                return self.options.get(&prefix).is_some_and(|o| o.has_arg).then_some(prefix);
            }
            i -= 1;
        }
        None
    }

    /// `-abc` as `-a -b -c`; the first option taking a value gets the rest.
    fn concatenated(&mut self, token: &str) -> Result<(), ParseError> {
        let chars: Vec<char> = token.chars().collect();
        for i in 1..chars.len() {
            let ch = chars[i].to_string();
            if !self.options.has_short(&ch) && !self.options.has_long(&ch) {
                return self.unknown(token);
            }
            self.handle(&ch)?;
            if self.current.is_some() && chars.len() != i + 1 {
                let rest: String = chars[i + 1..].iter().collect();
                self.add_value(rest);
                break;
            }
        }
        Ok(())
    }

    fn is_argument(&self, token: &str) -> bool {
        !self.is_option(token) || crate::format::parse_double(Some(token)).is_ok()
    }

    fn is_option(&self, token: &str) -> bool {
        self.is_long_option(token) || self.is_short_option(token)
    }

    fn is_long_option(&self, token: &str) -> bool {
        if !token.starts_with('-') || token.chars().count() == 1 {
            return false;
        }
        let name = token.split('=').next().unwrap_or(token);
        if !self.options.matching_longs(name).is_empty() {
            return true;
        }
        self.raw_long_prefix(token) && !token.starts_with("--")
    }

    /// `getLongPrefix(token) != null`, whether or not that option takes a value.
    fn raw_long_prefix(&self, token: &str) -> bool {
        let chars: Vec<char> = Options::strip(token).chars().collect();
        let mut i = chars.len() as isize - 2;
        while i > 1 {
            let prefix: String = chars[..i as usize].iter().collect();
            if self.options.has_long(&prefix) {
                return true;
            }
            i -= 1;
        }
        false
    }

    fn is_short_option(&self, token: &str) -> bool {
        if !token.starts_with('-') || token.chars().count() == 1 {
            return false;
        }
        let name = match token.find('=') {
            Some(pos) => &token[1..pos],
            None => &token[1..],
        };
        if self.options.has_short(name) {
            return true;
        }
        name.chars().next().is_some_and(|c| self.options.has_short(&c.to_string()))
    }
}

/// `Util.stripLeadingAndTrailingQuotes`.
fn strip_quotes(token: &str) -> String {
    let n = token.chars().count();
    if n > 1 && token.starts_with('"') && token.ends_with('"') && !token[1..token.len() - 1].contains('"') {
        return token[1..token.len() - 1].to_string();
    }
    token.to_string()
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
