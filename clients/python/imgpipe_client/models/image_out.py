from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.image_out_source import ImageOutSource
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.rendition_out import RenditionOut


T = TypeVar("T", bound="ImageOut")


@_attrs_define
class ImageOut:
    """An ingested image.

    Attributes:
        bytes_ (int): Size of the original, in bytes.
        created_at (datetime.datetime):
        format_ (str): Format sniffed from the bytes.
        frames (int):
        has_alpha (bool):
        has_gps (bool): Whether the original carried GPS data (never kept).
        height (int):
        id (UUID): UUIDv5 of (customer, sha256): same bytes, same id.
        phash (str): 64-bit perceptual hash (dHash), hex.
        renditions (list[RenditionOut]):
        sha256 (str): SHA-256 of the original bytes, hex.
        source (ImageOutSource):
        width (int):
        camera_make (None | str | Unset):
        camera_model (None | str | Unset):
        duplicate (bool | Unset): true when this customer had already sent these bytes. Default: False.
        taken_at (datetime.datetime | None | Unset):
    """

    bytes_: int
    created_at: datetime.datetime
    format_: str
    frames: int
    has_alpha: bool
    has_gps: bool
    height: int
    id: UUID
    phash: str
    renditions: list[RenditionOut]
    sha256: str
    source: ImageOutSource
    width: int
    camera_make: None | str | Unset = UNSET
    camera_model: None | str | Unset = UNSET
    duplicate: bool | Unset = False
    taken_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        bytes_ = self.bytes_

        created_at = self.created_at.isoformat()

        format_ = self.format_

        frames = self.frames

        has_alpha = self.has_alpha

        has_gps = self.has_gps

        height = self.height

        id = str(self.id)

        phash = self.phash

        renditions = []
        for renditions_item_data in self.renditions:
            renditions_item = renditions_item_data.to_dict()
            renditions.append(renditions_item)

        sha256 = self.sha256

        source = self.source.value

        width = self.width

        camera_make: None | str | Unset
        if isinstance(self.camera_make, Unset):
            camera_make = UNSET
        else:
            camera_make = self.camera_make

        camera_model: None | str | Unset
        if isinstance(self.camera_model, Unset):
            camera_model = UNSET
        else:
            camera_model = self.camera_model

        duplicate = self.duplicate

        taken_at: None | str | Unset
        if isinstance(self.taken_at, Unset):
            taken_at = UNSET
        elif isinstance(self.taken_at, datetime.datetime):
            taken_at = self.taken_at.isoformat()
        else:
            taken_at = self.taken_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "bytes": bytes_,
                "created_at": created_at,
                "format": format_,
                "frames": frames,
                "has_alpha": has_alpha,
                "has_gps": has_gps,
                "height": height,
                "id": id,
                "phash": phash,
                "renditions": renditions,
                "sha256": sha256,
                "source": source,
                "width": width,
            }
        )
        if camera_make is not UNSET:
            field_dict["camera_make"] = camera_make
        if camera_model is not UNSET:
            field_dict["camera_model"] = camera_model
        if duplicate is not UNSET:
            field_dict["duplicate"] = duplicate
        if taken_at is not UNSET:
            field_dict["taken_at"] = taken_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.rendition_out import RenditionOut  # noqa: PLC0415

        d = dict(src_dict)
        bytes_ = d.pop("bytes")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        format_ = d.pop("format")

        frames = d.pop("frames")

        has_alpha = d.pop("has_alpha")

        has_gps = d.pop("has_gps")

        height = d.pop("height")

        id = UUID(d.pop("id"))

        phash = d.pop("phash")

        renditions = []
        _renditions = d.pop("renditions")
        for renditions_item_data in _renditions:
            renditions_item = RenditionOut.from_dict(renditions_item_data)

            renditions.append(renditions_item)

        sha256 = d.pop("sha256")

        source = ImageOutSource(d.pop("source"))

        width = d.pop("width")

        def _parse_camera_make(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        camera_make = _parse_camera_make(d.pop("camera_make", UNSET))

        def _parse_camera_model(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        camera_model = _parse_camera_model(d.pop("camera_model", UNSET))

        duplicate = d.pop("duplicate", UNSET)

        def _parse_taken_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                taken_at_type_0 = datetime.datetime.fromisoformat(data)

                return taken_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        taken_at = _parse_taken_at(d.pop("taken_at", UNSET))

        image_out = cls(
            bytes_=bytes_,
            created_at=created_at,
            format_=format_,
            frames=frames,
            has_alpha=has_alpha,
            has_gps=has_gps,
            height=height,
            id=id,
            phash=phash,
            renditions=renditions,
            sha256=sha256,
            source=source,
            width=width,
            camera_make=camera_make,
            camera_model=camera_model,
            duplicate=duplicate,
            taken_at=taken_at,
        )

        image_out.additional_properties = d
        return image_out

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
