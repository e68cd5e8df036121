from enum import StrEnum


class DailyVolumeOutStatus(StrEnum):
    DUPLICATE = "duplicate"
    PROCESSED = "processed"
    REJECTED = "rejected"

    def __str__(self) -> str:
        return str(self.value)
