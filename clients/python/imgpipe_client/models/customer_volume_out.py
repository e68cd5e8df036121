from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="CustomerVolumeOut")


@_attrs_define
class CustomerVolumeOut:
    """One customer's events in the range, by status.

    Attributes:
        bytes_in (int):
        bytes_out (int):
        customer_id (str):
        duplicates (int):
        events (int):
        processed (int):
        rejected (int):
    """

    bytes_in: int
    bytes_out: int
    customer_id: str
    duplicates: int
    events: int
    processed: int
    rejected: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        bytes_in = self.bytes_in

        bytes_out = self.bytes_out

        customer_id = self.customer_id

        duplicates = self.duplicates

        events = self.events

        processed = self.processed

        rejected = self.rejected

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "bytes_in": bytes_in,
                "bytes_out": bytes_out,
                "customer_id": customer_id,
                "duplicates": duplicates,
                "events": events,
                "processed": processed,
                "rejected": rejected,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        bytes_in = d.pop("bytes_in")

        bytes_out = d.pop("bytes_out")

        customer_id = d.pop("customer_id")

        duplicates = d.pop("duplicates")

        events = d.pop("events")

        processed = d.pop("processed")

        rejected = d.pop("rejected")

        customer_volume_out = cls(
            bytes_in=bytes_in,
            bytes_out=bytes_out,
            customer_id=customer_id,
            duplicates=duplicates,
            events=events,
            processed=processed,
            rejected=rejected,
        )

        customer_volume_out.additional_properties = d
        return customer_volume_out

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
