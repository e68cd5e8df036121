from enum import StrEnum


class GetStatsSourceType0(StrEnum):
    STREAM = "stream"
    UPLOAD = "upload"

    def __str__(self) -> str:
        return str(self.value)
