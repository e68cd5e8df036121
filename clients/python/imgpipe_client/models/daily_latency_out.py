from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.daily_latency_out_source import DailyLatencyOutSource

T = TypeVar("T", bound="DailyLatencyOut")


@_attrs_define
class DailyLatencyOut:
    """Processing time of one UTC day and source, over its processed events.

    Attributes:
        day (datetime.date):
        events (int): Processed events the percentiles are taken over.
        max_ms (float):
        p50_ms (float):
        p95_ms (float):
        source (DailyLatencyOutSource):
    """

    day: datetime.date
    events: int
    max_ms: float
    p50_ms: float
    p95_ms: float
    source: DailyLatencyOutSource
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        day = self.day.isoformat()

        events = self.events

        max_ms = self.max_ms

        p50_ms = self.p50_ms

        p95_ms = self.p95_ms

        source = self.source.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "day": day,
                "events": events,
                "max_ms": max_ms,
                "p50_ms": p50_ms,
                "p95_ms": p95_ms,
                "source": source,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        day = datetime.date.fromisoformat(d.pop("day"))

        events = d.pop("events")

        max_ms = d.pop("max_ms")

        p50_ms = d.pop("p50_ms")

        p95_ms = d.pop("p95_ms")

        source = DailyLatencyOutSource(d.pop("source"))

        daily_latency_out = cls(
            day=day,
            events=events,
            max_ms=max_ms,
            p50_ms=p50_ms,
            p95_ms=p95_ms,
            source=source,
        )

        daily_latency_out.additional_properties = d
        return daily_latency_out

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
