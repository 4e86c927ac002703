"""Convert between Python values and ZetaSQL ``Value`` protos for the zetasql engine."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from zetasql.types import TypeKind, Value

#: Harness logical type -> ZetaSQL type kind (BigQuery has one integer and one float type).
TYPE_KINDS = {
    "string": TypeKind.TYPE_STRING,
    "int64": TypeKind.TYPE_INT64,
    "int32": TypeKind.TYPE_INT64,
    "double": TypeKind.TYPE_DOUBLE,
    "bool": TypeKind.TYPE_BOOL,
    "timestamp": TypeKind.TYPE_TIMESTAMP,
    "date": TypeKind.TYPE_DATE,
}
_EPOCH = dt.date(1970, 1, 1)


def to_value(value: Any, logical: str) -> Value:
    """Build the ZetaSQL value of one cell; naive timestamps are taken as UTC."""
    if value is None:
        return Value()
    if logical == "string":
        return Value(string_value=value)
    if logical in ("int64", "int32"):
        return Value(int64_value=int(value))
    if logical == "double":
        return Value(double_value=float(value))
    if logical == "bool":
        return Value(bool_value=bool(value))
    if logical == "timestamp":
        stamp = Timestamp()
        stamp.FromDatetime(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
        return Value(timestamp_value=stamp)
    if logical == "date":
        return Value(date_value=(value - _EPOCH).days)
    raise TypeError(f"no ZetaSQL value for logical type {logical}")


def _scaled_integer(raw: bytes, scale: int) -> decimal.Decimal:
    # NUMERIC / BIGNUMERIC: little-endian two's complement of value * 10**scale.
    return decimal.Decimal(int.from_bytes(raw, "little", signed=True)).scaleb(-scale)


def _datetime(packed: int, nanos: int) -> dt.datetime:
    # ZetaSQL packs DATETIME as year<<26 | month<<22 | day<<17 | hour<<12 | minute<<6 | second.
    return dt.datetime(
        packed >> 26,
        (packed >> 22) & 0xF,
        (packed >> 17) & 0x1F,
        (packed >> 12) & 0x1F,
        (packed >> 6) & 0x3F,
        packed & 0x3F,
        (nanos or 0) // 1000,
    )


def from_value(value: Any, type_: Any) -> Any:
    """Turn a raw ``ValueProto`` into a plain Python value; ``type_`` is its column type.

    Timestamps become aware UTC datetimes, NUMERIC/BIGNUMERIC become Decimals, DATETIME a
    naive datetime, arrays lists and structs dicts. A value with nothing set is NULL (an
    empty list for arrays, as BigQuery returns).
    """
    which = value.WhichOneof("value")
    if which is None:
        return [] if type_.type_kind == TypeKind.TYPE_ARRAY else None
    if which == "timestamp_value":
        return value.timestamp_value.ToDatetime(tzinfo=dt.UTC)
    if which == "date_value":
        return _EPOCH + dt.timedelta(days=value.date_value)
    if which == "datetime_value":
        packed = value.datetime_value
        return _datetime(packed.bit_field_datetime_seconds, packed.nanos)
    if which == "numeric_value":
        return _scaled_integer(value.numeric_value, 9)
    if which == "bignumeric_value":
        return _scaled_integer(value.bignumeric_value, 38)
    if which == "array_value":
        element = type_.array_type.element_type
        return [from_value(v, element) for v in value.array_value.element]
    if which == "struct_value":
        fields = type_.struct_type.field
        return {f.field_name: from_value(v, f.field_type)
                for f, v in zip(fields, value.struct_value.field, strict=True)}  # fmt: skip
    return getattr(value, which)
