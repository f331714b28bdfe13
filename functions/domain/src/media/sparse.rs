//! The object as a parser sees it: `Read + Seek` over the byte ranges fetched so far.
//!
//! The container parsers are synchronous and want a file; the object is in S3 and arrives by
//! ranged GETs. A read of bytes not fetched yet fails and records where ([`Sparse::take_miss`]);
//! the probe fetches that range and runs the parser again from the start. Parsing a header is
//! cheap next to a round trip, so rerunning beats threading async reads through every parser.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};

/// A read the parser wanted that is not here yet: `len` bytes from `at`, when the caller knew how
/// many it would need (a box it is about to read whole), else 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Miss {
    pub at: u64,
    pub len: u64,
}

/// Byte ranges of one object of `size` bytes, with a cursor.
#[derive(Debug)]
pub struct Sparse {
    size: u64,
    /// Start → bytes; ranges never overlap (see [`Sparse::insert`]).
    ranges: BTreeMap<u64, Vec<u8>>,
    pos: u64,
    miss: Option<Miss>,
}

impl Sparse {
    pub fn new(size: u64) -> Self {
        Self { size, ranges: BTreeMap::new(), pos: 0, miss: None }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds fetched bytes starting at `at`; the part that overlaps a range already held is dropped.
    pub fn insert(&mut self, at: u64, bytes: Vec<u8>) {
        let mut at = at;
        let mut bytes = bytes;
        if let Some((&start, held)) = self.ranges.range(..=at).next_back() {
            let held_end = start + held.len() as u64;
            if held_end > at {
                let skip = (held_end - at).min(bytes.len() as u64) as usize;
                bytes.drain(..skip);
                at += skip as u64;
            }
        }
        if let Some((&next, _)) = self.ranges.range(at..).next() {
            bytes.truncate((next - at).min(bytes.len() as u64) as usize);
        }
        if !bytes.is_empty() {
            self.ranges.insert(at, bytes);
        }
    }

    /// How many bytes are held.
    pub fn held(&self) -> u64 {
        self.ranges.values().map(|r| r.len() as u64).sum()
    }

    /// Where the next range not held starts at or after `at`, and where the one after it begins
    /// (or the object's end): the gap a fetch from `at` may fill.
    pub fn gap(&self, at: u64) -> (u64, u64) {
        let mut start = at;
        while let Some((&s, held)) = self.ranges.range(..=start).next_back() {
            let end = s + held.len() as u64;
            if end <= start {
                break;
            }
            start = end;
        }
        let end = self.ranges.range(start..).next().map_or(self.size, |(&s, _)| s);
        (start, end.max(start))
    }

    /// The miss of the last run, if it had one; the cursor goes back to 0 for the next run.
    pub fn take_miss(&mut self) -> Option<Miss> {
        self.pos = 0;
        self.miss.take()
    }

    /// Records that `len` bytes from `at` are wanted; the error the parser sees.
    pub fn missing(&mut self, at: u64, len: u64) -> io::Error {
        self.miss.get_or_insert(Miss { at, len: len.max(1) });
        io::Error::other("bytes not fetched yet")
    }

    /// `len` bytes from `at`, if they are all held; else the miss names the whole gap, so one
    /// fetch brings a box the caller is about to read whole.
    pub fn slice(&mut self, at: u64, len: u64) -> io::Result<Vec<u8>> {
        let end = at.checked_add(len).filter(|&end| end <= self.size);
        let end =
            end.ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "past the end of the object"))?;
        let (gap, _) = self.gap(at);
        if gap < end {
            return Err(self.missing(gap, end - gap));
        }
        let saved = self.pos;
        self.pos = at;
        let mut out = vec![0; len as usize];
        let result = self.read_exact(&mut out);
        self.pos = saved;
        result.map(|()| out)
    }
}

impl Read for Sparse {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.pos >= self.size {
            return Ok(0);
        }
        let Some((&start, held)) = self.ranges.range(..=self.pos).next_back() else {
            return Err(self.missing(self.pos, buf.len() as u64));
        };
        let offset = self.pos - start;
        if offset >= held.len() as u64 {
            return Err(self.missing(self.pos, buf.len() as u64));
        }
        let n = (held.len() - offset as usize).min(buf.len());
        buf[..n].copy_from_slice(&held[offset as usize..offset as usize + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Sparse {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos =
            target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

/// A reader that gives up after `left` bytes and calls: the parsers loop on some malformed files
/// (a box of size 0 inside `trak` makes `re_mp4` read the same header forever), and a probe must
/// end. Each read or seek costs at least 1, so a loop that moves nowhere ends too.
pub struct Budget<R> {
    inner: R,
    left: u64,
}

impl<R> Budget<R> {
    pub fn new(inner: R, left: u64) -> Self {
        Self { inner, left }
    }

    /// A new allowance, for the next part of the work (each track of a `moov`, say).
    pub fn allow(&mut self, left: u64) {
        self.left = left;
    }

    fn spend(&mut self, n: u64) -> io::Result<()> {
        self.left = self.left.checked_sub(n.max(1)).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "the parser kept re-reading the same bytes (a looping box)",
            )
        })?;
        Ok(())
    }
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.spend(0)?;
        let n = self.inner.read(buf)?;
        self.spend(n as u64)?;
        Ok(n)
    }
}

impl<R: Seek> Seek for Budget<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.spend(0)?;
        self.inner.seek(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_is_held_and_names_what_is_not() {
        let mut s = Sparse::new(100);
        s.insert(10, (10..20).collect());
        s.seek(SeekFrom::Start(12)).unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(buf, [12, 13, 14, 15]);
        let mut big = [0u8; 8];
        assert!(s.read_exact(&mut big).is_err());
        assert_eq!(s.take_miss(), Some(Miss { at: 20, len: 4 }), "after the 4 held bytes");
        assert!(s.slice(0, 3).is_err());
        assert_eq!(s.take_miss(), Some(Miss { at: 0, len: 3 }));
        assert!(s.slice(15, 20).is_err());
        assert_eq!(s.take_miss(), Some(Miss { at: 20, len: 15 }), "the whole gap after the held bytes");
        assert!(s.slice(90, 20).is_err(), "past the end");
        assert_eq!(s.take_miss(), None);
        s.seek(SeekFrom::End(0)).unwrap();
        assert_eq!(s.read(&mut buf).unwrap(), 0, "the end of the object is an end, not a miss");
        assert_eq!(s.take_miss(), None);
    }

    #[test]
    fn overlapping_inserts_keep_the_first_bytes_and_fill_gaps() {
        let mut s = Sparse::new(50);
        s.insert(10, vec![1; 10]);
        s.insert(5, vec![2; 20]);
        assert_eq!(s.held(), 15, "5..10 added, 10..20 kept, the rest dropped");
        assert_eq!(s.slice(5, 15).unwrap(), [vec![2; 5], vec![1; 10]].concat());
        assert_eq!(s.gap(7), (20, 50));
        assert_eq!(s.gap(0), (0, 5));
    }

    #[test]
    fn a_budget_ends_a_reader_that_goes_round_in_circles() {
        let mut r = Budget::new(std::io::Cursor::new(vec![0u8; 16]), 40);
        let mut buf = [0u8; 8];
        for _ in 0..4 {
            r.read_exact(&mut buf).unwrap();
            r.seek(SeekFrom::Start(0)).unwrap();
        }
        let err = r.read_exact(&mut buf).unwrap_err();
        assert!(err.to_string().contains("re-reading the same bytes"), "{err}");
    }
}
