from enum import StrEnum


class ImageOutSource(StrEnum):
    STREAM = "stream"
    UPLOAD = "upload"

    def __str__(self) -> str:
        return str(self.value)
