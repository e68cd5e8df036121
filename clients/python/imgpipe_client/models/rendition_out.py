from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.storage_out import StorageOut


T = TypeVar("T", bound="RenditionOut")


@_attrs_define
class RenditionOut:
    """One rendition of an image: its size, type and where to fetch it.

    Attributes:
        bytes_ (int):
        content_type (str):
        height (int):
        name (str):
        url (str): GET it: a redirect to a short-lived URL, or the bytes.
        width (int):
        storage (None | StorageOut | Unset): Where the object stands (GET of an image only).
    """

    bytes_: int
    content_type: str
    height: int
    name: str
    url: str
    width: int
    storage: None | StorageOut | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.storage_out import StorageOut  # noqa: PLC0415

        bytes_ = self.bytes_

        content_type = self.content_type

        height = self.height

        name = self.name

        url = self.url

        width = self.width

        storage: dict[str, Any] | None | Unset
        if isinstance(self.storage, Unset):
            storage = UNSET
        elif isinstance(self.storage, StorageOut):
            storage = self.storage.to_dict()
        else:
            storage = self.storage

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "bytes": bytes_,
                "content_type": content_type,
                "height": height,
                "name": name,
                "url": url,
                "width": width,
            }
        )
        if storage is not UNSET:
            field_dict["storage"] = storage

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.storage_out import StorageOut  # noqa: PLC0415

        d = dict(src_dict)
        bytes_ = d.pop("bytes")

        content_type = d.pop("content_type")

        height = d.pop("height")

        name = d.pop("name")

        url = d.pop("url")

        width = d.pop("width")

        def _parse_storage(data: object) -> None | StorageOut | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                storage_type_0 = StorageOut.from_dict(data)

                return storage_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | StorageOut | Unset, data)

        storage = _parse_storage(d.pop("storage", UNSET))

        rendition_out = cls(
            bytes_=bytes_,
            content_type=content_type,
            height=height,
            name=name,
            url=url,
            width=width,
            storage=storage,
        )

        rendition_out.additional_properties = d
        return rendition_out

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
