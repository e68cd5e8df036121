from enum import StrEnum


class DailyRejectionsOutSource(StrEnum):
    STREAM = "stream"
    UPLOAD = "upload"

    def __str__(self) -> str:
        return str(self.value)
