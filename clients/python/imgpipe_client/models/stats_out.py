from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.stats_out_source_type_0 import StatsOutSourceType0

if TYPE_CHECKING:
    from ..models.customer_volume_out import CustomerVolumeOut
    from ..models.daily_latency_out import DailyLatencyOut
    from ..models.daily_rejections_out import DailyRejectionsOut
    from ..models.daily_volume_out import DailyVolumeOut
    from ..models.format_share_out import FormatShareOut
    from ..models.totals_out import TotalsOut


T = TypeVar("T", bound="StatsOut")


@_attrs_define
class StatsOut:
    """The key statistics of a range, from the same views the QuickSight data sets read.

    Attributes:
        customer_id (None | str): The customer the numbers are of; null: all.
        customers (list[CustomerVolumeOut]): Top customers by events.
        daily (list[DailyVolumeOut]): Per UTC day, source and status.
        formats (list[FormatShareOut]): Accepted events per source format.
        latency (list[DailyLatencyOut]): Processing time of processed events per day and source (percentiles cannot be
            added up, so there is no total).
        rejections (list[DailyRejectionsOut]): Per day, source and reason.
        since (datetime.date | None): First UTC day included (`from`); null: no bound.
        source (None | StatsOutSourceType0): The source filter; null: both.
        totals (TotalsOut): The whole range at once.
        until (datetime.date | None): Last UTC day included (`to`); null: no bound.
    """

    customer_id: None | str
    customers: list[CustomerVolumeOut]
    daily: list[DailyVolumeOut]
    formats: list[FormatShareOut]
    latency: list[DailyLatencyOut]
    rejections: list[DailyRejectionsOut]
    since: datetime.date | None
    source: None | StatsOutSourceType0
    totals: TotalsOut
    until: datetime.date | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        customer_id: None | str
        customer_id = self.customer_id

        customers = []
        for customers_item_data in self.customers:
            customers_item = customers_item_data.to_dict()
            customers.append(customers_item)

        daily = []
        for daily_item_data in self.daily:
            daily_item = daily_item_data.to_dict()
            daily.append(daily_item)

        formats = []
        for formats_item_data in self.formats:
            formats_item = formats_item_data.to_dict()
            formats.append(formats_item)

        latency = []
        for latency_item_data in self.latency:
            latency_item = latency_item_data.to_dict()
            latency.append(latency_item)

        rejections = []
        for rejections_item_data in self.rejections:
            rejections_item = rejections_item_data.to_dict()
            rejections.append(rejections_item)

        since: None | str
        if isinstance(self.since, datetime.date):
            since = self.since.isoformat()
        else:
            since = self.since

        source: None | str
        if isinstance(self.source, StatsOutSourceType0):
            source = self.source.value
        else:
            source = self.source

        totals = self.totals.to_dict()

        until: None | str
        if isinstance(self.until, datetime.date):
            until = self.until.isoformat()
        else:
            until = self.until

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "customer_id": customer_id,
                "customers": customers,
                "daily": daily,
                "formats": formats,
                "latency": latency,
                "rejections": rejections,
                "since": since,
                "source": source,
                "totals": totals,
                "until": until,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.customer_volume_out import CustomerVolumeOut  # noqa: PLC0415
        from ..models.daily_latency_out import DailyLatencyOut  # noqa: PLC0415
        from ..models.daily_rejections_out import DailyRejectionsOut  # noqa: PLC0415
        from ..models.daily_volume_out import DailyVolumeOut  # noqa: PLC0415
        from ..models.format_share_out import FormatShareOut  # noqa: PLC0415
        from ..models.totals_out import TotalsOut  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_customer_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        customer_id = _parse_customer_id(d.pop("customer_id"))

        customers = []
        _customers = d.pop("customers")
        for customers_item_data in _customers:
            customers_item = CustomerVolumeOut.from_dict(customers_item_data)

            customers.append(customers_item)

        daily = []
        _daily = d.pop("daily")
        for daily_item_data in _daily:
            daily_item = DailyVolumeOut.from_dict(daily_item_data)

            daily.append(daily_item)

        formats = []
        _formats = d.pop("formats")
        for formats_item_data in _formats:
            formats_item = FormatShareOut.from_dict(formats_item_data)

            formats.append(formats_item)

        latency = []
        _latency = d.pop("latency")
        for latency_item_data in _latency:
            latency_item = DailyLatencyOut.from_dict(latency_item_data)

            latency.append(latency_item)

        rejections = []
        _rejections = d.pop("rejections")
        for rejections_item_data in _rejections:
            rejections_item = DailyRejectionsOut.from_dict(rejections_item_data)

            rejections.append(rejections_item)

        def _parse_since(data: object) -> datetime.date | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                since_type_0 = datetime.date.fromisoformat(data)

                return since_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None, data)

        since = _parse_since(d.pop("since"))

        def _parse_source(data: object) -> None | StatsOutSourceType0:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                source_type_0 = StatsOutSourceType0(data)

                return source_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | StatsOutSourceType0, data)

        source = _parse_source(d.pop("source"))

        totals = TotalsOut.from_dict(d.pop("totals"))

        def _parse_until(data: object) -> datetime.date | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                until_type_0 = datetime.date.fromisoformat(data)

                return until_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None, data)

        until = _parse_until(d.pop("until"))

        stats_out = cls(
            customer_id=customer_id,
            customers=customers,
            daily=daily,
            formats=formats,
            latency=latency,
            rejections=rejections,
            since=since,
            source=source,
            totals=totals,
            until=until,
        )

        stats_out.additional_properties = d
        return stats_out

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
