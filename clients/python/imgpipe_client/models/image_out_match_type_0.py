from enum import StrEnum


class ImageOutMatchType0(StrEnum):
    CONTENT = "content"
    EXACT = "exact"

    def __str__(self) -> str:
        return str(self.value)
