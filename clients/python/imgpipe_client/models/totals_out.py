from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.totals_out_rejections_by_reason import TotalsOutRejectionsByReason


T = TypeVar("T", bound="TotalsOut")


@_attrs_define
class TotalsOut:
    """The whole range at once.

    Attributes:
        bytes_in (int):
        bytes_out (int):
        duplicates (int):
        events (int):
        mean_processing_ms (float | None): Over processed events.
        output_ratio (float | None): bytes_out / bytes_in of processed events; null when nothing was processed.
        processed (int): Processed events: new images in the range.
        rejected (int):
        rejections_by_reason (TotalsOutRejectionsByReason):
    """

    bytes_in: int
    bytes_out: int
    duplicates: int
    events: int
    mean_processing_ms: float | None
    output_ratio: float | None
    processed: int
    rejected: int
    rejections_by_reason: TotalsOutRejectionsByReason
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        bytes_in = self.bytes_in

        bytes_out = self.bytes_out

        duplicates = self.duplicates

        events = self.events

        mean_processing_ms: float | None
        mean_processing_ms = self.mean_processing_ms

        output_ratio: float | None
        output_ratio = self.output_ratio

        processed = self.processed

        rejected = self.rejected

        rejections_by_reason = self.rejections_by_reason.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "bytes_in": bytes_in,
                "bytes_out": bytes_out,
                "duplicates": duplicates,
                "events": events,
                "mean_processing_ms": mean_processing_ms,
                "output_ratio": output_ratio,
                "processed": processed,
                "rejected": rejected,
                "rejections_by_reason": rejections_by_reason,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.totals_out_rejections_by_reason import TotalsOutRejectionsByReason  # noqa: PLC0415

        d = dict(src_dict)
        bytes_in = d.pop("bytes_in")

        bytes_out = d.pop("bytes_out")

        duplicates = d.pop("duplicates")

        events = d.pop("events")

        def _parse_mean_processing_ms(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        mean_processing_ms = _parse_mean_processing_ms(d.pop("mean_processing_ms"))

        def _parse_output_ratio(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        output_ratio = _parse_output_ratio(d.pop("output_ratio"))

        processed = d.pop("processed")

        rejected = d.pop("rejected")

        rejections_by_reason = TotalsOutRejectionsByReason.from_dict(d.pop("rejections_by_reason"))

        totals_out = cls(
            bytes_in=bytes_in,
            bytes_out=bytes_out,
            duplicates=duplicates,
            events=events,
            mean_processing_ms=mean_processing_ms,
            output_ratio=output_ratio,
            processed=processed,
            rejected=rejected,
            rejections_by_reason=rejections_by_reason,
        )

        totals_out.additional_properties = d
        return totals_out

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
