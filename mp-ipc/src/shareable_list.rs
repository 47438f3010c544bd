//! [`ShareableList`]: Python's `multiprocessing.shared_memory.ShareableList`, a fixed-length
//! list in a named segment, in CPython's layout so that Python and Rust read each other's:
//!
//! | bytes | what |
//! |---|---|
//! | 8 | the number of items N (`i64`) |
//! | (N + 1) x 8 | each slot's offset from the data area's start, then the data's end |
//! | K | the data area: each slot's storage (8 bytes, or a multiple of 8 for strings) |
//! | N x 8 | each slot's `struct` format (`q`, `d`, `xxxxxxx?`, `xxxxxx?x`, `<n>s`) |
//! | N | each slot's back-transform code (0 value, 1 str, 2 bytes, 3 None) |
//!
//! All integers are native-endian, as Python's `struct` writes them by default.

use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::shareable_item::{Item, ShareableItem, decode, encode, initial_capacity};
use crate::shared_memory::{SharedMemory, SharedMemoryOptions};
use crate::shared_memory_error::SharedMemoryError;

/// A fixed-length list of `T` in a named segment (Python's `ShareableList`): numbers, bools,
/// strings and byte strings (`T` = `i64`, `f64`, `bool`, `String`, `Vec<u8>`, or [`Item`]
/// for mixed values), each slot with the storage its first value gave it. A value that does
/// not fit its slot is an error and the slot keeps its old value.
///
/// Reads and writes copy the slot in and out (no reference into shared bytes is handed out);
/// nothing orders concurrent writers of the same slot, as in Python.
///
/// ```
/// use mp_ipc::{Item, ShareableList};
/// let sl = ShareableList::new(&[Item::Str("howdy".into()), Item::Int(100), Item::None])?;
/// let same = ShareableList::<Item>::attach(sl.name())?;
/// same.set(1, Item::Float(2.5))?;
/// assert_eq!(sl.get(1)?, Item::Float(2.5));
/// assert_eq!(sl.index(&Item::None)?, 2);
/// assert!(sl.set(0, Item::Str("more than 8 bytes".into())).is_err());
/// assert_eq!(sl.get(0)?, Item::Str("howdy".into()));
/// # Ok::<(), mp_ipc::SharedMemoryError>(())
/// ```
pub struct ShareableList<T> {
    /// The segment.
    shm: SharedMemory,
    /// Each slot's offset in the data area, and the data's end (`len + 1` entries): read and
    /// checked against the segment's size once, then never trusted from shared memory again.
    offsets: Vec<usize>,
    /// The element type.
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for ShareableList<T> {
    fn clone(&self) -> Self {
        ShareableList {
            shm: self.shm.clone(),
            offsets: self.offsets.clone(),
            _t: PhantomData,
        }
    }
}

/// Where the parts of a list of `len` items whose data area is `data_len` bytes start.
struct Layout {
    /// The data area.
    data: usize,
    /// The formats.
    formats: usize,
    /// The codes.
    codes: usize,
    /// The whole list.
    total: usize,
}

impl Layout {
    /// The layout, `None` if it overflows.
    fn of(len: usize, data_len: usize) -> Option<Layout> {
        let data = len.checked_add(2)?.checked_mul(8)?;
        let formats = data.checked_add(data_len)?;
        let codes = formats.checked_add(len.checked_mul(8)?)?;
        let total = codes.checked_add(len)?;
        Some(Layout {
            data,
            formats,
            codes,
            total,
        })
    }
}

impl<T: ShareableItem> ShareableList<T> {
    /// A list of `values` in a new segment with a generated name, owned by this process.
    pub fn new(values: &[T]) -> Result<Self, SharedMemoryError> {
        Self::with_options(&SharedMemoryOptions::new(), values)
    }

    /// A list of `values` in a new segment named `name`.
    pub fn create_named(name: &str, values: &[T]) -> Result<Self, SharedMemoryError> {
        Self::with_options(&SharedMemoryOptions::new().name(name), values)
    }

    /// A list of `values` in a new segment made with `options`.
    pub fn with_options(
        options: &SharedMemoryOptions,
        values: &[T],
    ) -> Result<Self, SharedMemoryError> {
        Self::create_with(values, |size| options.create(size))
    }

    /// A list of `values` in the segment `create(size)` makes.
    pub(crate) fn create_with(
        values: &[T],
        create: impl FnOnce(usize) -> Result<SharedMemory, SharedMemoryError>,
    ) -> Result<Self, SharedMemoryError> {
        let items: Vec<Item> = values.iter().map(ShareableItem::to_item).collect();
        let mut offsets = Vec::with_capacity(items.len() + 1);
        let mut end = 0usize;
        offsets.push(0);
        for item in &items {
            end = end
                .checked_add(initial_capacity(item))
                .ok_or(SharedMemoryError::Corrupt("the list is larger than memory"))?;
            offsets.push(end);
        }
        let layout = Layout::of(items.len(), end)
            .ok_or(SharedMemoryError::Corrupt("the list is larger than memory"))?;
        let encoded = items
            .iter()
            .enumerate()
            .map(|(i, item)| encode(item, i, offsets[i + 1] - offsets[i]))
            .collect::<Result<Vec<_>, _>>()?;
        let shm = create(layout.total)?;
        shm.write(0, &(items.len() as i64).to_ne_bytes())?;
        for (i, off) in offsets.iter().enumerate() {
            shm.write(8 + 8 * i, &(*off as i64).to_ne_bytes())?;
        }
        for (i, e) in encoded.iter().enumerate() {
            shm.write(layout.data + offsets[i], &e.data)?;
            shm.write(layout.formats + 8 * i, &e.format)?;
            shm.write(layout.codes + i, &e.code.to_ne_bytes())?;
        }
        Ok(ShareableList {
            shm,
            offsets,
            _t: PhantomData,
        })
    }

    /// Attaches to the list in the segment `name` (made by Python or by us).
    pub fn attach(name: &str) -> Result<Self, SharedMemoryError> {
        Self::from_shared_memory(SharedMemory::attach(name)?)
    }

    /// The list in `shm`, its layout checked against the segment's size.
    pub fn from_shared_memory(shm: SharedMemory) -> Result<Self, SharedMemoryError> {
        let corrupt = SharedMemoryError::Corrupt;
        let len = usize::try_from(shm.read_pod::<i64>(0)?)
            .ok()
            .filter(|&n| n <= shm.size() / 9)
            .ok_or(corrupt("a bad item count"))?;
        let mut offsets = Vec::with_capacity(len + 1);
        for i in 0..=len {
            let off = usize::try_from(shm.read_pod::<i64>(8 + 8 * i)?)
                .map_err(|_| corrupt("a negative offset"))?;
            if offsets.last().is_some_and(|&prev| off < prev) {
                return Err(corrupt("offsets out of order"));
            }
            offsets.push(off);
        }
        let layout = Layout::of(len, offsets[len]).ok_or(corrupt("offsets beyond memory"))?;
        if layout.total > shm.size() {
            return Err(corrupt("a layout larger than its segment"));
        }
        Ok(ShareableList {
            shm,
            offsets,
            _t: PhantomData,
        })
    }

    /// An independent copy (same values, same slot storage) in a new segment made with
    /// `options` (Python's `ShareableList(sl, name=...)`).
    pub fn copy_with(&self, options: &SharedMemoryOptions) -> Result<Self, SharedMemoryError> {
        let copy = options.create(self.shm.size())?;
        copy.write(0, &self.shm.to_vec())?;
        Ok(ShareableList {
            shm: copy,
            offsets: self.offsets.clone(),
            _t: PhantomData,
        })
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether the list has no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        self.shm.name()
    }

    /// The segment (e.g. to [`keep`](SharedMemory::keep) or [`unlink`](SharedMemory::unlink)
    /// it).
    pub fn shared_memory(&self) -> &SharedMemory {
        &self.shm
    }

    /// Item `index` (`IndexOutOfRange` past the end, `WrongType` if the slot holds a value
    /// of another type than `T`).
    pub fn get(&self, index: usize) -> Result<T, SharedMemoryError> {
        let item = self.item(index)?;
        T::from_item(item).map_err(|other| SharedMemoryError::WrongType {
            index,
            found: other.type_name(),
        })
    }

    /// Sets item `index` to `value` (a slot may change type, as in Python);
    /// `ExceedsSlot` if it does not fit, and the slot keeps its old value.
    pub fn set(&self, index: usize, value: T) -> Result<(), SharedMemoryError> {
        let (start, capacity) = self.slot(index)?;
        let e = encode(&value.to_item(), index, capacity)?;
        let layout = self.layout();
        self.shm.write(layout.formats + 8 * index, &e.format)?;
        self.shm
            .write(layout.codes + index, &e.code.to_ne_bytes())?;
        self.shm.write(layout.data + start, &e.data)
    }

    /// Every item, in order.
    pub fn to_vec(&self) -> Result<Vec<T>, SharedMemoryError> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }

    /// The first index whose item equals `value` (`NotInList` if none). Items compare by
    /// type and value: `Int(1)` is not `Bool(true)`, unlike Python's `1 == True`.
    pub fn index(&self, value: &T) -> Result<usize, SharedMemoryError> {
        let wanted = value.to_item();
        for i in 0..self.len() {
            if self.item(i)? == wanted {
                return Ok(i);
            }
        }
        Err(SharedMemoryError::NotInList)
    }

    /// How many items equal `value`.
    pub fn count(&self, value: &T) -> Result<usize, SharedMemoryError> {
        let wanted = value.to_item();
        let mut n = 0;
        for i in 0..self.len() {
            n += usize::from(self.item(i)? == wanted);
        }
        Ok(n)
    }

    /// Python's `format`: every slot's `struct` format, joined.
    pub fn format(&self) -> Result<String, SharedMemoryError> {
        let mut out = String::new();
        for i in 0..self.len() {
            let f = self
                .shm
                .read_pod::<[u8; 8]>(self.layout().formats + 8 * i)?;
            let end = f.iter().position(|&b| b == 0).unwrap_or(8);
            out.push_str(
                std::str::from_utf8(&f[..end])
                    .map_err(|_| SharedMemoryError::Corrupt("a format that is not ASCII"))?,
            );
        }
        Ok(out)
    }

    /// Item `index` as a slot value.
    fn item(&self, index: usize) -> Result<Item, SharedMemoryError> {
        let (start, capacity) = self.slot(index)?;
        let layout = self.layout();
        let format = self.shm.read_pod::<[u8; 8]>(layout.formats + 8 * index)?;
        let code = self.shm.read_pod::<i8>(layout.codes + index)?;
        let mut storage = vec![0; capacity];
        self.shm.read(layout.data + start, &mut storage)?;
        decode(format, code, &storage)
    }

    /// Slot `index`'s start in the data area and its storage.
    fn slot(&self, index: usize) -> Result<(usize, usize), SharedMemoryError> {
        if index >= self.len() {
            return Err(SharedMemoryError::IndexOutOfRange {
                index,
                len: self.len(),
            });
        }
        Ok((
            self.offsets[index],
            self.offsets[index + 1] - self.offsets[index],
        ))
    }

    /// The layout (checked at creation or attach).
    fn layout(&self) -> Layout {
        Layout::of(self.len(), self.offsets[self.len()]).expect("checked when made")
    }
}

impl<T> std::fmt::Debug for ShareableList<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareableList")
            .field("name", &self.shm.name())
            .field("len", &(self.offsets.len() - 1))
            .finish()
    }
}

/// A list travels as its segment's name.
impl<T> Serialize for ShareableList<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.shm.serialize(serializer)
    }
}

/// The receiver attaches by name without taking ownership.
impl<'de, T: ShareableItem> Deserialize<'de> for ShareableList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let shm = SharedMemory::deserialize(deserializer)?;
        ShareableList::from_shared_memory(shm).map_err(serde::de::Error::custom)
    }
}
