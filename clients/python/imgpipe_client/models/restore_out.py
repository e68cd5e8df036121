from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RestoreOut")


@_attrs_define
class RestoreOut:
    """The state of a restore from an archive class (S3's x-amz-restore).

    Attributes:
        expiry (None | str): HTTP date until which the restored copy is readable.
        ongoing (bool | None): true: a restore is running; false: a restored copy is readable until `expiry`; null: no
            restore was requested.
    """

    expiry: None | str
    ongoing: bool | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        expiry: None | str
        expiry = self.expiry

        ongoing: bool | None
        ongoing = self.ongoing

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "expiry": expiry,
                "ongoing": ongoing,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_expiry(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        expiry = _parse_expiry(d.pop("expiry"))

        def _parse_ongoing(data: object) -> bool | None:
            if data is None:
                return data
            return cast(bool | None, data)

        ongoing = _parse_ongoing(d.pop("ongoing"))

        restore_out = cls(
            expiry=expiry,
            ongoing=ongoing,
        )

        restore_out.additional_properties = d
        return restore_out

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
