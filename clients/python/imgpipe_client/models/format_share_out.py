from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="FormatShareOut")


@_attrs_define
class FormatShareOut:
    """Accepted events of one source image format.

    Attributes:
        bytes_in (int):
        bytes_out (int):
        events (int):
        format_ (str): Source image format of accepted events.
        new_images (int):
    """

    bytes_in: int
    bytes_out: int
    events: int
    format_: str
    new_images: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        bytes_in = self.bytes_in

        bytes_out = self.bytes_out

        events = self.events

        format_ = self.format_

        new_images = self.new_images

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "bytes_in": bytes_in,
                "bytes_out": bytes_out,
                "events": events,
                "format": format_,
                "new_images": new_images,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        bytes_in = d.pop("bytes_in")

        bytes_out = d.pop("bytes_out")

        events = d.pop("events")

        format_ = d.pop("format")

        new_images = d.pop("new_images")

        format_share_out = cls(
            bytes_in=bytes_in,
            bytes_out=bytes_out,
            events=events,
            format_=format_,
            new_images=new_images,
        )

        format_share_out.additional_properties = d
        return format_share_out

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
