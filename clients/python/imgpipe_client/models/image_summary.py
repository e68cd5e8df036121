from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.rendition_out import RenditionOut


T = TypeVar("T", bound="ImageSummary")


@_attrs_define
class ImageSummary:
    """An image as listed: the main facts and renditions, without storage states.

    Attributes:
        bytes_ (int):
        created_at (datetime.datetime): When this customer first sent the image.
        format_ (str):
        height (int):
        id (UUID):
        renditions (list[RenditionOut]):
        sha256 (str):
        url (str): GET it for the full image.
        width (int):
        dominant_color (None | str | Unset): `#rrggbb`.
        thumbhash (None | str | Unset): Base64 ThumbHash placeholder.
    """

    bytes_: int
    created_at: datetime.datetime
    format_: str
    height: int
    id: UUID
    renditions: list[RenditionOut]
    sha256: str
    url: str
    width: int
    dominant_color: None | str | Unset = UNSET
    thumbhash: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        bytes_ = self.bytes_

        created_at = self.created_at.isoformat()

        format_ = self.format_

        height = self.height

        id = str(self.id)

        renditions = []
        for renditions_item_data in self.renditions:
            renditions_item = renditions_item_data.to_dict()
            renditions.append(renditions_item)

        sha256 = self.sha256

        url = self.url

        width = self.width

        dominant_color: None | str | Unset
        if isinstance(self.dominant_color, Unset):
            dominant_color = UNSET
        else:
            dominant_color = self.dominant_color

        thumbhash: None | str | Unset
        if isinstance(self.thumbhash, Unset):
            thumbhash = UNSET
        else:
            thumbhash = self.thumbhash

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "bytes": bytes_,
                "created_at": created_at,
                "format": format_,
                "height": height,
                "id": id,
                "renditions": renditions,
                "sha256": sha256,
                "url": url,
                "width": width,
            }
        )
        if dominant_color is not UNSET:
            field_dict["dominant_color"] = dominant_color
        if thumbhash is not UNSET:
            field_dict["thumbhash"] = thumbhash

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.rendition_out import RenditionOut  # noqa: PLC0415

        d = dict(src_dict)
        bytes_ = d.pop("bytes")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        format_ = d.pop("format")

        height = d.pop("height")

        id = UUID(d.pop("id"))

        renditions = []
        _renditions = d.pop("renditions")
        for renditions_item_data in _renditions:
            renditions_item = RenditionOut.from_dict(renditions_item_data)

            renditions.append(renditions_item)

        sha256 = d.pop("sha256")

        url = d.pop("url")

        width = d.pop("width")

        def _parse_dominant_color(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        dominant_color = _parse_dominant_color(d.pop("dominant_color", UNSET))

        def _parse_thumbhash(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        thumbhash = _parse_thumbhash(d.pop("thumbhash", UNSET))

        image_summary = cls(
            bytes_=bytes_,
            created_at=created_at,
            format_=format_,
            height=height,
            id=id,
            renditions=renditions,
            sha256=sha256,
            url=url,
            width=width,
            dominant_color=dominant_color,
            thumbhash=thumbhash,
        )

        image_summary.additional_properties = d
        return image_summary

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
