from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="UploadIn")


@_attrs_define
class UploadIn:
    """The direct upload to prepare: the type it will carry and, if known, its size.

    Attributes:
        bytes_ (int | None | Unset): Size you intend to upload; refused early if too large.
        content_type (str | Unset): The Content-Type the upload will carry (signed: it must match). Default:
            'application/octet-stream'.
    """

    bytes_: int | None | Unset = UNSET
    content_type: str | Unset = "application/octet-stream"

    def to_dict(self) -> dict[str, Any]:
        bytes_: int | None | Unset
        if isinstance(self.bytes_, Unset):
            bytes_ = UNSET
        else:
            bytes_ = self.bytes_

        content_type = self.content_type

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if bytes_ is not UNSET:
            field_dict["bytes"] = bytes_
        if content_type is not UNSET:
            field_dict["content_type"] = content_type

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_bytes_(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        bytes_ = _parse_bytes_(d.pop("bytes", UNSET))

        content_type = d.pop("content_type", UNSET)

        upload_in = cls(
            bytes_=bytes_,
            content_type=content_type,
        )

        return upload_in
