from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.removed_out_objects import RemovedOutObjects


T = TypeVar("T", bound="RemovedOut")


@_attrs_define
class RemovedOut:
    """What storage no longer holds.

    Attributes:
        fact_events_unlinked (int): Ingest events kept for the statistics, with its image id cleared.
        fact_objects_deleted (int): Fact log objects that held only its rows.
        fact_objects_rewritten (int): Fact log objects rewritten without it.
        fact_rows_removed (int): Its image and rendition rows in the fact log.
        objects (RemovedOutObjects): Deleted object keys by what they were: manifest, renditions, content_index,
            idempotency, dead_letters, uploads, rejected_facts.
    """

    fact_events_unlinked: int
    fact_objects_deleted: int
    fact_objects_rewritten: int
    fact_rows_removed: int
    objects: RemovedOutObjects
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        fact_events_unlinked = self.fact_events_unlinked

        fact_objects_deleted = self.fact_objects_deleted

        fact_objects_rewritten = self.fact_objects_rewritten

        fact_rows_removed = self.fact_rows_removed

        objects = self.objects.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "fact_events_unlinked": fact_events_unlinked,
                "fact_objects_deleted": fact_objects_deleted,
                "fact_objects_rewritten": fact_objects_rewritten,
                "fact_rows_removed": fact_rows_removed,
                "objects": objects,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.removed_out_objects import RemovedOutObjects  # noqa: PLC0415

        d = dict(src_dict)
        fact_events_unlinked = d.pop("fact_events_unlinked")

        fact_objects_deleted = d.pop("fact_objects_deleted")

        fact_objects_rewritten = d.pop("fact_objects_rewritten")

        fact_rows_removed = d.pop("fact_rows_removed")

        objects = RemovedOutObjects.from_dict(d.pop("objects"))

        removed_out = cls(
            fact_events_unlinked=fact_events_unlinked,
            fact_objects_deleted=fact_objects_deleted,
            fact_objects_rewritten=fact_objects_rewritten,
            fact_rows_removed=fact_rows_removed,
            objects=objects,
        )

        removed_out.additional_properties = d
        return removed_out

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
