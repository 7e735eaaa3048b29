//! Streaming reader: feed chunks of any size, get logical tensors as soon
//! as all their bytes arrived.
//!
//! **Trust:** tensors are emitted *before* the SHA-256 of the data buffer is
//! checked (that happens in [`StreamParser::finish`]). Every emitted tensor
//! is structurally valid (shape, payload length, finite values/scales,
//! quantized codes in range) but its values may be corrupted. Treat the model
//! as untrusted — do not commit it — until `finish()` returns `Ok`.
//!
//! Memory: the parser buffers the header (≤ `Limits::max_header_bytes`) and
//! then at most one logical tensor; buffers grow only with bytes actually
//! received, never from sizes claimed by the header.

use half::f16;

use super::error::FormatError;
use super::hash::DataHasher;
use super::header::{DType, Limits, ModelHeader, Network, PartRole, PhysicalPart, TensorInfo, parse_header};
use super::quant::{Scheme, Storage, int4_groups, quant_rows_cols};

/// A logical tensor, fully received and validated (but see the module docs on trust).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedTensor {
    pub name: String,
    pub network: Network,
    pub shape: Vec<usize>,
    pub storage: Storage,
}

impl ParsedTensor {
    /// CPU reference dequantization to f32.
    pub fn dequantize(&self) -> Result<Vec<f32>, FormatError> {
        self.storage.dequantize(&self.shape).map_err(|e| self.named(e))
    }
    /// Checks that the payload fits the shape, as [`ParsedTensor::dequantize`] does first.
    pub fn check_payload(&self) -> Result<(), FormatError> {
        self.storage.check(&self.shape).map_err(|e| self.named(e))
    }
    fn named(&self, e: FormatError) -> FormatError {
        match e {
            FormatError::InvalidShape { shape, reason, .. } => {
                FormatError::InvalidShape { tensor: self.name.clone(), shape, reason }
            }
            e => e,
        }
    }
    pub fn scheme(&self) -> Scheme {
        self.storage.scheme()
    }
}

/// Where the parser stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub bytes_received: u64,
    /// Known once the header is parsed.
    pub total_bytes: Option<u64>,
    pub tensors_ready: usize,
    /// Known once the header is parsed.
    pub tensors_total: Option<usize>,
}

enum State {
    /// Reading the 8-byte header length.
    Len {
        buf: [u8; 8],
        have: usize,
    },
    /// Reading the N-byte JSON header.
    Header {
        len: u64,
        buf: Vec<u8>,
    },
    /// Reading the data buffer. `pos` = data bytes received so far; `buf`
    /// holds the bytes of tensor `next` received so far.
    Data {
        next: usize,
        pos: u64,
        buf: Vec<u8>,
        hasher: DataHasher,
    },
    Failed,
}

/// Incremental `.ldf` parser. See the module docs.
pub struct StreamParser {
    limits: Limits,
    state: State,
    received: u64,
    ready: usize,
    header: Option<ModelHeader>,
}

impl StreamParser {
    pub fn new(limits: Limits) -> Self {
        StreamParser { limits, state: State::Len { buf: [0; 8], have: 0 }, received: 0, ready: 0, header: None }
    }

    /// The validated header, once all of it arrived.
    pub fn header(&self) -> Option<&ModelHeader> {
        self.header.as_ref()
    }

    pub fn progress(&self) -> Progress {
        Progress {
            bytes_received: self.received,
            total_bytes: self.header.as_ref().map(|h| h.total_bytes),
            tensors_ready: self.ready,
            tensors_total: self.header.as_ref().map(|h| h.tensors.len()),
        }
    }

    /// True once every byte of the file has been received (hash not yet checked).
    pub fn is_complete(&self) -> bool {
        match (&self.state, &self.header) {
            (State::Data { pos, .. }, Some(h)) => *pos == h.data_len,
            _ => false,
        }
    }

    /// Feed the next chunk (any size, including empty). Returns the logical
    /// tensors completed by this chunk, in file order. After an error the
    /// parser is poisoned: further calls return [`FormatError::Poisoned`].
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<ParsedTensor>, FormatError> {
        if matches!(self.state, State::Failed) {
            return Err(FormatError::Poisoned);
        }
        let mut out = Vec::new();
        match self.push_inner(chunk, &mut out) {
            Ok(()) => Ok(out),
            Err(e) => {
                self.state = State::Failed;
                Err(e)
            }
        }
    }

    fn push_inner(&mut self, mut input: &[u8], out: &mut Vec<ParsedTensor>) -> Result<(), FormatError> {
        loop {
            match &mut self.state {
                State::Failed => return Err(FormatError::Poisoned),
                State::Len { buf, have } => {
                    let n = (8 - *have).min(input.len());
                    buf[*have..*have + n].copy_from_slice(&input[..n]);
                    *have += n;
                    input = &input[n..];
                    self.received += n as u64;
                    if *have < 8 {
                        return Ok(());
                    }
                    let len = u64::from_le_bytes(*buf);
                    if len > self.limits.max_header_bytes {
                        return Err(FormatError::HeaderTooLarge { len, limit: self.limits.max_header_bytes });
                    }
                    if len < 2 {
                        return Err(FormatError::HeaderJson {
                            offset: 8,
                            message: format!("header length {len} is too short"),
                        });
                    }
                    self.state = State::Header { len, buf: Vec::new() };
                }
                State::Header { len, buf } => {
                    let want = len.saturating_sub(buf.len() as u64);
                    let n = usize::try_from(want).unwrap_or(usize::MAX).min(input.len());
                    buf.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    self.received += n as u64;
                    if (buf.len() as u64) < *len {
                        return Ok(());
                    }
                    let header = parse_header(buf, &self.limits)?;
                    self.header = Some(header);
                    self.state = State::Data { next: 0, pos: 0, buf: Vec::new(), hasher: DataHasher::new() };
                    self.emit_ready(out)?; // leading empty tensors
                }
                State::Data { next, pos, buf, hasher } => {
                    let Some(h) = self.header.as_ref() else { return Err(FormatError::Poisoned) };
                    if input.is_empty() {
                        return Ok(());
                    }
                    if *pos == h.data_len {
                        return Err(FormatError::TrailingBytes { offset: h.total_bytes });
                    }
                    // `next` is < tensors.len() here because pos < data_len and
                    // empty tensors are drained eagerly.
                    let Some(t) = h.tensors.get(*next) else { return Err(FormatError::Poisoned) };
                    // > 0: tensors ending at or before `pos` were emitted
                    let want = t.data_range.1.saturating_sub(*pos);
                    if want == 0 {
                        return Err(FormatError::Poisoned);
                    }
                    let n = usize::try_from(want).unwrap_or(usize::MAX).min(input.len());
                    let bytes = &input[..n];
                    hasher.update(bytes);
                    // Grow geometrically but never past this tensor's size:
                    // capacity <= min(2 x bytes received, tensor size).
                    if buf.capacity() - buf.len() < n {
                        let rest = usize::try_from(t.data_range.1 - t.data_range.0)
                            .unwrap_or(usize::MAX)
                            .saturating_sub(buf.len());
                        buf.reserve_exact(buf.len().max(n).min(rest).max(n));
                    }
                    buf.extend_from_slice(bytes);
                    *pos += n as u64;
                    input = &input[n..];
                    self.received += n as u64;
                    self.emit_ready(out)?;
                }
            }
        }
    }

    /// Decode and emit every tensor whose bytes are all in.
    fn emit_ready(&mut self, out: &mut Vec<ParsedTensor>) -> Result<(), FormatError> {
        let State::Data { next, pos, buf, .. } = &mut self.state else { return Ok(()) };
        let Some(h) = self.header.as_ref() else { return Ok(()) };
        while let Some(t) = h.tensors.get(*next) {
            if t.data_range.1 > *pos {
                break;
            }
            let bytes = std::mem::take(buf);
            out.push(decode_tensor(t, &bytes, h.data_start)?);
            *next += 1;
            self.ready += 1;
        }
        Ok(())
    }

    /// End of input: checks that the file is complete and the data hash
    /// matches, and returns the header. Only now may the model be trusted.
    pub fn finish(self) -> Result<ModelHeader, FormatError> {
        let got = self.received;
        match self.state {
            State::Failed => Err(FormatError::Poisoned),
            State::Len { .. } => Err(FormatError::Truncated { expected: 8, got }),
            State::Header { len, .. } => Err(FormatError::Truncated { expected: 8 + len, got }),
            State::Data { pos, hasher, .. } => {
                let Some(h) = self.header else { return Err(FormatError::Poisoned) };
                if pos < h.data_len {
                    return Err(FormatError::Truncated { expected: h.total_bytes, got });
                }
                let actual = hasher.finish_hex();
                if actual != h.sha256 {
                    return Err(FormatError::HashMismatch { expected: h.sha256, actual });
                }
                Ok(h)
            }
        }
    }
}

/// Parse a whole file held in memory.
pub fn read_model(bytes: &[u8]) -> Result<(ModelHeader, Vec<ParsedTensor>), FormatError> {
    read_model_with_limits(bytes, Limits::default())
}

pub fn read_model_with_limits(bytes: &[u8], limits: Limits) -> Result<(ModelHeader, Vec<ParsedTensor>), FormatError> {
    let mut p = StreamParser::new(limits);
    let tensors = p.push(bytes)?;
    let header = p.finish()?;
    Ok((header, tensors))
}

// --------------------------------------------------------------------------
// decoding one logical tensor from its bytes

struct PartCtx<'a> {
    part: &'a PhysicalPart,
    /// File offset of the part's first byte.
    file_off: u64,
}

impl PartCtx<'_> {
    fn non_finite(&self, i: usize, size: u64) -> FormatError {
        FormatError::NonFinite {
            tensor: self.part.name.clone(),
            index: i as u64,
            offset: Some(self.file_off + i as u64 * size),
        }
    }
    fn bad_quant(&self, i: usize, byte: u64, reason: &str) -> FormatError {
        FormatError::InvalidQuant {
            tensor: self.part.name.clone(),
            index: i as u64,
            offset: self.file_off + byte,
            reason: reason.to_string(),
        }
    }
}

fn read_f32s(c: &PartCtx, b: &[u8]) -> Result<Vec<f32>, FormatError> {
    let mut v = Vec::with_capacity(b.len() / 4);
    for (i, ch) in b.chunks_exact(4).enumerate() {
        let x = f32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]);
        if !x.is_finite() {
            return Err(c.non_finite(i, 4));
        }
        v.push(x);
    }
    Ok(v)
}

fn read_f16s(c: &PartCtx, b: &[u8], scales: bool) -> Result<Vec<f16>, FormatError> {
    let mut v = Vec::with_capacity(b.len() / 2);
    for (i, ch) in b.chunks_exact(2).enumerate() {
        let x = f16::from_bits(u16::from_le_bytes([ch[0], ch[1]]));
        if !x.is_finite() {
            return Err(c.non_finite(i, 2));
        }
        if scales && x.is_sign_negative() {
            return Err(c.bad_quant(i, 2 * i as u64, "negative scale"));
        }
        v.push(x);
    }
    Ok(v)
}

fn decode_tensor(t: &TensorInfo, bytes: &[u8], data_start: u64) -> Result<ParsedTensor, FormatError> {
    let inconsistent = |reason: &str| FormatError::Inconsistent { tensor: t.name.clone(), reason: reason.to_string() };
    if bytes.len() as u64 != t.stored_bytes() {
        return Err(inconsistent("internal: buffered byte count differs from the header"));
    }
    let mut scales: Option<Vec<f16>> = None;
    let mut storage: Option<Storage> = None;
    for p in &t.parts {
        let rel = |o: u64| o.checked_sub(t.data_range.0).and_then(|x| usize::try_from(x).ok());
        let b = match (rel(p.data_offsets.0), rel(p.data_offsets.1)) {
            (Some(lo), Some(hi)) if lo <= hi => bytes.get(lo..hi),
            _ => None,
        }
        .ok_or_else(|| inconsistent("internal: part outside its tensor"))?;
        let c = PartCtx { part: p, file_off: data_start + p.data_offsets.0 };
        match (p.role, p.dtype, t.scheme) {
            (PartRole::Values, DType::F32, Scheme::F32) => storage = Some(Storage::F32(read_f32s(&c, b)?)),
            (PartRole::Values, DType::F16, Scheme::F16) => storage = Some(Storage::F16(read_f16s(&c, b, false)?)),
            (PartRole::Scale, DType::F16, Scheme::Int8 | Scheme::Int4 { .. }) => scales = Some(read_f16s(&c, b, true)?),
            (PartRole::Q, DType::I8, Scheme::Int8) => {
                if let Some(i) = b.iter().position(|&x| x == 0x80) {
                    return Err(c.bad_quant(i, i as u64, "int8 code -128 is not allowed (range is -127..=127)"));
                }
                let s = scales.take().ok_or_else(|| inconsistent("int8 scales missing"))?;
                storage = Some(Storage::Int8 { q: b.iter().map(|&x| x as i8).collect(), scales: s });
            }
            (PartRole::Q, DType::U8, Scheme::Int4 { group }) => {
                check_int4(&c, b, &t.shape, group)?;
                let s = scales.take().ok_or_else(|| inconsistent("int4 scales missing"))?;
                storage = Some(Storage::Int4 { packed: b.to_vec(), group, scales: s });
            }
            (PartRole::Pad, DType::U8, _) => {
                if let Some(i) = b.iter().position(|&x| x != 0) {
                    return Err(FormatError::NonZeroPadding { tensor: p.name.clone(), offset: c.file_off + i as u64 });
                }
            }
            _ => return Err(inconsistent("unexpected physical part")),
        }
    }
    let storage = storage.ok_or_else(|| inconsistent("no payload"))?;
    Ok(ParsedTensor { name: t.name.clone(), network: t.network, shape: t.shape.clone(), storage })
}

/// Codes are nibbles 1..=15 for real elements, 8 for row padding.
fn check_int4(c: &PartCtx, b: &[u8], shape: &[usize], group: usize) -> Result<(), FormatError> {
    let geom = quant_rows_cols(shape).and_then(|(rows, cols)| Some((rows, cols, int4_groups(cols, group)?.1)));
    let Some((rows, cols, padded)) = geom else {
        return Err(FormatError::Inconsistent { tensor: c.part.name.clone(), reason: "bad int4 geometry".into() });
    };
    let row_bytes = padded / 2;
    if rows.checked_mul(row_bytes) != Some(b.len()) {
        return Err(FormatError::Inconsistent { tensor: c.part.name.clone(), reason: "int4 payload size".into() });
    }
    let full = cols / 2; // bytes holding two real elements
    for (r, row) in b.chunks_exact(row_bytes.max(1)).enumerate() {
        // fast path: both nibbles of the full bytes must be non-zero
        if row[..full].iter().all(|&x| x & 0x0f != 0 && x & 0xf0 != 0) && row[full..].is_empty() {
            continue;
        }
        for (k, &byte) in row.iter().enumerate() {
            if k < full && byte & 0x0f != 0 && byte & 0xf0 != 0 {
                continue;
            }
            for (j, nib) in [(2 * k, byte & 0x0f), (2 * k + 1, byte >> 4)] {
                let ok = if j < cols { nib != 0 } else { nib == 8 };
                if !ok {
                    let idx = r * padded + j;
                    let why = if j < cols {
                        "int4 nibble 0 (code -8) is not allowed"
                    } else {
                        "int4 row padding must be code 0 (nibble 8)"
                    };
                    return Err(c.bad_quant(idx, (r * row_bytes + k) as u64, why));
                }
            }
        }
    }
    Ok(())
}
