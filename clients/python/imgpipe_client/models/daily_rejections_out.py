from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.daily_rejections_out_source import DailyRejectionsOutSource

T = TypeVar("T", bound="DailyRejectionsOut")


@_attrs_define
class DailyRejectionsOut:
    """Refusals of one UTC day and source, for one reason.

    Attributes:
        day (datetime.date):
        events (int):
        reason (str): The refusal's code, e.g. undecodable, unsupported_format.
        source (DailyRejectionsOutSource):
    """

    day: datetime.date
    events: int
    reason: str
    source: DailyRejectionsOutSource
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        day = self.day.isoformat()

        events = self.events

        reason = self.reason

        source = self.source.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "day": day,
                "events": events,
                "reason": reason,
                "source": source,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        day = datetime.date.fromisoformat(d.pop("day"))

        events = d.pop("events")

        reason = d.pop("reason")

        source = DailyRejectionsOutSource(d.pop("source"))

        daily_rejections_out = cls(
            day=day,
            events=events,
            reason=reason,
            source=source,
        )

        daily_rejections_out.additional_properties = d
        return daily_rejections_out

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
