from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.restore_in_tier import RestoreInTier
from ..types import UNSET, Unset

T = TypeVar("T", bound="RestoreIn")


@_attrs_define
class RestoreIn:
    """What to restore from the archive, how fast and for how long.

    Attributes:
        days (int | None | Unset): Days the copy stays readable (default 7).
        renditions (list[str] | None | Unset): Renditions to restore; all archived ones when omitted.
        tier (RestoreInTier | Unset): Bulk: within 48 h, cheapest. Standard: within 12 h. Default: RestoreInTier.BULK.
    """

    days: int | None | Unset = UNSET
    renditions: list[str] | None | Unset = UNSET
    tier: RestoreInTier | Unset = RestoreInTier.BULK

    def to_dict(self) -> dict[str, Any]:
        days: int | None | Unset
        if isinstance(self.days, Unset):
            days = UNSET
        else:
            days = self.days

        renditions: list[str] | None | Unset
        if isinstance(self.renditions, Unset):
            renditions = UNSET
        elif isinstance(self.renditions, list):
            renditions = self.renditions

        else:
            renditions = self.renditions

        tier: str | Unset = UNSET
        if not isinstance(self.tier, Unset):
            tier = self.tier.value

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if days is not UNSET:
            field_dict["days"] = days
        if renditions is not UNSET:
            field_dict["renditions"] = renditions
        if tier is not UNSET:
            field_dict["tier"] = tier

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_days(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        days = _parse_days(d.pop("days", UNSET))

        def _parse_renditions(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                renditions_type_0 = cast(list[str], data)

                return renditions_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        renditions = _parse_renditions(d.pop("renditions", UNSET))

        _tier = d.pop("tier", UNSET)
        tier: RestoreInTier | Unset
        if isinstance(_tier, Unset):
            tier = UNSET
        else:
            tier = RestoreInTier(_tier)

        restore_in = cls(
            days=days,
            renditions=renditions,
            tier=tier,
        )

        return restore_in
