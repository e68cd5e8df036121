from enum import StrEnum


class DailyVolumeOutSource(StrEnum):
    STREAM = "stream"
    UPLOAD = "upload"

    def __str__(self) -> str:
        return str(self.value)
