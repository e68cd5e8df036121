from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.upload_out_method import UploadOutMethod

if TYPE_CHECKING:
    from ..models.upload_out_fields import UploadOutFields
    from ..models.upload_out_headers import UploadOutHeaders


T = TypeVar("T", bound="UploadOut")


@_attrs_define
class UploadOut:
    """How to send the image straight to storage, and where to say you are done.

    Attributes:
        complete_url (str): POST here once the upload is done.
        expires_in (int): Seconds the URL stays valid (at most 900).
        fields (UploadOutFields):
        headers (UploadOutHeaders):
        max_bytes (int):
        method (UploadOutMethod): PUT: send the bytes as the body with `headers`. POST: send a multipart form with
            `fields` and then the file as the last part, named `file`.
        upload_id (str):
        url (str):
    """

    complete_url: str
    expires_in: int
    fields: UploadOutFields
    headers: UploadOutHeaders
    max_bytes: int
    method: UploadOutMethod
    upload_id: str
    url: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        complete_url = self.complete_url

        expires_in = self.expires_in

        fields = self.fields.to_dict()

        headers = self.headers.to_dict()

        max_bytes = self.max_bytes

        method = self.method.value

        upload_id = self.upload_id

        url = self.url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "complete_url": complete_url,
                "expires_in": expires_in,
                "fields": fields,
                "headers": headers,
                "max_bytes": max_bytes,
                "method": method,
                "upload_id": upload_id,
                "url": url,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.upload_out_fields import UploadOutFields  # noqa: PLC0415
        from ..models.upload_out_headers import UploadOutHeaders  # noqa: PLC0415

        d = dict(src_dict)
        complete_url = d.pop("complete_url")

        expires_in = d.pop("expires_in")

        fields = UploadOutFields.from_dict(d.pop("fields"))

        headers = UploadOutHeaders.from_dict(d.pop("headers"))

        max_bytes = d.pop("max_bytes")

        method = UploadOutMethod(d.pop("method"))

        upload_id = d.pop("upload_id")

        url = d.pop("url")

        upload_out = cls(
            complete_url=complete_url,
            expires_in=expires_in,
            fields=fields,
            headers=headers,
            max_bytes=max_bytes,
            method=method,
            upload_id=upload_id,
            url=url,
        )

        upload_out.additional_properties = d
        return upload_out

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
