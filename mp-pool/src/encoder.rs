//! postcard's encoding, written straight into a vector: the encoder of the pool's argument and
//! outcome records, byte for byte what `postcard::to_allocvec` makes (they are read back with
//! postcard). postcard's own serializer writes each varint byte by byte to the stack and hands
//! its output the slice, which then costs a call to memcpy, a loop of pushes or a stalled wide
//! load per piece (about half a worker's time for `u64` items, by perf); here a varint is
//! gathered in a register and stored as one word.

use std::fmt;

use serde::ser::{self, Serialize};

use crate::encode_target::EncodeTarget;

/// Appends the postcard encoding of `value` to `out` (on an error, `out` may hold part of it).
#[inline]
pub(crate) fn encode_into<T: Serialize + ?Sized, O: EncodeTarget>(
    value: &T,
    out: &mut O,
) -> Result<(), EncodeError> {
    value.serialize(&mut Encoder(out))
}

/// Why a value could not be encoded.
#[derive(Debug)]
pub(crate) struct EncodeError(String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EncodeError {}

impl ser::Error for EncodeError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        EncodeError(message.to_string())
    }
}

/// The serializer: where it writes.
struct Encoder<'a, O>(&'a mut O);

impl<O: EncodeTarget> Encoder<'_, O> {
    /// A LEB128 varint (postcard's for every unsigned integer and length).
    #[inline]
    fn varint(&mut self, value: u64) {
        if value < 0x80 {
            self.0.push(value as u8);
            return;
        }
        if value >= 1 << 56 {
            return self.long_varint(u128::from(value));
        }
        // Seven bits a byte, the high bit on all but the last: at most 8 bytes below 2^56,
        // spread into one word without a loop (byte k holds bits 7k..7k+7). The length is a
        // sum of comparisons made side by side: the next record's writes wait for it (the
        // vector's length), and a bit scan and a division by 7 took three times as long.
        let mut len = 1;
        for k in 1..8 {
            len += usize::from(value >= 1 << (7 * k));
        }
        let mut word = 0u64;
        for k in 0..8 {
            word |= (value << k) & (0x7f << (8 * k));
        }
        word |= 0x8080_8080_8080_8080 & ((1u64 << (8 * (len - 1))) - 1);
        self.0.push_word(word.to_le_bytes(), len);
    }

    /// A varint of 9 bytes or more, byte by byte.
    #[cold]
    fn long_varint(&mut self, mut value: u128) {
        while value >= 0x80 {
            self.0.push((value & 0x7f) as u8 | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    /// A length, as postcard writes a `usize`.
    #[inline]
    fn len(&mut self, len: usize) {
        self.varint(len as u64);
    }

    /// An enum's variant index.
    #[inline]
    fn variant(&mut self, index: u32) {
        self.varint(u64::from(index));
    }
}

/// Zig-zag: small magnitudes of either sign as small unsigned values (postcard's signed form).
#[inline]
fn zig_zag(n: i128) -> u128 {
    ((n << 1) ^ (n >> 127)) as u128
}

impl<O: EncodeTarget> ser::Serializer for &mut Encoder<'_, O> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    #[inline]
    fn is_human_readable(&self) -> bool {
        false
    }

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<(), EncodeError> {
        self.0.push(u8::from(v));
        Ok(())
    }

    #[inline]
    fn serialize_i8(self, v: i8) -> Result<(), EncodeError> {
        self.0.push(v.to_le_bytes()[0]);
        Ok(())
    }

    #[inline]
    fn serialize_i16(self, v: i16) -> Result<(), EncodeError> {
        self.serialize_i64(i64::from(v))
    }

    #[inline]
    fn serialize_i32(self, v: i32) -> Result<(), EncodeError> {
        self.serialize_i64(i64::from(v))
    }

    #[inline]
    fn serialize_i64(self, v: i64) -> Result<(), EncodeError> {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
        Ok(())
    }

    #[inline]
    fn serialize_i128(self, v: i128) -> Result<(), EncodeError> {
        self.long_varint(zig_zag(v));
        Ok(())
    }

    #[inline]
    fn serialize_u8(self, v: u8) -> Result<(), EncodeError> {
        self.0.push(v);
        Ok(())
    }

    #[inline]
    fn serialize_u16(self, v: u16) -> Result<(), EncodeError> {
        self.varint(u64::from(v));
        Ok(())
    }

    #[inline]
    fn serialize_u32(self, v: u32) -> Result<(), EncodeError> {
        self.varint(u64::from(v));
        Ok(())
    }

    #[inline]
    fn serialize_u64(self, v: u64) -> Result<(), EncodeError> {
        self.varint(v);
        Ok(())
    }

    #[inline]
    fn serialize_u128(self, v: u128) -> Result<(), EncodeError> {
        self.long_varint(v);
        Ok(())
    }

    #[inline]
    fn serialize_f32(self, v: f32) -> Result<(), EncodeError> {
        self.0.extend_from_slice(&v.to_bits().to_le_bytes());
        Ok(())
    }

    #[inline]
    fn serialize_f64(self, v: f64) -> Result<(), EncodeError> {
        self.0.extend_from_slice(&v.to_bits().to_le_bytes());
        Ok(())
    }

    #[inline]
    fn serialize_char(self, v: char) -> Result<(), EncodeError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result<(), EncodeError> {
        self.serialize_bytes(v.as_bytes())
    }

    #[inline]
    fn serialize_bytes(self, v: &[u8]) -> Result<(), EncodeError> {
        self.len(v.len());
        self.0.extend_string(v);
        Ok(())
    }

    #[inline]
    fn serialize_none(self) -> Result<(), EncodeError> {
        self.0.push(0);
        Ok(())
    }

    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), EncodeError> {
        self.0.push(1);
        value.serialize(self)
    }

    #[inline]
    fn serialize_unit(self) -> Result<(), EncodeError> {
        Ok(())
    }

    #[inline]
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), EncodeError> {
        Ok(())
    }

    #[inline]
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
    ) -> Result<(), EncodeError> {
        self.variant(index);
        Ok(())
    }

    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        value.serialize(self)
    }

    #[inline]
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        self.variant(index);
        value.serialize(self)
    }

    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, EncodeError> {
        self.len(len.ok_or_else(unknown_length)?);
        Ok(self)
    }

    #[inline]
    fn serialize_tuple(self, _len: usize) -> Result<Self, EncodeError> {
        Ok(self)
    }

    #[inline]
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self, EncodeError> {
        Ok(self)
    }

    #[inline]
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self, EncodeError> {
        self.variant(index);
        Ok(self)
    }

    #[inline]
    fn serialize_map(self, len: Option<usize>) -> Result<Self, EncodeError> {
        self.len(len.ok_or_else(unknown_length)?);
        Ok(self)
    }

    #[inline]
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self, EncodeError> {
        Ok(self)
    }

    #[inline]
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, EncodeError> {
        // Named fields travel as a tuple's (the names do not travel).
        self.serialize_tuple_variant(name, index, variant, len)
    }
}

/// postcard's refusal of a sequence or map whose length is not known up front.
#[cold]
fn unknown_length() -> EncodeError {
    EncodeError("the length of a sequence or map must be known up front".into())
}

/// Implements the compound serializers, whose parts follow one another with nothing between.
macro_rules! compound {
    ($($trait:ident :: $method:ident),+) => {$(
        impl<O: EncodeTarget> ser::$trait for &mut Encoder<'_, O> {
            type Ok = ();
            type Error = EncodeError;

            #[inline]
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
                value.serialize(&mut **self)
            }

            #[inline]
            fn end(self) -> Result<(), EncodeError> {
                Ok(())
            }
        }
    )+};
}

compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// Implements the compound serializers of named fields (the names do not travel).
macro_rules! named_compound {
    ($($trait:ident),+) => {$(
        impl<O: EncodeTarget> ser::$trait for &mut Encoder<'_, O> {
            type Ok = ();
            type Error = EncodeError;

            #[inline]
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                _key: &'static str,
                value: &T,
            ) -> Result<(), EncodeError> {
                value.serialize(&mut **self)
            }

            #[inline]
            fn end(self) -> Result<(), EncodeError> {
                Ok(())
            }
        }
    )+};
}

named_compound!(SerializeStruct, SerializeStructVariant);

impl<O: EncodeTarget> ser::SerializeMap for &mut Encoder<'_, O> {
    type Ok = ();
    type Error = EncodeError;

    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EncodeError> {
        key.serialize(&mut **self)
    }

    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        value.serialize(&mut **self)
    }

    #[inline]
    fn end(self) -> Result<(), EncodeError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde::Serialize;

    use super::*;

    /// Ours and postcard's bytes for `value`.
    fn both<T: Serialize>(value: &T) -> (Vec<u8>, Vec<u8>) {
        let mut ours = vec![0xAA];
        encode_into(value, &mut ours).expect("encodes");
        (
            ours[1..].to_vec(),
            postcard::to_allocvec(value).expect("postcard encodes"),
        )
    }

    #[derive(Serialize)]
    enum Shape {
        Unit,
        New(i16),
        Tuple(u8, char),
        Struct { a: Option<f32>, b: Vec<u128> },
    }

    #[derive(Serialize)]
    struct Record {
        id: u64,
        name: String,
        bytes: serde_bytes_like::Bytes,
        shapes: Vec<Shape>,
        map: BTreeMap<i32, bool>,
        unit: (),
        tuple: (i8, i128, f64),
    }

    /// A byte string that serializes as bytes (serde's `serialize_bytes`).
    mod serde_bytes_like {
        pub(super) struct Bytes(pub(super) Vec<u8>);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    #[test]
    fn every_form_is_postcards() {
        let record = Record {
            id: u64::MAX,
            name: "né".into(),
            bytes: serde_bytes_like::Bytes(vec![0, 1, 255]),
            shapes: vec![
                Shape::Unit,
                Shape::New(-300),
                Shape::Tuple(7, '€'),
                Shape::Struct {
                    a: Some(1.5),
                    b: vec![0, u128::MAX, 1 << 70],
                },
                Shape::Struct { a: None, b: vec![] },
            ],
            map: [(-1, true), (i32::MIN, false)].into_iter().collect(),
            unit: (),
            tuple: (i8::MIN, i128::MIN, -0.25),
        };
        let (ours, theirs) = both(&record);
        assert_eq!(ours, theirs);
    }

    /// A sequence whose length is not known up front.
    struct Unsized;

    impl Serialize for Unsized {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq((0..3u8).filter(|_| true))
        }
    }

    #[test]
    fn a_sequence_of_unknown_length_is_refused_as_by_postcard() {
        assert!(postcard::to_allocvec(&Unsized).is_err());
        assert!(encode_into(&Unsized, &mut Vec::new()).is_err());
    }

    proptest! {
        #[test]
        fn integers_are_postcards(u in any::<u64>(), i in any::<i64>(), s in any::<u16>(), shift in 0u32..64) {
            let (ours, theirs) = both(&(u, u >> shift, i, i >> shift, s, u as u32));
            prop_assert_eq!(ours, theirs);
        }
    }
}
