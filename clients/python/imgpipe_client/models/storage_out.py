from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.restore_out import RestoreOut


T = TypeVar("T", bound="StorageOut")


@_attrs_define
class StorageOut:
    """Where a rendition's object stands: its storage class and whether it can be read now.

    Attributes:
        archived (bool):
        readable (bool): Whether GET .../renditions/{name} can serve it now.
        storage_class (str): STANDARD, DEEP_ARCHIVE, ...
        restore (None | RestoreOut | Unset):
    """

    archived: bool
    readable: bool
    storage_class: str
    restore: None | RestoreOut | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.restore_out import RestoreOut  # noqa: PLC0415

        archived = self.archived

        readable = self.readable

        storage_class = self.storage_class

        restore: dict[str, Any] | None | Unset
        if isinstance(self.restore, Unset):
            restore = UNSET
        elif isinstance(self.restore, RestoreOut):
            restore = self.restore.to_dict()
        else:
            restore = self.restore

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "archived": archived,
                "readable": readable,
                "storage_class": storage_class,
            }
        )
        if restore is not UNSET:
            field_dict["restore"] = restore

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.restore_out import RestoreOut  # noqa: PLC0415

        d = dict(src_dict)
        archived = d.pop("archived")

        readable = d.pop("readable")

        storage_class = d.pop("storage_class")

        def _parse_restore(data: object) -> None | RestoreOut | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                restore_type_0 = RestoreOut.from_dict(data)

                return restore_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RestoreOut | Unset, data)

        restore = _parse_restore(d.pop("restore", UNSET))

        storage_out = cls(
            archived=archived,
            readable=readable,
            storage_class=storage_class,
            restore=restore,
        )

        storage_out.additional_properties = d
        return storage_out

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
