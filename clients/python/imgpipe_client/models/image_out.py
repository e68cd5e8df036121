from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.image_out_match_type_0 import ImageOutMatchType0
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
        content_sha256 (None | str | Unset): Hash of the picture blind to its metadata, `kind:hex` (kind `jpeg`: the
            coded image without APPn/COM segments; `png`: the image chunks; `pixels`: the decoded pixels). Orientation and
            ICC profile are part of the picture. Null for images stored before it was computed.
        dominant_color (None | str | Unset): The image's dominant colour, `#rrggbb`: a background while it loads.
        duplicate (bool | Unset): true when this customer had already sent this image: the same bytes, or the same
            picture with other metadata (see `match`). Nothing new was stored; the answer is the image stored first.
            Default: False.
        duplicate_of (None | Unset | UUID): A duplicate's image: the id of the image this customer sent first (the `id`
            of this answer). Null when not a duplicate.
        match (ImageOutMatchType0 | None | Unset): How a duplicate was found: `exact` (the same bytes) or `content` (the
            same picture, by `content_sha256`, with other metadata). Null when not a duplicate.
        metadata_removed (list[str] | None | Unset): What of the original's metadata no rendition carries (`gps`, `xmp`,
            `exif:MakerNote`, ...), by the metadata policy. Null for images stored before it was recorded.
        taken_at (datetime.datetime | None | Unset):
        thumbhash (None | str | Unset): Base64 ThumbHash (https://evanw.github.io/thumbhash/): a placeholder of about 25
            bytes to show, blurred, while the image loads.
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
    content_sha256: None | str | Unset = UNSET
    dominant_color: None | str | Unset = UNSET
    duplicate: bool | Unset = False
    duplicate_of: None | Unset | UUID = UNSET
    match: ImageOutMatchType0 | None | Unset = UNSET
    metadata_removed: list[str] | None | Unset = UNSET
    taken_at: datetime.datetime | None | Unset = UNSET
    thumbhash: None | str | Unset = UNSET
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

        content_sha256: None | str | Unset
        if isinstance(self.content_sha256, Unset):
            content_sha256 = UNSET
        else:
            content_sha256 = self.content_sha256

        dominant_color: None | str | Unset
        if isinstance(self.dominant_color, Unset):
            dominant_color = UNSET
        else:
            dominant_color = self.dominant_color

        duplicate = self.duplicate

        duplicate_of: None | str | Unset
        if isinstance(self.duplicate_of, Unset):
            duplicate_of = UNSET
        elif isinstance(self.duplicate_of, UUID):
            duplicate_of = str(self.duplicate_of)
        else:
            duplicate_of = self.duplicate_of

        match: None | str | Unset
        if isinstance(self.match, Unset):
            match = UNSET
        elif isinstance(self.match, ImageOutMatchType0):
            match = self.match.value
        else:
            match = self.match

        metadata_removed: list[str] | None | Unset
        if isinstance(self.metadata_removed, Unset):
            metadata_removed = UNSET
        elif isinstance(self.metadata_removed, list):
            metadata_removed = self.metadata_removed

        else:
            metadata_removed = self.metadata_removed

        taken_at: None | str | Unset
        if isinstance(self.taken_at, Unset):
            taken_at = UNSET
        elif isinstance(self.taken_at, datetime.datetime):
            taken_at = self.taken_at.isoformat()
        else:
            taken_at = self.taken_at

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
        if content_sha256 is not UNSET:
            field_dict["content_sha256"] = content_sha256
        if dominant_color is not UNSET:
            field_dict["dominant_color"] = dominant_color
        if duplicate is not UNSET:
            field_dict["duplicate"] = duplicate
        if duplicate_of is not UNSET:
            field_dict["duplicate_of"] = duplicate_of
        if match is not UNSET:
            field_dict["match"] = match
        if metadata_removed is not UNSET:
            field_dict["metadata_removed"] = metadata_removed
        if taken_at is not UNSET:
            field_dict["taken_at"] = taken_at
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

        def _parse_content_sha256(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        content_sha256 = _parse_content_sha256(d.pop("content_sha256", UNSET))

        def _parse_dominant_color(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        dominant_color = _parse_dominant_color(d.pop("dominant_color", UNSET))

        duplicate = d.pop("duplicate", UNSET)

        def _parse_duplicate_of(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                duplicate_of_type_0 = UUID(data)

                return duplicate_of_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        duplicate_of = _parse_duplicate_of(d.pop("duplicate_of", UNSET))

        def _parse_match(data: object) -> ImageOutMatchType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                match_type_0 = ImageOutMatchType0(data)

                return match_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ImageOutMatchType0 | None | Unset, data)

        match = _parse_match(d.pop("match", UNSET))

        def _parse_metadata_removed(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                metadata_removed_type_0 = cast(list[str], data)

                return metadata_removed_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        metadata_removed = _parse_metadata_removed(d.pop("metadata_removed", UNSET))

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

        def _parse_thumbhash(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        thumbhash = _parse_thumbhash(d.pop("thumbhash", UNSET))

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
            content_sha256=content_sha256,
            dominant_color=dominant_color,
            duplicate=duplicate,
            duplicate_of=duplicate_of,
            match=match,
            metadata_removed=metadata_removed,
            taken_at=taken_at,
            thumbhash=thumbhash,
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
