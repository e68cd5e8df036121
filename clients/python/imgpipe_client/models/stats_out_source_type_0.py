from enum import StrEnum


class StatsOutSourceType0(StrEnum):
    STREAM = "stream"
    UPLOAD = "upload"

    def __str__(self) -> str:
        return str(self.value)
