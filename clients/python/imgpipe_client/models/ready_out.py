from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.ready_out_checks import ReadyOutChecks


T = TypeVar("T", bound="ReadyOut")


@_attrs_define
class ReadyOut:
    """The process can reach object storage; `checks` has an entry for it and one for the
    warehouse (informational: lists and statistics lag while it is down, uploads do not).

        Attributes:
            checks (ReadyOutChecks):
            status (Literal['ready'] | Unset):  Default: 'ready'.
            warehouse_lag_seconds (float | None | Unset): Age of the oldest fact not loaded into the warehouse yet: how far
                lists and statistics lag behind ingest. Null when the warehouse does not answer.
    """

    checks: ReadyOutChecks
    status: Literal["ready"] | Unset = "ready"
    warehouse_lag_seconds: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        checks = self.checks.to_dict()

        status = self.status

        warehouse_lag_seconds: float | None | Unset
        if isinstance(self.warehouse_lag_seconds, Unset):
            warehouse_lag_seconds = UNSET
        else:
            warehouse_lag_seconds = self.warehouse_lag_seconds

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "checks": checks,
            }
        )
        if status is not UNSET:
            field_dict["status"] = status
        if warehouse_lag_seconds is not UNSET:
            field_dict["warehouse_lag_seconds"] = warehouse_lag_seconds

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.ready_out_checks import ReadyOutChecks  # noqa: PLC0415

        d = dict(src_dict)
        checks = ReadyOutChecks.from_dict(d.pop("checks"))

        status = cast(Literal["ready"] | Unset, d.pop("status", UNSET))
        if status != "ready" and not isinstance(status, Unset):
            raise ValueError(f"status must match const 'ready', got '{status}'")

        def _parse_warehouse_lag_seconds(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        warehouse_lag_seconds = _parse_warehouse_lag_seconds(d.pop("warehouse_lag_seconds", UNSET))

        ready_out = cls(
            checks=checks,
            status=status,
            warehouse_lag_seconds=warehouse_lag_seconds,
        )

        ready_out.additional_properties = d
        return ready_out

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
