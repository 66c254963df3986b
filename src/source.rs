//! Source files, byte spans, and the line index used only when rendering positions.

use serde::Serialize;

/// A half-open byte range `start..end` into one source file.
///
/// Spans are byte offsets everywhere in the compiler; line and column are computed only at the
/// edge, when a diagnostic is rendered (see [`LineIndex`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Span {
    /// Offset of the first byte.
    pub start: u32,
    /// Offset one past the last byte.
    pub end: u32,
}

impl Span {
    /// Builds a span from `usize` offsets. Sources are capped at [`MAX_SOURCE_LEN`] bytes when
    /// loaded, so the conversion cannot truncate.
    pub fn new(start: usize, end: usize) -> Span {
        debug_assert!(start <= end, "span start {start} after end {end}");
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// An empty span at `offset`, for "expected X here" positions.
    pub fn point(offset: usize) -> Span {
        Span::new(offset, offset)
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// Length in bytes.
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// True for an empty span.
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The range, for slicing the source.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

impl From<pest::Span<'_>> for Span {
    fn from(span: pest::Span<'_>) -> Span {
        Span::new(span.start(), span.end())
    }
}

/// The largest source accepted, so every offset fits a [`Span`]'s `u32`.
pub const MAX_SOURCE_LEN: usize = u32::MAX as usize;

/// Identifies a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FileId(pub u32);

/// One source file: its display name (a path, or a pseudo-path such as `<stdlib/rings.rollout>`)
/// and its text.
#[derive(Debug)]
pub struct SourceFile {
    name: String,
    text: String,
    lines: LineIndex,
}

impl SourceFile {
    /// Wraps a file's text under its display name.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let lines = LineIndex::new(&text);
        SourceFile {
            name: name.into(),
            text,
            lines,
        }
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The line index of the text.
    pub fn lines(&self) -> &LineIndex {
        &self.lines
    }
}

/// All source files of one compilation, addressed by [`FileId`].
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.files.push(SourceFile::new(name, text));
        id
    }

    /// The file with this id.
    ///
    /// Ids are only minted by [`SourceMap::add`], so a lookup cannot fail for ids of this map.
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// Every file with its id, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }
}

/// Line starts of a text, for turning byte offsets into 1-based line and column numbers.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    /// Indexes `text`.
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0u32];
        starts.extend(memchr_newlines(text).map(|i| (i + 1) as u32));
        LineIndex { starts }
    }

    /// Byte offsets where each line starts (the first is always 0).
    pub fn line_starts(&self) -> &[u32] {
        &self.starts
    }

    /// 0-based line of `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&(offset as u32)) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    /// 1-based line and 1-based column (counted in Unicode scalar values) of `offset` in `text`.
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self.line_of(offset);
        let start = self.starts[line] as usize;
        let column = text[start..offset].chars().count() + 1;
        (line + 1, column)
    }
}

fn memchr_newlines(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'\n')
        .map(|(i, _)| i)
}

/// The largest char boundary at or before `offset`.
pub fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_is_one_based_and_counts_chars() {
        let text = "ab\ncé d\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_col(text, 0), (1, 1));
        assert_eq!(idx.line_col(text, 3), (2, 1));
        // `d` comes after the two-byte `é`: byte 7, column 4.
        assert_eq!(idx.line_col(text, 7), (2, 4));
        assert_eq!(idx.line_col(text, text.len()), (3, 1));
    }
}
