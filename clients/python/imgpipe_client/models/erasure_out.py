from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.removed_out import RemovedOut
    from ..models.scheduled_out import ScheduledOut


T = TypeVar("T", bound="ErasureOut")


@_attrs_define
class ErasureOut:
    """The receipt of an erasure.

    Attributes:
        completed_at (datetime.datetime | None):
        customer_id (str):
        erasure_fact (str): The fact object the loader applies; it names the image id only.
        erasure_id (str): The erasure's id: image.deleted events carry it.
        image_id (str):
        note (str):
        removed (RemovedOut): What storage no longer holds.
        requested_at (datetime.datetime):
        scheduled (list[ScheduledOut]):
    """

    completed_at: datetime.datetime | None
    customer_id: str
    erasure_fact: str
    erasure_id: str
    image_id: str
    note: str
    removed: RemovedOut
    requested_at: datetime.datetime
    scheduled: list[ScheduledOut]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        completed_at: None | str
        if isinstance(self.completed_at, datetime.datetime):
            completed_at = self.completed_at.isoformat()
        else:
            completed_at = self.completed_at

        customer_id = self.customer_id

        erasure_fact = self.erasure_fact

        erasure_id = self.erasure_id

        image_id = self.image_id

        note = self.note

        removed = self.removed.to_dict()

        requested_at = self.requested_at.isoformat()

        scheduled = []
        for scheduled_item_data in self.scheduled:
            scheduled_item = scheduled_item_data.to_dict()
            scheduled.append(scheduled_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "completed_at": completed_at,
                "customer_id": customer_id,
                "erasure_fact": erasure_fact,
                "erasure_id": erasure_id,
                "image_id": image_id,
                "note": note,
                "removed": removed,
                "requested_at": requested_at,
                "scheduled": scheduled,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.removed_out import RemovedOut  # noqa: PLC0415
        from ..models.scheduled_out import ScheduledOut  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_completed_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                completed_at_type_0 = datetime.datetime.fromisoformat(data)

                return completed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        completed_at = _parse_completed_at(d.pop("completed_at"))

        customer_id = d.pop("customer_id")

        erasure_fact = d.pop("erasure_fact")

        erasure_id = d.pop("erasure_id")

        image_id = d.pop("image_id")

        note = d.pop("note")

        removed = RemovedOut.from_dict(d.pop("removed"))

        requested_at = datetime.datetime.fromisoformat(d.pop("requested_at"))

        scheduled = []
        _scheduled = d.pop("scheduled")
        for scheduled_item_data in _scheduled:
            scheduled_item = ScheduledOut.from_dict(scheduled_item_data)

            scheduled.append(scheduled_item)

        erasure_out = cls(
            completed_at=completed_at,
            customer_id=customer_id,
            erasure_fact=erasure_fact,
            erasure_id=erasure_id,
            image_id=image_id,
            note=note,
            removed=removed,
            requested_at=requested_at,
            scheduled=scheduled,
        )

        erasure_out.additional_properties = d
        return erasure_out

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
