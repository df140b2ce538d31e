//! commons-cli 1.5.0 `HelpFormatter.printHelp(app, options, true)` as mqadmin's
//! `ServerUtil` calls it (width 110, left pad 1, description pad 3, arg name `arg`).

use crate::cli::{Opt, Options};

/// `ServerUtil` sets the formatter width to 110.
pub const WIDTH: usize = 110;
const LEFT_PAD: usize = 1;
const DESC_PAD: usize = 3;

/// The whole help text: the usage line(s) then the option table, each line ending in `\n`.
pub fn help(app: &str, options: &Options) -> String {
    let mut out = usage(app, options);
    out.push('\n');
    out.push_str(&render_options(options));
    out.push('\n');
    out
}

/// Options sorted by key, ignoring case (a stable sort, like `Collections.sort`).
fn sorted(options: &Options) -> Vec<&Opt> {
    let mut list: Vec<&Opt> = options.list().iter().collect();
    list.sort_by(|a, b| compare_ignore_case(a.key(), b.key()));
    list
}

/// `String.compareToIgnoreCase`: per UTF-16 unit, upper- then lower-cased.
fn compare_ignore_case(a: &str, b: &str) -> std::cmp::Ordering {
    let fold = |s: &str| -> Vec<u32> {
        s.chars()
            .map(|c| {
                let up = c.to_uppercase().next().unwrap_or(c);
                up.to_lowercase().next().unwrap_or(up) as u32
            })
            .collect()
    };
    fold(a).cmp(&fold(b))
}

/// `appendOption`: `-x <arg>`, in brackets unless required.
fn append_option(buff: &mut String, o: &Opt, required: bool) {
    if !required {
        buff.push('[');
    }
    match &o.short {
        Some(s) => {
            buff.push('-');
            buff.push_str(s);
        }
        None => {
            buff.push_str("--");
            buff.push_str(o.long.as_deref().unwrap_or_default());
        }
    }
    if o.has_arg {
        buff.push_str(" <arg>");
    }
    if !required {
        buff.push(']');
    }
}

/// `printUsage(pw, width, app, options)` without the final line break. A group is
/// written once, where its first member sorts: `-b <arg> | -c <arg>` (bracketed
/// when the group is optional).
fn usage(app: &str, options: &Options) -> String {
    let mut buff = format!("usage: {app} ");
    let list = sorted(options);
    let mut done_groups: Vec<usize> = Vec::new();
    for (i, o) in list.iter().enumerate() {
        match options.group_of(o.key()) {
            Some((gi, g)) => {
                if !done_groups.contains(&gi) {
                    done_groups.push(gi);
                    if !g.required {
                        buff.push('[');
                    }
                    let mut members: Vec<&Opt> =
                        g.keys.iter().filter_map(|k| options.list().iter().find(|m| m.key() == k)).collect();
                    members.sort_by(|a, b| compare_ignore_case(a.key(), b.key()));
                    for (j, m) in members.iter().enumerate() {
                        append_option(&mut buff, m, true);
                        if j + 1 < members.len() {
                            buff.push_str(" | ");
                        }
                    }
                    if !g.required {
                        buff.push(']');
                    }
                }
            }
            None => append_option(&mut buff, o, o.required),
        }
        if i + 1 < list.len() {
            buff.push(' ');
        }
    }
    let tab = buff.find(' ').map_or(0, |p| p + 1);
    wrapped_block(WIDTH, tab, &buff)
}

/// `renderOptions`: `-x,--long <arg>` column padded to the widest, then the description.
fn render_options(options: &Options) -> String {
    let lpad = " ".repeat(LEFT_PAD);
    let list = sorted(options);
    let prefixes: Vec<String> = list
        .iter()
        .map(|o| {
            let mut p = lpad.clone();
            match (&o.short, &o.long) {
                (None, Some(l)) => p.push_str(&format!("   --{l}")),
                (Some(s), long) => {
                    p.push_str(&format!("-{s}"));
                    if let Some(l) = long {
                        p.push_str(&format!(",--{l}"));
                    }
                }
                (None, None) => {}
            }
            if o.has_arg {
                p.push_str(" <arg>");
            }
            p
        })
        .collect();
    let max = prefixes.iter().map(|p| p.chars().count()).max().unwrap_or(0);
    let mut sb = String::new();
    for (i, (o, prefix)) in list.iter().zip(&prefixes).enumerate() {
        let mut line = prefix.clone();
        line.push_str(&" ".repeat(max - prefix.chars().count()));
        line.push_str(&" ".repeat(DESC_PAD));
        line.push_str(&o.desc);
        wrap_text(&mut sb, WIDTH, max + DESC_PAD, &line);
        if i + 1 < list.len() {
            sb.push('\n');
        }
    }
    sb
}

/// `renderWrappedTextBlock`: each input line wrapped on its own.
fn wrapped_block(width: usize, tab: usize, text: &str) -> String {
    let mut sb = String::new();
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            sb.push('\n');
        }
        wrap_text(&mut sb, width, tab, line);
    }
    sb
}

/// `renderWrappedText`.
fn wrap_text(sb: &mut String, width: usize, tab: usize, text: &str) {
    let mut text: Vec<char> = text.chars().collect();
    let Some(mut pos) = find_wrap_pos(&text, width, 0) else {
        sb.push_str(&rtrim(&text));
        return;
    };
    sb.push_str(&rtrim(&text[..pos]));
    sb.push('\n');
    let tab = if tab >= width { 1 } else { tab };
    let padding: Vec<char> = vec![' '; tab];
    loop {
        let rest = java_trim(&text[pos..]);
        text = padding.iter().copied().chain(rest.iter().copied()).collect();
        match find_wrap_pos(&text, width, 0) {
            None => {
                sb.extend(text.iter());
                return;
            }
            Some(p) => {
                pos = if text.len() > width && p + 1 == tab { width } else { p };
                sb.push_str(&rtrim(&text[..pos]));
                sb.push('\n');
            }
        }
    }
}

/// `findWrapPos`: `None` when the rest fits.
fn find_wrap_pos(text: &[char], width: usize, start: usize) -> Option<usize> {
    let index_of = |c: char| text.iter().skip(start).position(|&x| x == c).map(|p| p + start);
    if let Some(p) = index_of('\n').filter(|&p| p <= width) {
        return Some(p + 1);
    }
    if let Some(p) = index_of('\t').filter(|&p| p <= width) {
        return Some(p + 1);
    }
    if start + width >= text.len() {
        return None;
    }
    let mut pos = start + width;
    loop {
        let c = text[pos];
        if c == ' ' || c == '\n' || c == '\r' {
            break;
        }
        if pos == start {
            // No blank found (Java leaves pos = start - 1 here).
            let chop = start + width;
            return (chop != text.len()).then_some(chop);
        }
        pos -= 1;
    }
    if pos > start {
        return Some(pos);
    }
    let chop = start + width;
    (chop != text.len()).then_some(chop)
}

/// `rtrim`: drops trailing `Character.isWhitespace` chars.
fn rtrim(s: &[char]) -> String {
    let end = s.iter().rposition(|c| !c.is_whitespace()).map_or(0, |p| p + 1);
    s[..end].iter().collect()
}

/// `String.trim()` on a char slice.
fn java_trim(s: &[char]) -> &[char] {
    let start = s.iter().position(|&c| c > ' ').unwrap_or(s.len());
    let end = s.iter().rposition(|&c| c > ' ').map_or(start, |p| p + 1);
    &s[start..end]
}
