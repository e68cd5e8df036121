from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.daily_volume_out_source import DailyVolumeOutSource
from ..models.daily_volume_out_status import DailyVolumeOutStatus

T = TypeVar("T", bound="DailyVolumeOut")


@_attrs_define
class DailyVolumeOut:
    """Events of one UTC day, source and status.

    Attributes:
        bytes_in (int):
        bytes_out (int):
        day (datetime.date):
        events (int):
        images (int): Distinct images that day.
        processing_ms_total (float):
        source (DailyVolumeOutSource):
        status (DailyVolumeOutStatus):
    """

    bytes_in: int
    bytes_out: int
    day: datetime.date
    events: int
    images: int
    processing_ms_total: float
    source: DailyVolumeOutSource
    status: DailyVolumeOutStatus
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        bytes_in = self.bytes_in

        bytes_out = self.bytes_out

        day = self.day.isoformat()

        events = self.events

        images = self.images

        processing_ms_total = self.processing_ms_total

        source = self.source.value

        status = self.status.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "bytes_in": bytes_in,
                "bytes_out": bytes_out,
                "day": day,
                "events": events,
                "images": images,
                "processing_ms_total": processing_ms_total,
                "source": source,
                "status": status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        bytes_in = d.pop("bytes_in")

        bytes_out = d.pop("bytes_out")

        day = datetime.date.fromisoformat(d.pop("day"))

        events = d.pop("events")

        images = d.pop("images")

        processing_ms_total = d.pop("processing_ms_total")

        source = DailyVolumeOutSource(d.pop("source"))

        status = DailyVolumeOutStatus(d.pop("status"))

        daily_volume_out = cls(
            bytes_in=bytes_in,
            bytes_out=bytes_out,
            day=day,
            events=events,
            images=images,
            processing_ms_total=processing_ms_total,
            source=source,
            status=status,
        )

        daily_volume_out.additional_properties = d
        return daily_volume_out

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
