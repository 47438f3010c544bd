//! The values of a [`ShareableList`](crate::ShareableList): [`Item`] (any of Python's
//! storable types), [`ShareableItem`] (the Rust types a list is typed by), and the slot
//! encoding of CPython's `Lib/multiprocessing/shared_memory.py` (a `struct` format of at most 8
//! bytes and a back-transform code per slot).

use crate::shared_memory_error::SharedMemoryError;

/// Python's `struct` format of an `int` slot.
const FORMAT_INT: &[u8] = b"q";
/// Of a `float` slot.
const FORMAT_FLOAT: &[u8] = b"d";
/// Of a `bool` slot (the value in the slot's last byte).
const FORMAT_BOOL: &[u8] = b"xxxxxxx?";
/// Of a `None` slot.
const FORMAT_NONE: &[u8] = b"xxxxxx?x";
/// Back-transform codes: the value as unpacked (int, float, bool).
const CODE_VALUE: i8 = 0;
/// A UTF-8 string, NULs stripped from its end.
const CODE_STR: i8 = 1;
/// Bytes, NULs stripped from their end.
const CODE_BYTES: i8 = 2;
/// `None`.
const CODE_NONE: i8 = 3;
/// Python's slot granularity (`_alignment`).
pub(crate) const SLOT_ALIGN: usize = 8;
/// The largest string slot whose `"<n>s"` format fits Python's 8 bytes.
const MAX_STRING_SLOT: usize = 9_999_999;

/// One value of a [`ShareableList`](crate::ShareableList): what a slot of Python's
/// `ShareableList` can hold. Strings and bytes lose trailing NUL bytes, as in Python.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// Python's `int` (64-bit).
    Int(i64),
    /// Python's `float`.
    Float(f64),
    /// Python's `bool`.
    Bool(bool),
    /// Python's `str`.
    Str(String),
    /// Python's `bytes`.
    Bytes(Vec<u8>),
    /// Python's `None`.
    None,
}

impl Item {
    /// The Python type's name, for errors.
    pub fn type_name(&self) -> &'static str {
        match self {
            Item::Int(_) => "int",
            Item::Float(_) => "float",
            Item::Bool(_) => "bool",
            Item::Str(_) => "str",
            Item::Bytes(_) => "bytes",
            Item::None => "None",
        }
    }
}

/// A type a [`ShareableList`](crate::ShareableList) holds: `i64`, `f64`, `bool`, `String`,
/// `Vec<u8>`, or [`Item`] for a list of mixed values (as Python's).
pub trait ShareableItem: Sized {
    /// The value as a slot value.
    fn to_item(&self) -> Item;
    /// The slot value as `Self`; the item back if it is of another type.
    fn from_item(item: Item) -> Result<Self, Item>;
}

/// Implements `ShareableItem` for a type that is one `Item` variant.
macro_rules! shareable_item {
    ($($t:ty => $variant:ident),* $(,)?) => {
        $(
            impl ShareableItem for $t {
                fn to_item(&self) -> Item {
                    Item::$variant(self.clone())
                }
                fn from_item(item: Item) -> Result<Self, Item> {
                    match item {
                        Item::$variant(v) => Ok(v),
                        other => Err(other),
                    }
                }
            }
        )*
    };
}

shareable_item!(i64 => Int, f64 => Float, bool => Bool, String => Str, Vec<u8> => Bytes);

impl ShareableItem for Item {
    fn to_item(&self) -> Item {
        self.clone()
    }
    fn from_item(item: Item) -> Result<Self, Item> {
        Ok(item)
    }
}

/// A slot's storage when a list is created with `item` in it (Python's rule: 8 bytes for a
/// number, bool or None; for a string or bytes, the next multiple of 8 above its length, in
/// UTF-8 bytes here, in characters in Python, so never less than Python's).
pub(crate) fn initial_capacity(item: &Item) -> usize {
    match item {
        Item::Str(s) => SLOT_ALIGN * (s.len() / SLOT_ALIGN + 1),
        Item::Bytes(b) => SLOT_ALIGN * (b.len() / SLOT_ALIGN + 1),
        _ => SLOT_ALIGN,
    }
}

/// What a slot holds in shared memory for one value.
pub(crate) struct Encoded {
    /// The `struct` format, NUL-padded to 8 bytes.
    pub(crate) format: [u8; 8],
    /// The back-transform code.
    pub(crate) code: i8,
    /// The bytes the format packs (8 for numbers, the slot's whole storage for strings).
    pub(crate) data: Vec<u8>,
}

/// Encodes `item` for slot `index` of `capacity` bytes; `ExceedsSlot` if it does not fit.
pub(crate) fn encode(
    item: &Item,
    index: usize,
    capacity: usize,
) -> Result<Encoded, SharedMemoryError> {
    let exceeds = |len| SharedMemoryError::ExceedsSlot {
        index,
        len,
        capacity,
    };
    let fixed = |format: &[u8], code, data: [u8; 8]| {
        if capacity < 8 {
            return Err(exceeds(8));
        }
        Ok(Encoded {
            format: pad8(format),
            code,
            data: data.to_vec(),
        })
    };
    let string = |bytes: &[u8], code| {
        if bytes.len() > capacity {
            return Err(exceeds(bytes.len()));
        }
        if capacity > MAX_STRING_SLOT {
            return Err(SharedMemoryError::ExceedsSlot {
                index,
                len: bytes.len(),
                capacity: MAX_STRING_SLOT,
            });
        }
        let mut data = vec![0; capacity];
        data[..bytes.len()].copy_from_slice(bytes);
        Ok(Encoded {
            format: pad8(format!("{capacity}s").as_bytes()),
            code,
            data,
        })
    };
    match item {
        Item::Int(v) => fixed(FORMAT_INT, CODE_VALUE, v.to_ne_bytes()),
        Item::Float(v) => fixed(FORMAT_FLOAT, CODE_VALUE, v.to_ne_bytes()),
        Item::Bool(v) => fixed(FORMAT_BOOL, CODE_VALUE, [0, 0, 0, 0, 0, 0, 0, u8::from(*v)]),
        Item::None => fixed(FORMAT_NONE, CODE_NONE, [0; 8]),
        Item::Str(s) => string(s.as_bytes(), CODE_STR),
        Item::Bytes(b) => string(b, CODE_BYTES),
    }
}

/// Decodes a slot from its `format`, `code` and storage `slot` (as another process, Python
/// or ours, wrote them: everything is checked).
pub(crate) fn decode(format: [u8; 8], code: i8, slot: &[u8]) -> Result<Item, SharedMemoryError> {
    if code == CODE_NONE {
        return Ok(Item::None);
    }
    let end = format.iter().position(|&b| b == 0).unwrap_or(8);
    let format = &format[..end];
    let eight = || -> Result<[u8; 8], SharedMemoryError> {
        slot.get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or(SharedMemoryError::Corrupt(
                "a number in a slot under 8 bytes",
            ))
    };
    match format {
        FORMAT_INT => Ok(Item::Int(i64::from_ne_bytes(eight()?))),
        FORMAT_FLOAT => Ok(Item::Float(f64::from_ne_bytes(eight()?))),
        FORMAT_BOOL => Ok(Item::Bool(eight()?[7] != 0)),
        FORMAT_NONE => Ok(Item::None),
        [digits @ .., b's'] => {
            let n: usize = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse().ok())
                .ok_or(SharedMemoryError::Corrupt("a bad string format"))?;
            let bytes = slot.get(..n).ok_or(SharedMemoryError::Corrupt(
                "a string format beyond its slot",
            ))?;
            let kept = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            let bytes = bytes[..kept].to_vec();
            if code == CODE_STR {
                String::from_utf8(bytes)
                    .map(Item::Str)
                    .map_err(|_| SharedMemoryError::Corrupt("a string slot that is not UTF-8"))
            } else {
                Ok(Item::Bytes(bytes))
            }
        }
        _ => Err(SharedMemoryError::Corrupt("an unknown slot format")),
    }
}

/// `format` NUL-padded to 8 bytes (every format here is at most 8).
fn pad8(format: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..format.len()].copy_from_slice(format);
    out
}
